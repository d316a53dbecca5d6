// End to end, host failure without a proven fence, and a host that is not down at all: the receiver (real XAPI
// client, real CommandFencer running the simulator's CLI as the BMC) starts nothing, resets nothing, and says why.
import t, { type Test } from 'tap';
import {
  type RigOptions,
  SIM_CLI,
  failMemberHost,
  fire,
  hostDownAlert,
  notification,
  settled,
  startRig,
  taskStates,
  vmoves,
} from './helpers/sim-rig.js';

async function unfenced(t: Test, o: RigOptions, reason: RegExp) {
  const rig = await startRig(t, o);
  const hook = rig.hook!;
  const victim = await failMemberHost(rig);
  const before = rig.residentVms(victim).map((v) => v.uuid);
  const uuid = await fire(hook, hostDownAlert(rig, victim));
  const n = await settled(hook, uuid);

  t.equal(n.status, 'ignored');
  t.match(n.message, reason, 'the reason is given');
  t.same(taskStates(n), {
    confirm_host_down: 'SUCCESS',
    fence_host: 'FAILURE',
    disable_host: 'PENDING',
    plan_vm_restarts: 'PENDING',
    reset_vm_power_states: 'PENDING',
    restart_vms: 'PENDING',
  });
  t.same(await vmoves(hook, uuid), [], 'no restart was even planned');
  t.same(rig.calls.starts, [], 'no VM started anywhere');
  t.same(rig.calls.resets, [], 'no power state reset');
  t.same(rig.calls.powerOffs, [], 'the BMC never powered the host off');
  t.same(
    rig.residentVms(victim).map((v) => v.uuid),
    before,
    'the VMs are still recorded on the unfenced host',
  );
  for (const vm of before) t.match(await rig.vmStatus(vm), { power_state: 'Running', resident_on: victim.name });
  t.match(await rig.hostStatus(victim.name), { power: 'on', crashed: true, live: false, enabled: true });
  return { rig, n };
}

t.test('unfenced host: the BMC acknowledges power-off but keeps reporting on → nothing is started', async (t) => {
  // A BMC that answers the power-off command and never powers off: the power-off command only asks for the status.
  await unfenced(
    t,
    { fencing: (control) => ({ power_off_command: `${SIM_CLI} power-status {bmc} --control ${control} --ipmitool-output`, confirm_timeout_seconds: 1 }) },
    /^fence_host failed: fencing xcp-host-\d+: BMC does not report power off within 1 s$/,
  );
});

t.test('unfenced host: the fencing command fails (unknown BMC) → nothing is started', async (t) => {
  const { n } = await unfenced(t, { fencing: { bmc: { 'xcp-host-01': '192.0.2.1', 'xcp-host-02': '192.0.2.2', 'xcp-host-03': '192.0.2.3' } } }, /^fence_host failed: fencing xcp-host-\d+: power-status command exited with 1: Error: no host 192\.0\.2\.\d$/);
  t.notMatch(n.message, /simulated-bmc-password/, 'the BMC password never shows');
});

t.test('unfenced host: no fencing configured and no host_status NORMAL from the sender → ignored', async (t) => {
  await unfenced(t, { pool: { fencing: false } }, /^no fencing configured for pool sim-pool and host_status is not NORMAL: xcp-host-\d+ is not proven off, nothing restarted$/);
});

t.test('a host that is not really down: the alert fires but XAPI reports it live → ignored, nothing touched', async (t) => {
  const rig = await startRig(t);
  const hook = rig.hook!;
  const host = rig.hosts.find((h) => !h.master)!;
  const before = rig.residentVms(host).map((v) => v.uuid);
  const uuid = await fire(hook, hostDownAlert(rig, host));
  const n = await settled(hook, uuid);
  t.equal(n.status, 'ignored');
  t.equal(n.message, `XAPI reports host ${host.name} live (host_metrics.live = true): not confirmed down, nothing restarted`);
  t.same(taskStates(n).confirm_host_down, 'FAILURE');
  t.same(rig.calls, { starts: [], resets: [], reboots: [], powerOffs: [], toolstackRestarts: [] }, 'no XAPI or BMC action at all');
  t.match(await rig.hostStatus(host.name), { power: 'on', live: true, enabled: true, crashed: false });
  t.same(
    rig.residentVms(host).map((v) => v.uuid),
    before,
  );
  t.same((await notification(hook, uuid)).recovery_workflow_details.length, 6);
});
