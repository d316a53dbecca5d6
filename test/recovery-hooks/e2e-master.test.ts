// End to end, pool master loss: the receiver (real XAPI client, real CommandFencer running the simulator's CLI as the
// BMC, SQLite store) gets XcpPoolMasterLost for the simulated pool's master and runs the master failover
// (recovery-hooks/workflows/master.ts). Checked against the simulator's state: how many hosts act as master, where
// each VM of the old master runs (the simulator's ground truth: which hypervisors run it), what was powered off.
import t, { type Test } from 'tap';
import { memoryLogger } from '../../core/log.js';
import { startExporter } from '../../exporter/main.js';
import type { Ref } from '../../simulator/model/types.js';
import { SimulatorToolstackShell } from '../../simulator/toolstack-shell.js';
import { lines } from '../helpers/exposition.js';
import {
  TOKEN,
  type Rig,
  type RigOptions,
  type SimHost,
  countBy,
  fire,
  masterLostAlert,
  notification,
  progressLines,
  settled,
  startRig,
  taskStates,
  untilWaiting,
  waitUntil,
} from './helpers/sim-rig.js';
import { parseConfig } from '../../cli/config/bundle.js';

/** xapi's fuse and start, a recover_slaves peer timeout, and a dead host declared dead well after the test. */
const SIM = { xapiFuseMs: 100, xapiStartMs: 400, remoteTimeoutMs: 300, hostDeadAfterMs: 120_000 };
const FAILOVER = { password: 'simulated', promote_timeout_seconds: 20, members_timeout_seconds: 20, watch_interval_seconds: 1 };

async function masterRig(t: Test, o: RigOptions = {}): Promise<Rig> {
  return startRig(t, {
    sim: SIM,
    hook: { probeTimeoutMs: 1500 },
    // The BMC is the simulator's CLI, one Node process per command: on a loaded machine a fence (power-off, then
    // status polls) can outlast the rig's 30 s task timeout, which is not what these tests measure.
    recoveryHook: { task_defaults: { timeout_seconds: 90, retries: 0, retry_delay_seconds: 0.1 } },
    ...o,
    pool: { master_failover: FAILOVER, ...o.pool },
  });
}

/** The master hangs (powered, answering nothing); its VMs as the database lists them. */
async function loseMaster(rig: Rig): Promise<{ master: SimHost; vms: { uuid: string; ref: Ref }[] }> {
  const master = rig.hosts.find((h) => h.master)!;
  const vms = rig.residentVms(master).map((v) => ({ uuid: v.uuid, ref: v.ref }));
  await rig.control(`/sim/hosts/${master.name}/fail`, {});
  return { master, vms };
}

/** Host names acting as master now (answering, running as master). */
const masters = (rig: Rig) => rig.sim.pool.roles.masters().map((h) => rig.sim.pool.store.get('host', h.ref)!.name_label as string);
/** Where the hypervisors really run the VM (simulator ground truth). */
const runningOn = (rig: Rig, vm: Ref) => rig.sim.pool.truth.hostsRunning(vm).map((h) => rig.sim.pool.store.get('host', h)!.name_label as string);

