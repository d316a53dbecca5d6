// End to end, host failure: the receiver runs with the real XAPI client against the simulated pool and fences
// through the real CommandFencer, whose command lines run the simulator's CLI as the BMC
// (`xcp-sentinel simulate power-off|power-status {bmc} --ipmitool-output`). An Alertmanager webhook labelled as
// rules/xcp-alerts.yml labels XcpHostDown starts the recovery; the simulator's state and the Masakari API's view of
// the notification (1.1 workflow details, 1.3 vmoves) are checked. Unfenced hosts: e2e-host-unfenced.test.ts.
import t from 'tap';
import { SimBmc } from '../../simulator/bmc.js';
import {
  type Rig,
  type SimHost,
  countBy,
  failMemberHost,
  fire,
  hostDownAlert,
  progressLines,
  settled,
  startRig,
  taskStates,
  vmoves,
} from './helpers/sim-rig.js';

/** Give the VMs of `host` explicit HA priorities (and orders), in the simulator's database. */
function setPriorities(rig: Rig, host: SimHost, priorities: [string, number][]): { uuid: string; name: string; priority: string; order: number }[] {
  const vms = rig.residentVms(host);
  return vms.map((vm, i) => {
    const [priority, order] = priorities[i % priorities.length]!;
    rig.sim.pool.store.mod('VM', vm.ref, { ha_restart_priority: priority, order });
    return { uuid: vm.uuid, name: vm.name, priority, order };
  });
}

const RANK: Record<string, number> = { restart: 0, 'best-effort': 1, '': 2 };

t.test('host failure: fenced through the BMC command, every VM restarted elsewhere in HA priority order', async (t) => {
  const rig = await startRig(t);
  const hook = rig.hook!;
  const victim0 = rig.hosts.find((h) => !h.master && rig.residentVms(h).length >= 3)!;
  const planned = setPriorities(rig, victim0, [
    ['', 1],
    ['best-effort', 2],
    ['restart', 7],
    ['restart', 3],
  ]);
  const victim = await failMemberHost(rig);
  t.equal(victim.name, victim0.name);
  const others = rig.hosts.filter((h) => h.name !== victim.name).map((h) => h.name);

  const started = Date.now();
  const uuid = await fire(hook, hostDownAlert(rig, victim));
  const n = await settled(hook, uuid);
  t.comment(`host recovery took ${Date.now() - started} ms`);

  t.equal(n.status, 'finished', n.message ?? 'finished');
  t.equal(n.type, 'COMPUTE_HOST');
  t.equal(n.source_host_uuid, victim.uuid);
  t.same(n.payload, { event: 'STOPPED', host_status: 'UNKNOWN', cluster_status: 'OFFLINE' });
  t.same(Object.values(taskStates(n)), ['SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS']);
  const lines = progressLines(n);
  t.ok(
    lines.includes(`confirm_host_down: host ${victim.name} is not live (host_metrics.live = false) and does not answer`),
    'proved down: not live, no answer to echo',
  );
  t.ok(lines.includes(`fence_host: power off ${victim.name} through its BMC and wait for it to report power off`));
  t.ok(lines.includes(`fence_host: ${victim.name} fenced (BMC power off)`));
  t.ok(
    lines.some((l) => l.startsWith(`disable_host: host ${victim.name} is offline: XAPI cannot disable it`)),
    'HOST_OFFLINE on host.disable tolerated',
  );
  t.ok(lines.includes(`plan_vm_restarts: ${planned.length} VM(s) of ${victim.name} to restart, 0 left alone`));
  t.ok(lines.includes(`restart_vms: ${planned.length}/${planned.length} VM(s) handled`));

  // The simulated BMC powered the host off, once.
  t.same(rig.calls.powerOffs, [victim.name]);
  t.match(await rig.hostStatus(victim.name), { power: 'off', live: false, resident_vms: 0 });

  // Every VM runs on another live host; each was reset and started exactly once, protected ones first.
  const expectedOrder = [...planned].sort((a, b) => RANK[a.priority]! - RANK[b.priority]! || a.order - b.order).map((v) => v.uuid);
  t.same(rig.calls.starts, expectedOrder, 'started once each, in ha_restart_priority then order');
  t.same(countBy(rig.calls.resets), Object.fromEntries(planned.map((v) => [v.uuid, 1])), 'each power state reset once');
  const moves = await vmoves(hook, uuid);
  t.equal(moves.length, planned.length, 'one vmove per VM');
  for (const vm of planned) {
    const status = await rig.vmStatus(vm.uuid);
    t.equal(status.power_state, 'Running', `${vm.name} runs`);
    t.ok(others.includes(status.resident_on), `${vm.name} runs on another host (${status.resident_on})`);
    t.match((await rig.hostStatus(status.resident_on)).live, true);
    const move = moves.find((m) => m.instance_uuid === vm.uuid);
    t.match(move, { instance_name: vm.name, source_host: victim.name, dest_host: status.resident_on, status: 'succeeded', type: 'evacuation', message: null });
    t.ok(move.start_time && move.end_time, `${vm.name}: start and end recorded`);
  }
  // Once finished, the host is not left on maintenance by its own recovery.
  const host = (await hook.request('GET', `/v1/segments`)).json.segments[0];
  const hosts = (await hook.request('GET', `/v1/segments/${host.uuid}/hosts`)).json.hosts as any[];
  t.match(
    hosts.find((h) => h.uuid === victim.uuid),
    { on_maintenance: false },
  );
});

t.test('host failure with restart_unprotected false: VMs without ha_restart_priority are left alone', async (t) => {
  // The fence itself is the test above's: here an in-process BMC on the control API does it.
  const rig = await startRig(t, { start: false, recoveryHook: { host_failure: { restart_unprotected: false } } });
  const bmc = new SimBmc(rig.sim.controlUrl);
  const hook = (rig.hook = await rig.startHook({ fencerFor: () => bmc }));
  const victim0 = rig.hosts.find((h) => !h.master && rig.residentVms(h).length >= 3)!;
  const planned = setPriorities(rig, victim0, [
    ['restart', 1],
    ['', 2],
    ['best-effort', 3],
  ]);
  const victim = await failMemberHost(rig);
  const uuid = await fire(hook, hostDownAlert(rig, victim));
  const n = await settled(hook, uuid);

  t.equal(n.status, 'finished', n.message ?? 'finished');
  t.same(bmc.calls, [`power-status ${victim.name}`, `power-off ${victim.name}`, `power-status ${victim.name}`]);
  const protectedVms = planned.filter((v) => v.priority !== '');
  const unprotected = planned.filter((v) => v.priority === '');
  t.ok(progressLines(n).includes(`plan_vm_restarts: ${protectedVms.length} VM(s) of ${victim.name} to restart, ${unprotected.length} left alone`));
  t.same([...rig.calls.starts].sort(), protectedVms.map((v) => v.uuid).sort(), 'only protected VMs started');
  const moves = await vmoves(hook, uuid);
  for (const vm of unprotected) {
    t.match(
      moves.find((m) => m.instance_uuid === vm.uuid),
      { status: 'ignored', dest_host: null, message: /not protected \(ha_restart_priority empty\)/ },
    );
    t.match(await rig.vmStatus(vm.uuid), { power_state: 'Running', resident_on: victim.name }, `${vm.name} untouched (still recorded on the dead host)`);
  }
  for (const vm of protectedVms) {
    t.match(
      moves.find((m) => m.instance_uuid === vm.uuid),
      { status: 'succeeded' },
    );
    t.not((await rig.vmStatus(vm.uuid)).resident_on, victim.name);
  }
});
