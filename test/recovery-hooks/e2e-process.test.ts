// End to end, process failure (the toolstack): the receiver with the real XAPI client against the simulated pool.
// Whether XAPI on the host answers is probed with xapi's stock `echo` plugin through the master, as in production.
// The restart itself goes through a RemoteShell stand-in that calls the simulator control API's restart-toolstack
// (no sshd here; the SSH path is tested against a real sshd elsewhere).
import t from 'tap';
import { SimulatorToolstackShell } from '../../simulator/toolstack-shell.js';
import { type Rig, fire, progressLines, settled, startRig, taskStates, toolstackDownAlert } from './helpers/sim-rig.js';

async function onMaintenance(rig: Rig, hostUuid: string): Promise<boolean> {
  const hook = rig.hook!;
  const segment = (await hook.request('GET', '/v1/segments')).json.segments[0];
  const hosts = (await hook.request('GET', `/v1/segments/${segment.uuid}/hosts`)).json.hosts as any[];
  return hosts.find((h) => h.uuid === hostUuid).on_maintenance;
}

t.test('toolstack down: xe-toolstack-restart through the shell, XAPI answers again → finished', async (t) => {
  const rig = await startRig(t, { start: false });
  const shell = new SimulatorToolstackShell(rig.sim.controlUrl);
  rig.hook = await rig.startHook({ shellFor: () => shell });
  const hook = rig.hook;
  const host = rig.hosts.find((h) => !h.master)!;

  // The stock echo plugin answers through the master while the host's toolstack runs…
  t.equal(await rig.xapi.call('host.call_plugin', host.ref, 'echo', 'main', { probe: "it's me" }), `args were: {'probe': "it's me"}`);
  await rig.control(`/sim/hosts/${host.name}/kill-toolstack`, {});
  // …and not once it is down; the host stays live in the master's view (its heartbeat daemon still runs).
  await t.rejects(rig.xapi.call('host.call_plugin', host.ref, 'echo', 'main', {}), { code: 'HOST_OFFLINE' });
  t.match(await rig.hostStatus(host.name), { toolstack: 'down', live: true });

  const uuid = await fire(hook, toolstackDownAlert(rig, host));
  const n = await settled(hook, uuid);
  t.equal(n.status, 'finished', n.message ?? 'finished');
  t.equal(n.type, 'COMPUTE_PROCESS');
  t.same(n.payload, { process_name: 'xapi', event: 'STOPPED' });
  t.same(taskStates(n), { check_toolstack: 'SUCCESS', restart_toolstack: 'SUCCESS', confirm_toolstack: 'SUCCESS' });
  t.same(progressLines(n), [
    `check_toolstack: XAPI on ${host.name} does not answer`,
    `restart_toolstack: run "xe-toolstack-restart" on ${host.name} over SSH`,
    'restart_toolstack: "xe-toolstack-restart" finished: done.',
    `confirm_toolstack: XAPI on ${host.name} answers again`,
  ]);
  t.same(shell.calls, [{ host: { name: host.name, address: host.address }, command: 'xe-toolstack-restart' }], 'one restart, on the host by its XAPI address');
  t.same(rig.calls.toolstackRestarts, [host.name]);
  t.match(await rig.hostStatus(host.name), { toolstack: 'up', live: true, enabled: true });
  t.equal(await rig.xapi.call('host.call_plugin', host.ref, 'echo', 'main', {}), 'args were: {}', 'XAPI on the host answers');
  t.equal(await onMaintenance(rig, host.uuid), false, 'the host is off maintenance once its recovery finished');
  t.same({ ...rig.calls, toolstackRestarts: [] }, { starts: [], resets: [], reboots: [], powerOffs: [], toolstackRestarts: [] }, 'no VM or power action');
});

t.test('toolstack does not come back after the restart → escalated to a COMPUTE_HOST notification', async (t) => {
  const rig = await startRig(t, { start: false });
  // The restart script exits 0 but xapi stays down.
  const shell = new SimulatorToolstackShell(rig.sim.controlUrl, { broken: true });
  rig.hook = await rig.startHook({ shellFor: () => shell });
  const hook = rig.hook;
  const host = rig.hosts.find((h) => !h.master)!;
  await rig.control(`/sim/hosts/${host.name}/kill-toolstack`, {});

  const uuid = await fire(hook, toolstackDownAlert(rig, host));
  const n = await settled(hook, uuid);
  t.equal(n.status, 'finished');
  const m = /^XAPI on (\S+) did not answer within 2 s: escalated to host notification ([0-9a-f-]{36})$/.exec(n.message);
  t.ok(m, `escalation message: ${n.message}`);
  t.equal(m?.[1], host.name);
  t.same(taskStates(n), { check_toolstack: 'SUCCESS', restart_toolstack: 'SUCCESS', confirm_toolstack: 'SUCCESS' });
  t.equal(shell.calls.length, 1, 'the restart was tried once');

  const hostNotifications = (await hook.request('GET', `/v1/notifications?source_host_uuid=${host.uuid}&type=COMPUTE_HOST`)).json.notifications as any[];
  t.equal(hostNotifications.length, 1, 'one COMPUTE_HOST notification');
  t.equal(hostNotifications[0].notification_uuid, m?.[2]);
  t.same(hostNotifications[0].payload, { event: 'STOPPED', host_status: 'UNKNOWN', cluster_status: 'OFFLINE' });
  // The host workflow then refuses to act on a host XAPI still reports live: nothing fenced, nothing moved.
  const escalated = await settled(hook, m![2]!);
  t.equal(escalated.status, 'ignored');
  t.equal(escalated.message, `XAPI reports host ${host.name} live (host_metrics.live = true): not confirmed down, nothing restarted`);
  t.same(rig.calls, { starts: [], resets: [], reboots: [], powerOffs: [], toolstackRestarts: [] });
  t.match(await rig.hostStatus(host.name), { toolstack: 'down', power: 'on' });
});

t.test('a toolstack alert for a host whose XAPI answers: finished, nothing run', async (t) => {
  const rig = await startRig(t, { start: false });
  const shell = new SimulatorToolstackShell(rig.sim.controlUrl);
  rig.hook = await rig.startHook({ shellFor: () => shell });
  const host = rig.hosts.find((h) => !h.master)!;
  const n = await settled(rig.hook, await fire(rig.hook, toolstackDownAlert(rig, host)));
  t.equal(n.status, 'finished');
  t.equal(n.message, `XAPI on ${host.name} answers: the toolstack is up, nothing to do`);
  t.same(taskStates(n), { check_toolstack: 'SUCCESS', restart_toolstack: 'PENDING', confirm_toolstack: 'PENDING' });
  t.same(shell.calls, []);
  t.same(rig.calls.toolstackRestarts, []);
});