t.test('the master hangs: fenced, one member promoted, the members follow it, every VM of the old master runs once elsewhere', async (t) => {
  const rig = await masterRig(t);
  const exporterYaml = `pools:
  - name: ${rig.poolName}
    url: ${rig.sim.url}
    username: root
    password: simulated
    timeouts: { login_seconds: 6, call_seconds: 3 }
exporter:
  listen: 127.0.0.1:0
  poll_interval_seconds: 600
  rrd: { timeout_seconds: 2, window_seconds: 30 }
`;
  const exporter = await startExporter(parseConfig(exporterYaml, 'exporter.yml', {}), memoryLogger('warn'));
  t.teardown(() => exporter.stop());
  await exporter.exporter.pools[0]!.watcher.whenSynced(5000);

  // The exporter polls throughout, as it would every poll interval: it must follow the new master by itself.
  let polling = true;
  let lastScrape = '';
  const poller = (async () => {
    while (polling) {
      await exporter.exporter.pollOnce().catch(() => undefined);
      lastScrape = await (await fetch(`${exporter.url}/metrics`)).text();
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  t.teardown(async () => {
    polling = false;
    await poller;
  });
  const { master, vms } = await loseMaster(rig);
  t.ok(vms.length >= 2, `the master runs ${vms.length} VMs`);
  const started = Date.now();
  const uuid = await fire(rig.hook!, masterLostAlert(rig, master));
  const n = await settled(rig.hook!, uuid, undefined, 180_000);
  t.comment(`master failover took ${Date.now() - started} ms`);
  t.equal(n.status, 'finished', n.message ?? 'finished');
  t.same(Object.keys(taskStates(n)), [
    'confirm_master_lost',
    'restart_master_toolstack',
    'fence_master',
    'choose_member',
    'promote_member',
    'plan_vm_restarts',
    'disable_host',
    'reset_vm_power_states',
    'recover_members',
    'verify_vm_placement',
    'restart_vms',
  ]);
  t.ok(
    Object.values(taskStates(n)).every((s) => s === 'SUCCESS'),
    JSON.stringify(taskStates(n)),
  );

  const members = rig.hosts
    .filter((h) => !h.master)
    .map((h) => h.name)
    .sort();
  const chosen = members[0]!;
  t.same(masters(rig), [chosen], 'exactly one master: the first member by name');
  t.same(rig.calls.powerOffs, [master.name], 'the old master was powered off, once');
  for (const h of rig.hosts.filter((x) => !x.master && x.name !== chosen))
    t.same(rig.sim.pool.roles.roleOf(rig.sim.pool.findHost(h.name)!), { kind: 'slave', master: rig.host(chosen).address }, `${h.name} follows the new master`);
  for (const vm of vms) {
    const where = runningOn(rig, vm.ref);
    t.equal(where.length, 1, `VM ${vm.uuid} runs on exactly one host (${where.join(', ')})`);
    t.not(where[0], master.name);
  }
  t.same(countBy(rig.calls.starts), Object.fromEntries(vms.map((v) => [v.uuid, 1])), 'each VM started exactly once');

  const progress = progressLines(n);
  for (const expected of [
    new RegExp(
      `^confirm_master_lost: pool master ${master.name} \\(${master.address.replace(/\./g, '\\.')}\\) does not answer within 1\\.5 s; 2 member\\(s\\) answer and name it as their master`,
    ),
    new RegExp(`^fence_master: ${master.name} fenced \\(BMC power off\\)$`),
    new RegExp(`^choose_member: ${chosen} chosen to become pool master \\(the answering member first by name\\)$`),
    new RegExp(`^promote_member: promote ${chosen} to pool master \\(local login, pool.emergency_transition_to_master; its xapi restarts\\)$`),
    new RegExp(`^promote_member: ${chosen} answers as pool master`),
    /^recover_members: pool.recover_slaves reset /,
    /^recover_members: every answering member follows /,
    /^restart_vms: restarted: /,
  ])
    t.ok(
      progress.some((l) => expected.test(l)),
      `progress: ${expected}`,
    );
  t.notMatch(JSON.stringify(n), /"simulated"/, 'the local login password never shows');

  // The exporter follows the new master without a restart.
  await waitUntil(
    'the exporter to name the new master',
    () =>
      lines(lastScrape, 'xcp_host_info').some((l) => l.includes('is_master="true"') && l.includes(`host_name="${chosen}"`)) &&
      /^xcp_pool_master_reachable\{[^}]*\} 1$/m.test(lastScrape),
    40_000,
    100,
  );
  t.pass('the exporter reports the new master, reachable');

  // The old master powered back on: xapi starts as master from its pool.conf and asks the other hosts whether one is
  // master, skipping those that do not answer (ocaml/xapi/xapi.ml check_no_other_masters; the plain power-on, where
  // it finds the new master and demotes itself, is test/safety/master.test.ts). Here the new master hangs meanwhile:
  // the old one starts as a second master. Once both answer, the receiver's master watch demotes the one nobody follows.
  await rig.control(`/sim/hosts/${chosen}/fail`, {});
  await rig.control(`/sim/hosts/${master.name}/power-on`, {});
  t.match(rig.sim.pool.roles.roleOf(rig.sim.pool.findHost(master.name)!), { kind: 'master' }, 'the old master started as master');
  await rig.control(`/sim/hosts/${chosen}/heal`, {});
  const demotedAt = Date.now();
  await waitUntil(
    'the second master to be demoted',
    () => masters(rig).length === 1 && masters(rig)[0] === chosen && rig.sim.pool.roles.roleOf(rig.sim.pool.findHost(master.name)!).kind === 'slave',
    20_000,
    20,
  );
  t.comment(`second master demoted ${Date.now() - demotedAt} ms after both answered`);
  const metrics = await (await fetch(`${rig.hook!.url}/metrics`)).text();
  t.ok(metrics.includes(`xcp_recovery_master_demotions_total{pool_name="${rig.poolName}",host_name="${master.name}"} 1`), 'counted');
  const told = await waitUntil(
    'the demotion in the progress',
    async () => {
      const found = progressLines(await notification(rig.hook!, uuid)).filter((l) => l.includes('master watch:'));
      return found.length ? found : undefined;
    },
    10_000,
  );
  t.match(
    told,
    [
      new RegExp(
        `^recover_members: master watch: ${master.name} came back acting as a second pool master .*: demoted \\(local login, pool\\.emergency_reset_master\\(${rig.host(chosen).address.replace(/\\./g, '\\\\.')}\\)\\); it restarts as a member of ${chosen}$`,
      ),
    ],
    "and written into the failover notification's progress",
  );
});

t.test('the receiver stops right after the promotion: a new one, unable to read the pool from the dead master, finishes it', async (t) => {
  const rig = await masterRig(t);
  const promotions: string[] = [];
  const roles = rig.sim.pool.roles;
  const dispatch = roles.dispatch.bind(roles);
  roles.dispatch = async (h, method, params) => {
    const out = await dispatch(h, method, params);
    if (method === 'pool.emergency_transition_to_master') promotions.push(String(rig.sim.pool.store.get('host', h.ref)!.name_label));
    return out;
  };
  const { master, vms } = await loseMaster(rig);
  const uuid = await fire(rig.hook!, masterLostAlert(rig, master));
  await waitUntil('the promotion', () => promotions.length > 0, 60_000, 5);
  await rig.hook!.stop();
  // Its successor starts with the pool's configured URL, the dead master's: it learns nothing from XAPI at start.
  const next = await rig.startHook();
  const n = await settled(next, uuid, undefined, 120_000);
  t.equal(n.status, 'finished', n.message ?? 'finished');
  t.same(promotions, [promotions[0]], 'one promotion');
  t.same(masters(rig), [promotions[0]]);
  for (const h of rig.hosts.filter((x) => !x.master && x.name !== promotions[0]))
    t.same(
      rig.sim.pool.roles.roleOf(rig.sim.pool.findHost(h.name)!),
      { kind: 'slave', master: rig.host(promotions[0]!).address },
      `${h.name} follows the new master`,
    );
  t.same(countBy(rig.calls.starts), Object.fromEntries(vms.map((v) => [v.uuid, 1])), 'each VM started exactly once');
  for (const vm of vms) t.equal(runningOn(rig, vm.ref).length, 1);
});

t.test('the master dead and its BMC unreachable: nothing promoted, the notification waits for an operator and says why', async (t) => {
  const rig = await masterRig(t, { fencing: { bmc: { 'xcp-host-01': '192.0.2.1', 'xcp-host-02': '192.0.2.2', 'xcp-host-03': '192.0.2.3' } } });
  const { master, vms } = await loseMaster(rig);
  const uuid = await fire(rig.hook!, masterLostAlert(rig, master));
  const n = await untilWaiting(rig, uuid);
  t.match(n.operator_wait, {
    kind: 'fence_confirmation',
    reason: new RegExp(`^the BMC of ${master.name} does not answer \\(.*\\): ${master.name} cannot be proven off; confirm it is off$`),
  });
  t.match(taskStates(n), { confirm_master_lost: 'SUCCESS', fence_master: 'RUNNING', choose_member: 'PENDING', promote_member: 'PENDING' });
  const gauge = (await (await fetch(`${rig.hook!.url}/metrics`)).text())
    .split('\n')
    .filter((l) => l.startsWith('xcp_recovery_waiting_for_operator{') && l.includes(master.uuid));
  t.same(gauge, [
    `xcp_recovery_waiting_for_operator{pool_name="${rig.poolName}",host_name="${master.name}",host_uuid="${master.uuid}",kind="fence_confirmation"} 1`,
  ]);
  await new Promise((r) => setTimeout(r, 1000));
  t.same(masters(rig), [], 'no member promoted');
  for (const h of rig.hosts.filter((x) => !x.master))
    t.match(rig.sim.pool.roles.roleOf(rig.sim.pool.findHost(h.name)!), { kind: 'slave', master: master.address });
  t.same(rig.calls.starts, [], 'no VM started');

  // The operator powers the old master off by hand and confirms: the failover goes on.
  await rig.control(`/sim/hosts/${master.name}/power-off`, {});
  const ok = await rig.hook!.request('POST', `/v1/notifications/${uuid}/confirm-fenced`, {
    body: { host_uuid: master.uuid },
    headers: { 'X-Auth-Token': TOKEN },
  });
  t.equal(ok.status, 202);
  const done = await settled(rig.hook!, uuid, undefined, 120_000);
  t.equal(done.status, 'finished', done.message ?? 'finished');
  t.ok(progressLines(done).some((l) => /^fence_master: an operator \(token test\) confirmed .* is off at /.test(l)));
  t.equal(masters(rig).length, 1);
  for (const vm of vms) t.equal(runningOn(rig, vm.ref).length, 1, `VM ${vm.uuid} runs once`);
});

t.test('no master_failover credentials: nothing fenced, a master_failover wait that says what is missing', async (t) => {
  const rig = await startRig(t, { sim: SIM, hook: { probeTimeoutMs: 1500 } });
  const { master } = await loseMaster(rig);
  const uuid = await fire(rig.hook!, masterLostAlert(rig, master));
  const n = await untilWaiting(rig, uuid);
  t.match(n.operator_wait, {
    kind: 'master_failover',
    reason: new RegExp(`^pool master ${master.name} does not answer, but recovery_hook.pools.sim-pool.master_failover is not configured`),
  });
  t.same(rig.calls.powerOffs, [], 'nothing powered off');
  t.same(masters(rig), []);
});

t.test('the master answers: ignored with the reason, nothing done', async (t) => {
  const rig = await masterRig(t);
  const master = rig.hosts.find((h) => h.master)!;
  const n = await settled(rig.hook!, await fire(rig.hook!, masterLostAlert(rig, master)));
  t.equal(n.status, 'ignored');
  t.match(n.message, new RegExp(`^${master.name} answers as pool master \\(it accepted a login\\): the master is not lost`));
  t.same(rig.calls.powerOffs, []);
  const member = rig.hosts.find((h) => !h.master)!;
  const wrong = await settled(rig.hook!, await fire(rig.hook!, masterLostAlert(rig, member)));
  t.equal(wrong.status, 'ignored', 'a member named as lost master');
  t.same(masters(rig), [master.name]);
});

t.test('dry-run: says what it would do, powers off and promotes nothing', async (t) => {
  const rig = await masterRig(t, { pool: { mode: 'dry-run' } });
  const { master } = await loseMaster(rig);
  const n = await settled(rig.hook!, await fire(rig.hook!, masterLostAlert(rig, master)), undefined, 60_000);
  t.ok(['finished', 'ignored'].includes(n.status), `${n.status}: ${n.message}`);
  const progress = progressLines(n);
  t.ok(
    progress.some((l) => l.startsWith(`fence_master: dry-run: would power off ${master.name}`)),
    'would fence',
  );
  t.ok(
    progress.some((l) => /^promote_member: dry-run: would promote /.test(l)),
    'would promote',
  );
  t.ok(
    progress.every((l) => !/^promote_member: .* answers as pool master/.test(l)),
    'never reads as if it promoted',
  );
  t.same(rig.calls.powerOffs, []);
  t.same(masters(rig), []);
  t.same(rig.calls.starts, []);
});

t.test("only the master's toolstack died: restarted over SSH, nothing fenced or promoted", async (t) => {
  const rig = await masterRig(t, { start: false });
  const shell = new SimulatorToolstackShell(rig.sim.controlUrl);
  rig.hook = await rig.startHook({ shellFor: () => shell });
  const master = rig.hosts.find((h) => h.master)!;
  await rig.control(`/sim/hosts/${master.name}/kill-toolstack`, {});
  const n = await settled(rig.hook, await fire(rig.hook, masterLostAlert(rig, master)), undefined, 60_000);
  t.equal(n.status, 'finished');
  t.match(n.message, new RegExp(`^the toolstack of pool master ${master.name} was restarted over SSH and it answers as master again`));
  t.same(
    shell.calls.map((c) => c.host.name),
    [master.name],
  );
  t.same(rig.calls.powerOffs, [], 'nothing powered off');
  t.same(masters(rig), [master.name]);
});

t.test('a Masakari COMPUTE_HOST with xcp_failure pool_master takes the same route', async (t) => {
  const rig = await masterRig(t, { pool: { mode: 'notify-only' } });
  const master = rig.hosts.find((h) => h.master)!;
  const res = await rig.hook!.request('POST', '/v1/notifications', {
    body: {
      notification: {
        type: 'COMPUTE_HOST',
        hostname: master.name,
        generated_time: new Date().toISOString(),
        payload: { event: 'STOPPED', host_status: 'UNKNOWN', cluster_status: 'OFFLINE', xcp_failure: 'pool_master' },
      },
    },
    headers: { 'X-Auth-Token': TOKEN },
  });
  t.equal(res.status, 202, res.text);
  const bad = await rig.hook!.request('POST', '/v1/notifications', {
    body: {
      notification: {
        type: 'COMPUTE_HOST',
        hostname: master.name,
        generated_time: new Date().toISOString(),
        payload: { event: 'STOPPED', xcp_failure: 'other' },
      },
    },
    headers: { 'X-Auth-Token': TOKEN },
  });
  t.equal(bad.status, 400);
  t.match(bad.text, /payload\/xcp_failure/);
  const n = await notification(rig.hook!, res.json.notification.notification_uuid);
  t.match(n.payload, { xcp_failure: 'pool_master' });
});
