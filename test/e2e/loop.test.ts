// The whole loop, end to end, with every process real except the pool: the simulator stands in for XCP-ng; the
// exporter polls it; real Prometheus scrapes the exporter and evaluates the bundled rules (every `for:` 3 s, 1 s
// evaluation); real Alertmanager routes the recovery alerts to the receiver with the example routing; the receiver
// fences through the simulated BMC (the simulator's CLI as ipmitool), restarts VMs through XAPI, restarts the toolstack
// over SSH (real OpenSSH on the hosts' loopback addresses) and mails (SMTP server) and XMPPs (Prosody) the operators.
//   - a host fails → XcpHostDown → COMPUTE_HOST → fenced → its VMs run elsewhere → mail + XMPP → repaired: resolves;
//   - the toolstack dies → XcpToolstackDown → COMPUTE_PROCESS → xe-toolstack-restart over SSH → XAPI answers;
//   - a protected VM crashes → XcpVmHaltedUnexpectedly → COMPUTE_INSTANCE → the VM runs again.
// Each scenario asserts the final state and prints the time from the fault to the recovery.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Element, client, xml } from '@xmpp/client';
import t from 'tap';
import { memoryLogger } from '../../core/log.js';
import { startExporter } from '../../exporter/main.js';
import type { SshConfig } from '../../recovery-hooks/config.js';
import { exporterConfigYaml } from '../helpers/exporter.js';
import { DOMAIN, prepareProsody, prosodySkip } from '../helpers/prosody.js';
import { startSmtp } from '../helpers/smtp.js';
import { sshdMissing, startSshd } from '../helpers/sshd.js';
import { selfSignedCert } from '../helpers/tls.js';
import { TOKEN, type SimHost, notification, progressLines, settled, startRig, taskStates, waitUntil } from '../recovery-hooks/helpers/sim-rig.js';
import {
  ALERTMANAGER,
  PROMETHEUS,
  loopAlertmanagerConfig,
  loopRules,
  startLoopAlertmanager,
  startLoopPrometheus,
  toolstackRestartScript,
} from './helpers/loop.js';
import { parseConfig } from '../../cli/config/bundle.js';
import { freePort } from '../../core/net.js';

const skip =
  (!PROMETHEUS && 'prometheus not found (Debian package prometheus)') ||
  (!ALERTMANAGER && 'alertmanager not found (Debian package prometheus-alertmanager)') ||
  sshdMissing() ||
  prosodySkip ||
  false;

const SMTP_USER = 'mailer';
const SMTP_PASSWORD = 'loop-mail-secret-41c2';
const XMPP_USERS = { alice: 'alice-loop-pw-9e1d', bob: 'bob-loop-pw-27fa' };
const BOB = `bob@${DOMAIN}`;

const secondsSince = (t0: number, t1 = Date.now()) => ((t1 - t0) / 1000).toFixed(1);

