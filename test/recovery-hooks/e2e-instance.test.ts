// End to end, instance failure: the receiver with the real XAPI client against the simulated pool. A crashed VM
// (halted) is started, a VM whose guest heartbeat froze is hard-rebooted, and both run again with a fresh heartbeat;
// a VM an operator paused or shut down cleanly is never touched. Alerts are labelled as rules/xcp-alerts.yml labels
// XcpVmHaltedUnexpectedly and XcpVmGuestHeartbeatLost.
import t from 'tap';
import { xapiTime } from '../../recovery-hooks/workflows/xapi.js';
import {
  type Rig,
  type SimHost,
  fire,
  instanceAlert,
  postWebhook,
  progressLines,
  settled,
  sleep,
  startRig,
  taskStates,
  waitUntil,
  webhookBody,
} from './helpers/sim-rig.js';

// Guest agents rewrite their memory report every 0.4 s (the RRD's 5 s rows all differ); a report standing still for
// 15 s (three rows) means a hung guest. VM_guest_metrics.last_updated moves only when a new domain's agent first
// reports (xapi_guest_agent.ml): the confirmation after a start or a reboot.
const SIM = { guestHeartbeatMs: 400 };
const HEARTBEAT = { instance_failure: { heartbeat_timeout_seconds: 15, confirm_timeout_seconds: 5 } };
const iso = (ms: number) => new Date(ms).toISOString();
const floorSecond = (ms: number) => Math.floor(ms / 1000) * 1000;

function memberVm(rig: Rig, index = 0): { host: SimHost; vm: { uuid: string; name: string; ref: string } } {
  const host = rig.hosts.find((h) => !h.master && rig.residentVms(h).length > index)!;
  return { host, vm: rig.residentVms(host)[index]! };
}

const ALL_SUCCESS = { check_instance: 'SUCCESS', recover_instance: 'SUCCESS', confirm_instance_running: 'SUCCESS' };

t.test('crashed VM (halted): started again with a fresh guest heartbeat — and again after a second crash', async (t) => {
  const rig = await startRig(t, { sim: SIM, recoveryHook: HEARTBEAT });
  const hook = rig.hook!;
  const { host, vm } = memberVm(rig);

  for (const round of [1, 2]) {
    await sleep(20);
    const crashedAt = Date.now();
    await rig.control(`/sim/vms/${vm.uuid}/crash`, { mode: 'halt' });
    t.match(await rig.vmStatus(vm.uuid), { power_state: 'Halted', resident_on: null });
    // Each crash is its own alert, active from the crash on (Prometheus' startsAt), well inside the 180 s
    // duplicate window of the first: the second is a new failure, not a repeat of the first (finished) one.
    const [receipt] = await postWebhook(hook, webhookBody([instanceAlert(rig, vm, host, 'crashed', { startsAt: iso(crashedAt) })]));
    t.equal(receipt!.outcome, 'created', `crash ${round}: a new notification, not a duplicate of the finished recovery`);
    const n = await settled(hook, receipt!.notification_uuid!);
    t.equal(n.status, 'finished', `crash ${round}: ${n.message ?? 'finished'}`);
    t.same(n.payload, { instance_uuid: vm.uuid, vir_domain_event: 'STOPPED_FAILED', event: 'LIFECYCLE', vm_name: vm.name });
    t.same(taskStates(n), ALL_SUCCESS);
    t.same(progressLines(n), [
      `check_instance: VM ${vm.name} is Halted after a crash: it will be started`,
      `recover_instance: start VM ${vm.name} (VM.start)`,
      `confirm_instance_running: VM ${vm.name} runs and its guest reports`,
    ]);
    const status = await rig.vmStatus(vm.uuid);
    t.match(status, { power_state: 'Running', heartbeat_frozen: false }, `crash ${round}: the VM runs`);
    t.ok(xapiTime(status.guest_last_updated) >= floorSecond(crashedAt), `crash ${round}: its guest heartbeat is fresh (${status.guest_last_updated})`);
    t.same(rig.calls.starts, Array(round).fill(vm.uuid), `crash ${round}: one VM.start per crash`);
  }
  t.same(rig.calls.reboots, []);
  const list = await hook.request('GET', `/v1/notifications?source_host_uuid=${host.uuid}&type=COMPUTE_INSTANCE`);
  t.equal(list.json.notifications.length, 2, 'one notification per crash');
});

