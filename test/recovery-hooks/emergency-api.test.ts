// The emergency shutdown through the Masakari API, in a dry-run pool: the scope it needs, payloads refused with the
// field named, a dry run that changes nothing (and says so in every step), a second trigger while the first runs
// that does not start another shutdown, and a dry-run resume; then the same through the CLI.
import t from 'tap';
import { emergencyResumeCommand, emergencyShutdownCommand } from '../../cli/emergency.js';
import { HelpRequested, UsageError } from '../../cli/usage.js';
import { TOKEN, notification, progressLines, settled, startRig } from './helpers/sim-rig.js';

const WRITER = 'writer-token-0123456789';
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, '');

t.test('XCP_EMERGENCY_SHUTDOWN through the API (dry-run pool)', async (t) => {
  const rig = await startRig(t, {
    pool: { mode: 'dry-run', fencing: false },
    recoveryHook: {
      tokens: [
        { name: 'test', token: TOKEN, scopes: ['alertmanager', 'notifications:read', 'notifications:write', 'emergency:shutdown'] },
        { name: 'writer', token: WRITER, scopes: ['notifications:read', 'notifications:write'] },
      ],
    },
  });
  const hook = rig.hook!;
  const master = rig.hosts.find((h) => h.master)!;
  const post = (payload: unknown, token = TOKEN, at = Date.now()) =>
    hook.request('POST', '/v1/notifications', {
      auth: false,
      headers: { 'X-Auth-Token': token },
      body: { notification: { type: 'XCP_EMERGENCY_SHUTDOWN', hostname: master.name, generated_time: iso(at), payload } },
    });

  const denied = await post({ event: 'POWER_LOST' }, WRITER);
  t.equal(denied.status, 403, 'notifications:write alone may not halt a pool');
  t.match(denied.text, /emergency:shutdown/);

  for (const [payload, field] of [
    [{ event: 'POWER_GONE' }, 'payload/event'],
    [{ event: 'POWER_LOST', runtime_seconds: -5 }, 'payload/runtime_seconds'],
    [{ event: 'POWER_LOST', runtime_seconds: '300' }, 'payload/runtime_seconds'],
    [{ event: 'POWER_LOST', scope: 'rack' }, 'payload/scope'],
    [{ event: 'POWER_LOST', host: 'x' }, 'payload'],
    [{ scope: 'pool' }, 'payload'],
  ] as const) {
    const res = await post(payload);
    t.equal(res.status, 400, `${JSON.stringify(payload)} refused`);
    t.match(res.text, `Invalid input for field/attribute ${field}.`, `names ${field}`);
  }

  const truthBefore = await rig.control('/sim/truth');
  const statusBefore = await rig.control('/sim');
  // Two triggers, the second while the first runs (another UPS alert, another runtime): one shutdown.
  const first = await post({ event: 'POWER_LOST', runtime_seconds: 600, source: 'ups-a' });
  const second = await post({ event: 'POWER_LOST', runtime_seconds: 590, source: 'ups-b' });
  t.equal(first.status, 202);
  t.equal(second.status, 202);
  const one = await settled(hook, first.json.notification.notification_uuid);
  const two = await settled(hook, second.json.notification.notification_uuid);
  t.equal(one.status, 'finished', one.message);
  t.match(one.message, /^dry-run: nothing was changed; would suspend \d+ VM\(s\); 3 host\(s\) would be halted$/);
  const lines = progressLines(one);
  t.ok(
    lines.some((l) => /^suspend_vms: dry-run: would suspend VM \S+ on \S+ \(VM\.suspend\)$/.test(l)),
    'each suspend is a "would"',
  );
  t.ok(
    lines.some((l) => /^halt_hosts: dry-run: would halt host \S+ \(the master, last\) \(host\.shutdown\)$/.test(l)),
    'the master halt is a "would", last',
  );
  t.notOk(
    lines.some((l) => /^(suspend_vms|halt_hosts): (suspend|halt|disable|hard-shut|shut down) /.test(l)),
    'no line reads as if it acted',
  );
  t.equal(two.status, 'ignored');
  t.match(two.message, `a repeat of emergency notification ${first.json.notification.notification_uuid}`);

  const statusAfter = await rig.control('/sim');
  t.same(statusAfter.vms, statusBefore.vms, 'no VM changed power state');
  t.same(
    statusAfter.hosts.map((h: any) => [h.name, h.power, h.enabled]),
    statusBefore.hosts.map((h: any) => [h.name, h.power, h.enabled]),
    'every host still powered and enabled',
  );
  t.same((await rig.control('/sim/truth')).hosts, { ...truthBefore, at: undefined }.hosts, 'the hypervisors run what they ran');

  const resume = await post({ event: 'POWER_RESTORED' });
  t.equal(resume.status, 202);
  const back = await settled(hook, resume.json.notification.notification_uuid);
  t.equal(back.status, 'finished', back.message);
  t.ok(progressLines(back).some((l) => l === 'power_on_hosts: dry-run: would wait for the hosts to be live'));
  const listed = await notification(hook, resume.json.notification.notification_uuid);
  t.match(listed, { type: 'XCP_EMERGENCY_SHUTDOWN', payload: { event: 'POWER_RESTORED' } });

  // ---- the CLI, in process, against this receiver ----
  const run = async (command: typeof emergencyShutdownCommand, args: string[]) => {
    const out: string[] = [];
    const [write, errWrite] = [process.stdout.write, process.stderr.write];
    process.stdout.write = process.stderr.write = ((s: string) => {
      out.push(s);
      return true;
    }) as typeof process.stdout.write;
    try {
      return { code: await command(args, { XCP_SENTINEL_TOKEN: TOKEN }), out: out.join('') };
    } finally {
      [process.stdout.write, process.stderr.write] = [write, errWrite];
    }
  };
  await t.rejects(emergencyShutdownCommand(['--help']), HelpRequested, '--help');
  await t.rejects(emergencyShutdownCommand(['--url', hook.url], { XCP_SENTINEL_TOKEN: TOKEN }), UsageError, '--pool is required');
  await t.rejects(
    emergencyResumeCommand(['--pool', rig.poolName, '--runtime', '60'], { XCP_SENTINEL_TOKEN: TOKEN }),
    UsageError,
    'no --runtime for the resume',
  );
  await t.rejects(emergencyShutdownCommand(['--pool', rig.poolName], {}), UsageError, 'no token');
  const cliDown = await run(emergencyShutdownCommand, ['--pool', rig.poolName, '--url', hook.url, '--runtime', '300', '--wait']);
  t.equal(cliDown.code, 0, cliDown.out);
  t.match(cliDown.out, /suspend_vms: dry-run: would suspend VM /);
  t.match(cliDown.out, /finished: dry-run: nothing was changed/);
  const cliUp = await run(emergencyResumeCommand, ['--pool', rig.poolName, '--url', hook.url, '--wait']);
  t.equal(cliUp.code, 0, cliUp.out);
  t.match(cliUp.out, /plan_resume: resuming after emergency shutdown /);
  const unknown = await run(emergencyShutdownCommand, ['--pool', rig.poolName, '--host', 'no-such-host', '--url', hook.url]);
  t.equal(unknown.code, 1);
  t.match(unknown.out, 'Host with name no-such-host could not be found.');
});