t.test('the recovery loop: Prometheus → Alertmanager → receiver → simulated pool, with email and XMPP', { skip, timeout: 150_000 }, async (t) => {
  const begun = Date.now();

  // ---- the operators' servers ------------------------------------------------------------------------------
  const tls = selfSignedCert('localhost', '127.0.0.1');
  t.teardown(() => rmSync(tls.dir, { recursive: true, force: true }));
  const smtp = await startSmtp({ tls, users: { [SMTP_USER]: SMTP_PASSWORD } });
  t.teardown(() => smtp.stop());
  const prosody = await prepareProsody({ users: XMPP_USERS });
  t.teardown(() => prosody.stop());
  await prosody.start();
  // Bob reads the chat messages (PLAIN on loopback: @xmpp/client's SCRAM is slow).
  const bob = client({
    service: `xmpp://127.0.0.1:${prosody.port}`,
    domain: DOMAIN,
    resource: 'e2e',
    credentials: (authenticate) => authenticate({ username: 'bob', password: XMPP_USERS.bob }, 'PLAIN'),
  });
  const chat: string[] = [];
  bob.on('error', () => {});
  bob.on('stanza', (st: Element) => {
    if (st.is('message') && st.getChildText('body')) chat.push(st.getChildText('body')!);
  });
  await bob.start();
  await bob.send(xml('presence'));
  t.teardown(async () => {
    bob.reconnect.stop();
    await bob.stop().catch(() => {});
  });

  // ---- the pool, the receiver (started below, once sshd runs on the hosts' addresses) ------------------------------
  // The receiver's port is chosen now so that the messages can link to its API.
  const receiverPort = await freePort();
  const rig = await startRig(t, {
    start: false,
    // Hosts are declared dead 2 s after they stop answering; guests refresh their heartbeat every 2 s.
    sim: { hostDeadAfterMs: 2000, guestHeartbeatMs: 2000, vmBootMs: 100, hardware: false },
    recoveryHook: {
      listen: `127.0.0.1:${receiverPort}`,
      notifiers: {
        links: { api_base_url: `http://127.0.0.1:${receiverPort}` },
        poll_interval_seconds: 0.1,
        channels: {
          mail: {
            type: 'email',
            host: '127.0.0.1',
            port: smtp.port,
            tls: { ca_file: tls.certFile },
            username: SMTP_USER,
            password: SMTP_PASSWORD,
            from: 'xcp-sentinel <sentinel@example.org>',
            to: ['ops@example.org'],
            backoff: { initial_seconds: 0.2, max_seconds: 1 },
            timeout_seconds: 5,
          },
          chat: {
            type: 'xmpp',
            service: `xmpp://127.0.0.1:${prosody.port}`,
            jid: `alice@${DOMAIN}`,
            password: XMPP_USERS.alice,
            to: [BOB],
            require_tls: false,
            backoff: { initial_seconds: 0.2, max_seconds: 1 },
            timeout_seconds: 5,
            reconnect_seconds: 0.5,
          },
        },
      },
    },
  });

  // Real OpenSSH listening on every simulated host's address; its xe-toolstack-restart asks the simulator.
  const sshd = await startSshd({
    addresses: rig.hosts.map((h) => h.address),
    commands: { 'xe-toolstack-restart': toolstackRestartScript(rig.sim.controlUrl) },
  });
  t.teardown(() => sshd.stop());
  const ssh: SshConfig = {
    user: sshd.user,
    port: sshd.port,
    privateKeyFile: sshd.clientKeyFile,
    knownHostsFile: sshd.writeKnownHosts(),
    fingerprints: {},
    restartCommand: 'xe-toolstack-restart',
    commandTimeoutMs: 20_000,
  };
  rig.config.recovery_hook.pools[rig.poolName]!.ssh = ssh;
  const hook = await rig.startHook();

  // ---- exporter, Prometheus, Alertmanager -------------------------------------------------------------------------
  // The config's floor is 5 s (production polls every 30 s); the test polls every 2 s, RRD answers within 1 s.
  const exporterConfig = parseConfig(
    exporterConfigYaml([rig.sim]).replace('rrd: { timeout_seconds: 2', 'rrd: { timeout_seconds: 1'),
    join(rig.dir, 'exporter.yml'),
    {},
  );
  exporterConfig.exporter.poll_interval_seconds = 2;
  const exporter = await startExporter(exporterConfig, memoryLogger('warn'));
  t.teardown(() => exporter.stop());

  const tokenFile = join(rig.dir, 'alertmanager.token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const am = await startLoopAlertmanager(ALERTMANAGER!, loopAlertmanagerConfig({ webhookUrl: `${hook.url}/alertmanager`, tokenFile }));
  t.teardown(() => am.stop());
  const prom = await startLoopPrometheus({ exporterUrl: exporter.url, alertmanagerUrl: am.url, rules: loopRules('3s') });
  t.teardown(() => prom.stop());

  // Prometheus has the pool: every host live, answering its RRD.
  await waitUntil(
    'Prometheus to see every host live and answering',
    async () => {
      const up = await prom.query<{ result: unknown[] }>('xcp_host_rrd_up == 1 and on (pool_id, uuid) xcp_host_live == 1');
      return up.result.length === rig.hosts.length;
    },
    30_000,
    250,
  );
  t.comment(`loop ready after ${secondsSince(begun)} s (sim, exporter, sshd, SMTP, Prosody, receiver, Prometheus, Alertmanager)`);

  const [master, victim, toolstackHost] = [rig.hosts.find((h) => h.master)!, ...rig.hosts.filter((h) => !h.master)] as SimHost[];
  const notificationsOf = async (type: string, host?: SimHost) =>
    (await hook.request('GET', `/v1/notifications?type=${type}${host ? `&source_host_uuid=${host.uuid}` : ''}`)).json.notifications as any[];
  const firing = async (alertname: string, labels: Record<string, string>) => {
    const sel = Object.entries(labels)
      .map(([k, v]) => `,${k}="${v}"`)
      .join('');
    return (await prom.query<{ result: unknown[] }>(`ALERTS{alertname="${alertname}",alertstate="firing"${sel}}`)).result.length > 0;
  };
  const timings: string[] = [];

  await t.test('a host fails: fenced, its VMs run elsewhere, operators told once, the alert resolves after repair', async (t) => {
    const vms = rig.residentVms(victim);
    t.ok(vms.length > 0, `${victim.name} runs ${vms.length} VMs`);
    const fault = Date.now();
    await rig.control(`/sim/hosts/${victim.name}/fail`, {});

    const [received] = await waitUntil(
      'the COMPUTE_HOST notification from Alertmanager',
      async () => {
        const list = (await notificationsOf('COMPUTE_HOST', victim)).filter((x) => x.payload?.event === 'STOPPED');
        return list.length > 0 ? list : undefined;
      },
      40_000,
      100,
    );
    const alerted = Date.now();
    t.ok(await firing('XcpHostDown', { host_name: victim.name }), 'XcpHostDown fires in Prometheus');
    const n = await settled(hook, received.notification_uuid, ['finished', 'ignored', 'failed'], 40_000);
    t.equal(n.status, 'finished', n.message ?? 'finished');
    t.same(n.payload, { event: 'STOPPED', host_status: 'UNKNOWN', cluster_status: 'OFFLINE' });
    t.ok(
      Object.values(taskStates(n)).every((s) => s === 'SUCCESS'),
      `every task succeeded: ${JSON.stringify(taskStates(n))}`,
    );

    // Fenced in the simulator: powered off through the simulated BMC, once.
    t.same(rig.calls.powerOffs, [victim.name], 'the failed host was powered off once');
    t.match(await rig.hostStatus(victim.name), { power: 'off', live: false });
    // Its VMs run on the other hosts.
    const placed = await waitUntil(
      'every VM of the failed host to run elsewhere',
      async () => {
        const states = await Promise.all(vms.map((vm) => rig.vmStatus(vm.uuid)));
        return states.every((s) => s.power_state === 'Running' && s.resident_on && s.resident_on !== victim.name) ? states : undefined;
      },
      20_000,
      50,
    );
    const recovered = Date.now();
    t.same(new Set(placed.map((s) => s.resident_on)).has(victim.name), false, `VMs now on ${[...new Set(placed.map((s) => s.resident_on))].join(', ')}`);
    t.equal(rig.calls.starts.filter((u) => vms.some((vm) => vm.uuid === u)).length, vms.length, 'each VM started once');
    t.equal((await notificationsOf('COMPUTE_HOST', victim)).length, 1, 'one COMPUTE_HOST notification (Alertmanager repeats are deduplicated)');
    t.same(await notificationsOf('COMPUTE_PROCESS', victim), [], 'no toolstack recovery for the dead host');

    // Operators: one mail and one chat message per event of this notification, each naming the host.
    const mailsAbout = () => smtp.mails.filter((m) => m.subject.includes(victim.name));
    const chatAbout = () => chat.filter((b) => b.includes(victim.name));
    await waitUntil(
      'the mails about the host failure (received, started, finished)',
      () => {
        const events = mailsAbout().map((m) => m.headers.get('x-xcp-sentinel-event'));
        return ['notification.received', 'recovery.started', 'recovery.finished'].every((e) => events.includes(e));
      },
      15_000,
      100,
    );
    await waitUntil('the chat messages about the host failure', () => chatAbout().length >= 3, 15_000, 100);
    const notified = Date.now();
    await new Promise((r) => setTimeout(r, 1500));
    const events = mailsAbout().map((m) => m.headers.get('x-xcp-sentinel-event'));
    t.same(events.slice().sort(), ['notification.received', 'recovery.finished', 'recovery.started'], 'one mail per event, none twice');
    const received0 = mailsAbout().find((m) => m.headers.get('x-xcp-sentinel-event') === 'notification.received')!;
    t.match(received0.subject, `host failure: host ${victim.name}`);
    t.match(received0.text, victim.uuid, 'the mail names the host by uuid too');
    t.ok(
      mailsAbout().every((m) => m.secure && m.user === SMTP_USER),
      'mailed over STARTTLS with AUTH',
    );
    t.equal(chatAbout().length, 3, 'one chat message per event, none twice');
    t.equal(new Set(chatAbout()).size, 3, 'three different chat messages');
    t.match(chatAbout()[0], `host failure reported: host ${victim.name}`);
    t.ok(
      chatAbout().every((b) => b.includes(`${hook.url}/v1/notifications/${n.notification_uuid}`)),
      'each chat message links the notification in the API',
    );
    t.match(received0.text, `${hook.url}/v1/notifications/${n.notification_uuid}`, 'so does the mail');

    // Repaired and powered on by an operator: the alert resolves, in Prometheus and in Alertmanager.
    const repaired = Date.now();
    await rig.control(`/sim/hosts/${victim.name}/power-on`, {});
    await waitUntil(
      'XcpHostDown to resolve',
      async () =>
        !(await firing('XcpHostDown', { host_name: victim.name })) && (await am.active({ alertname: 'XcpHostDown', host_name: victim.name })).length === 0,
      30_000,
      250,
    );
    const resolved = Date.now();
    t.pass(`XcpHostDown resolved ${secondsSince(repaired, resolved)} s after the repair`);
    // Alertmanager sends the resolution (send_resolved): recorded as a STARTED notification, which acts on nothing.
    const [back] = await waitUntil(
      'the resolved XcpHostDown at the receiver',
      async () => {
        const list = (await notificationsOf('COMPUTE_HOST', victim)).filter((x) => x.payload?.event === 'STARTED');
        return list.length > 0 ? list : undefined;
      },
      20_000,
      100,
    );
    const after = await settled(hook, back.notification_uuid, ['finished', 'ignored', 'failed'], 20_000);
    t.not(after.status, 'failed', `the resolution is taken for information: ${after.status}${after.message ? ` (${after.message})` : ''}`);
    t.equal((await notificationsOf('COMPUTE_HOST', victim)).filter((x) => x.payload?.event === 'STOPPED').length, 1, 'still one host failure');
    t.same(rig.calls.powerOffs, [victim.name], 'nothing fenced again');
    t.match(await rig.hostStatus(victim.name), { power: 'on', live: true });

    const line = `host failure: fault→receiver ${secondsSince(fault, alerted)} s, fault→VMs running elsewhere ${secondsSince(fault, recovered)} s, fault→operators told ${secondsSince(fault, notified)} s, repair→resolved ${secondsSince(repaired, resolved)} s`;
    timings.push(line);
    t.comment(line);
    t.ok(recovered - fault < 45_000, `recovered within 45 s (${secondsSince(fault, recovered)} s)`);
  });

  await t.test('the toolstack dies: restarted over SSH, XAPI answers again', async (t) => {
    const fault = Date.now();
    await rig.control(`/sim/hosts/${toolstackHost.name}/kill-toolstack`, {});
    await t.rejects(rig.xapi.call('host.call_plugin', toolstackHost.ref, 'echo', 'main', {}), { code: 'HOST_OFFLINE' }, 'XAPI on the host does not answer');

    const [received] = await waitUntil(
      'the COMPUTE_PROCESS notification from Alertmanager',
      async () => {
        const list = (await notificationsOf('COMPUTE_PROCESS', toolstackHost)).filter((x) => x.payload?.event === 'STOPPED');
        return list.length > 0 ? list : undefined;
      },
      40_000,
      100,
    );
    const alerted = Date.now();
    const n = await settled(hook, received.notification_uuid, ['finished', 'ignored', 'failed'], 40_000);
    const recovered = Date.now();
    t.equal(n.status, 'finished', n.message ?? 'finished');
    t.same(n.payload, { process_name: 'xapi', event: 'STOPPED' });
    t.same(taskStates(n), { check_toolstack: 'SUCCESS', restart_toolstack: 'SUCCESS', confirm_toolstack: 'SUCCESS' });
    t.same(progressLines(n), [
      `check_toolstack: XAPI on ${toolstackHost.name} does not answer`,
      `restart_toolstack: run "xe-toolstack-restart" on ${toolstackHost.name} over SSH`,
      // The last line of the script's output, as it came back over SSH.
      'restart_toolstack: "xe-toolstack-restart" finished: done.',
      `confirm_toolstack: XAPI on ${toolstackHost.name} answers again`,
    ]);
    t.same(rig.calls.toolstackRestarts, [toolstackHost.name], 'restarted once, on the right host (by its address over SSH)');
    t.match(await rig.hostStatus(toolstackHost.name), { toolstack: 'up', live: true, enabled: true });
    t.equal(await rig.xapi.call('host.call_plugin', toolstackHost.ref, 'echo', 'main', {}), 'args were: {}', 'XAPI on the host answers');
    t.same(await notificationsOf('COMPUTE_HOST', toolstackHost), [], 'not escalated to a host failure');
    await waitUntil('XcpToolstackDown to resolve', async () => !(await firing('XcpToolstackDown', { host_name: toolstackHost.name })), 20_000, 250);

    const line = `toolstack down: fault→receiver ${secondsSince(fault, alerted)} s, fault→XAPI answers ${secondsSince(fault, recovered)} s`;
    timings.push(line);
    t.comment(line);
    t.ok(recovered - fault < 45_000, `recovered within 45 s (${secondsSince(fault, recovered)} s)`);
  });

  await t.test('a protected VM crashes: started again', async (t) => {
    // A protected VM, on the master if it has one (the other hosts had their turn above).
    const vm = await waitUntil(
      'a protected running VM',
      async () => {
        for (const h of [master, toolstackHost, victim])
          for (const v of rig.residentVms(h)) if ((await rig.vmStatus(v.uuid)).ha_restart_priority === 'restart') return v;
        return undefined;
      },
      5000,
    );
    // No waiting for history: the rule reads the halt the exporter saw in XAPI's events (ha_always_run still set).

    const startsBefore = rig.calls.starts.length;
    const fault = Date.now();
    await rig.control(`/sim/vms/${vm.uuid}/crash`, { mode: 'halt' });
    const [received] = await waitUntil(
      'the COMPUTE_INSTANCE notification from Alertmanager',
      async () => {
        const list = (await notificationsOf('COMPUTE_INSTANCE')).filter((x) => x.payload?.instance_uuid === vm.uuid && x.payload?.event === 'LIFECYCLE');
        return list.length > 0 ? list : undefined;
      },
      40_000,
      100,
    );
    const alerted = Date.now();
    const running = await waitUntil(
      `${vm.name} to run again`,
      async () => {
        const s = await rig.vmStatus(vm.uuid);
        return s.power_state === 'Running' ? s : undefined;
      },
      30_000,
      50,
    );
    const recovered = Date.now();
    const n = await settled(hook, received.notification_uuid, ['finished', 'ignored', 'failed'], 30_000);
    t.equal(n.status, 'finished', n.message ?? 'finished');
    t.match(n.payload, { instance_uuid: vm.uuid, event: 'LIFECYCLE' });
    t.ok(
      Object.values(taskStates(n)).every((s) => s === 'SUCCESS' || s === 'PENDING'),
      `tasks: ${JSON.stringify(taskStates(n))}`,
    );
    t.ok(running.resident_on, `${vm.name} runs on ${running.resident_on}`);
    t.same(rig.calls.starts.slice(startsBefore), [vm.uuid], 'started once, nothing else started');
    t.equal(
      (await notificationsOf('COMPUTE_INSTANCE')).filter((x) => x.payload?.instance_uuid === vm.uuid && x.payload?.event === 'LIFECYCLE').length,
      1,
      'one crash notification',
    );
    await waitUntil('XcpVmHaltedUnexpectedly to resolve', async () => !(await firing('XcpVmHaltedUnexpectedly', { vm_uuid: vm.uuid })), 20_000, 250);

    const line = `VM crash: fault→receiver ${secondsSince(fault, alerted)} s, fault→VM running ${secondsSince(fault, recovered)} s`;
    timings.push(line);
    t.comment(line);
    t.ok(recovered - fault < 45_000, `recovered within 45 s (${secondsSince(fault, recovered)} s)`);
    // The details of the notification, for a failing run's log.
    if (n.status !== 'finished') t.comment(JSON.stringify(await notification(hook, received.notification_uuid)));
  });

  t.comment(`whole loop: ${secondsSince(begun)} s\n${timings.join('\n')}`);
});