t.test('frozen guest heartbeat: hard reboot, then the heartbeat is back; a live heartbeat is left alone', async (t) => {
  const rig = await startRig(t, { sim: SIM, recoveryHook: HEARTBEAT });
  const hook = rig.hook!;
  const { host, vm } = memberVm(rig, 0);
  const { vm: healthy } = memberVm(rig, 1);

  // A heartbeat alert for a VM whose guest still reports: nothing to do.
  const fine = await settled(hook, await fire(hook, instanceAlert(rig, healthy, host, 'heartbeat')));
  t.equal(fine.status, 'finished');
  t.match(fine.message, new RegExp(`^VM ${healthy.name} runs and its guest's memory report changed \\d+ s ago: nothing to do$`));
  t.same(rig.calls.reboots, [], 'a reporting guest is not rebooted');

  await rig.control(`/sim/vms/${vm.uuid}/crash`, { mode: 'heartbeat' });
  const frozenAt = Date.now();
  const frozen = await waitUntil(
    'the memory report to stand still for the whole 15 s window',
    async () => {
      const s = await rig.vmStatus(vm.uuid);
      return Date.now() - frozenAt > 21_000 ? s : undefined;
    },
    30_000,
    500,
  );
  t.match(frozen, { power_state: 'Running', heartbeat_frozen: true });
  const alertAt = Date.now();
  const uuid = await fire(hook, instanceAlert(rig, vm, host, 'heartbeat'));
  const n = await settled(hook, uuid);
  t.equal(n.status, 'finished', n.message ?? 'finished');
  t.same(n.payload, { instance_uuid: vm.uuid, vir_domain_event: 'STOPPED_FAILED', event: 'QEMU_GUEST_AGENT_ERROR', vm_name: vm.name });
  t.same(taskStates(n), ALL_SUCCESS);
  const lines = progressLines(n);
  t.match(lines[0], new RegExp(`^check_instance: VM ${vm.name} runs but its guest's memory report has not changed for \\d+ s: it will be hard-rebooted$`));
  t.equal(lines[1], `recover_instance: hard-reboot VM ${vm.name} (VM.hard_reboot)`);
  t.equal(lines.at(-1), `confirm_instance_running: VM ${vm.name} runs and its guest reports`);

  t.same(rig.calls.reboots, [vm.uuid], 'one hard reboot');
  t.same(rig.calls.starts, [], 'no start');
  const status = await rig.vmStatus(vm.uuid);
  t.match(status, { power_state: 'Running', resident_on: host.name, heartbeat_frozen: false });
  t.ok(xapiTime(status.guest_last_updated) >= floorSecond(alertAt), `the heartbeat is back (${status.guest_last_updated})`);
});

t.test('a VM paused by an operator is not touched, whatever the alert says', async (t) => {
  const rig = await startRig(t, { sim: SIM, recoveryHook: HEARTBEAT });
  const hook = rig.hook!;
  const { host, vm } = memberVm(rig);
  await rig.xapi.call('VM.pause', await rig.xapi.call<string>('VM.get_by_uuid', vm.uuid));

  for (const kind of ['crashed', 'heartbeat'] as const) {
    const n = await settled(hook, await fire(hook, instanceAlert(rig, vm, host, kind)));
    t.equal(n.status, 'ignored', kind);
    t.equal(n.message, `VM ${vm.name} is Paused (an operator's choice): not touched`);
    t.same(taskStates(n), { check_instance: 'FAILURE', recover_instance: 'PENDING', confirm_instance_running: 'PENDING' });
  }
  t.match(await rig.vmStatus(vm.uuid), { power_state: 'Paused', resident_on: host.name });
  t.same(rig.calls, { starts: [], resets: [], reboots: [], powerOffs: [], toolstackRestarts: [] });
});

t.test('a VM shut down cleanly is not touched (heartbeat alert, or a Masakari STOPPED_SHUTDOWN event)', async (t) => {
  const rig = await startRig(t, { sim: SIM, recoveryHook: HEARTBEAT });
  const hook = rig.hook!;
  const { host, vm } = memberVm(rig);
  await rig.xapi.call('VM.clean_shutdown', await rig.xapi.call<string>('VM.get_by_uuid', vm.uuid));
  t.match(await rig.vmStatus(vm.uuid), { power_state: 'Halted' });

  // The heartbeat alert of a VM that was then shut down: a deliberate shutdown.
  const viaAlert = await settled(hook, await fire(hook, instanceAlert(rig, vm, host, 'heartbeat')));
  t.equal(viaAlert.status, 'ignored');
  t.equal(viaAlert.message, `VM ${vm.name} is Halted after a heartbeat alert: treated as a deliberate shutdown, not touched`);

  // What masakari-instancemonitor sends for a clean shutdown (libvirt STOPPED_SHUTDOWN): not actionable.
  const created = await hook.request('POST', '/v1/notifications', {
    body: {
      notification: {
        type: 'VM',
        hostname: host.name,
        generated_time: new Date().toISOString(),
        payload: { event: 'LIFECYCLE', instance_uuid: vm.uuid, vir_domain_event: 'STOPPED_SHUTDOWN' },
      },
    },
  });
  t.equal(created.status, 202);
  const viaApi = await settled(hook, created.json.notification.notification_uuid);
  t.equal(viaApi.status, 'ignored');
  t.equal(viaApi.message, 'event LIFECYCLE/STOPPED_SHUTDOWN is not actionable (a deliberate stop or an informational event)');

  t.match(await rig.vmStatus(vm.uuid), { power_state: 'Halted', resident_on: null });
  t.same(rig.calls.starts, [], 'never started');
});
