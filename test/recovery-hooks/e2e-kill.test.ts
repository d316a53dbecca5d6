// End to end, kill and restart: the receiver runs as operators run it (`xcp-sentinel recovery-hook --config F`, a
// child process) against the simulated pool, which stays in this process. It is SIGKILLed while the host workflow
// is starting VMs (VM boots are slow here, so starts are in flight), and a new receiver on the same SQLite file
// resumes the workflow at its unfinished task: every VM ends up running elsewhere, started exactly once, and no
// finished step is done again (the host is fenced once, each power state reset once).
import t from 'tap';
import { SqliteNotificationStore } from '../../recovery-hooks/store/sqlite.js';
import type { TaskRecord, VmMove } from '../../recovery-hooks/store/types.js';
import { spawnReceiver } from './helpers/receiver-process.js';
import {
  TOKEN,
  countBy,
  hostDownAlert,
  progressLines,
  settled,
  startRig,
  taskStates,
  untilNotLive,
  vmoves,
  waitUntil,
  webhookBody,
} from './helpers/sim-rig.js';

/** The store's view, read through a second connection (WAL: readers do not disturb the receiver). */
async function readStore(path: string, uuid: string): Promise<{ status: string; attempts: number; tasks: TaskRecord[]; moves: VmMove[] }> {
  const store = new SqliteNotificationStore(path);
  try {
    const n = (await store.get(uuid))!;
    return { status: n.status, attempts: n.attempts, tasks: await store.tasks(uuid), moves: await store.moves(uuid) };
  } finally {
    await store.close();
  }
}

const lines = (tasks: TaskRecord[], names: string[]) =>
  tasks.filter((x) => names.includes(x.name)).flatMap((x) => x.details.map((d) => `${x.name}: ${d.message}`));

t.test('SIGKILL while the host workflow starts VMs: a new receiver on the same store finishes it, each VM started once', async (t) => {
  const rig = await startRig(t, { start: false, sim: { vmBootMs: 1500 }, recoveryHook: { host_failure: { parallel_starts: 2 } } });
  const storePath = rig.config.recovery_hook.storePath;
  const victim = rig.hosts.find((h) => !h.master && rig.residentVms(h).length >= 3)!;
  const vms = rig.residentVms(victim);
  const others = rig.hosts.filter((h) => h.name !== victim.name).map((h) => h.name);

  const { url, log, exited, process: child } = await spawnReceiver(t, rig.configFile);

  await rig.control(`/sim/hosts/${victim.name}/fail`, {});
  await untilNotLive(rig, victim);
  const res = await fetch(`${url}/alertmanager`, {
    method: 'POST',
    headers: { 'X-Auth-Token': TOKEN, 'Content-Type': 'application/json' },
    body: JSON.stringify(webhookBody([hostDownAlert(rig, victim)])),
  });
  t.equal(res.status, 202);
  const uuid = ((await res.json()) as any).receipts[0].notification_uuid as string;

  // Kill as soon as XAPI accepted the first VM start (the VM boots for 1.5 s: its start is in flight).
  await waitUntil('the first VM start', () => rig.calls.starts.length > 0, 30_000, 5);
  child.kill('SIGKILL');
  t.equal(await exited, 'SIGKILL');
  const startedBeforeKill = [...rig.calls.starts];
  t.ok(startedBeforeKill.length < vms.length, `killed with ${vms.length - startedBeforeKill.length} VM(s) not yet started`);
  t.ok(
    log.some((l) => l.msg === 'notification recorded from Alertmanager' && l.notification === uuid),
    'the child recorded the alert',
  );

  const atKill = await readStore(storePath, uuid);
  t.equal(atKill.status, 'running', 'the store says running: the workflow was interrupted');
  t.same(
    atKill.tasks.map((x) => [x.name, x.state]),
    [
      ['confirm_host_down', 'SUCCESS'],
      ['plan_vm_restarts', 'SUCCESS'],
      ['fence_host', 'SUCCESS'],
      ['disable_host', 'SUCCESS'],
      ['reset_vm_power_states', 'SUCCESS'],
      ['restart_vms', 'RUNNING'],
    ],
  );
  t.ok(
    atKill.moves.some((m) => m.status === 'ongoing'),
    `a move was ongoing: ${atKill.moves.map((m) => `${m.vmName} ${m.status}`).join(', ')}`,
  );
  t.ok(
    atKill.moves.some((m) => m.status === 'pending'),
    'and some were still pending',
  );

  // A new receiver (same config, same store file) resumes it.
  const hook = await rig.startHook();
  const n = await settled(hook, uuid);
  t.equal(n.status, 'finished', n.message ?? 'finished');
  t.ok(
    hook.logger.lines.some((l) => l.msg === 'resuming an interrupted workflow' && l.notification === uuid),
    'resumed, not started over',
  );
  t.same(Object.values(taskStates(n)), ['SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS']);

  // No step was done twice: the simulator saw one fence, one reset and one start per VM…
  t.same(rig.calls.powerOffs, [victim.name], 'fenced once');
  t.same(countBy(rig.calls.resets), Object.fromEntries(vms.map((v) => [v.uuid, 1])), 'each power state reset once');
  t.same(countBy(rig.calls.starts), Object.fromEntries(vms.map((v) => [v.uuid, 1])), 'each VM started exactly once');
  // …and the store's records agree: the finished tasks were not run again, each VM's start was asked for once.
  const after = await readStore(storePath, uuid);
  t.equal(after.attempts, 1, 'the same run, not a second attempt');
  const finishedTasks = ['confirm_host_down', 'fence_host', 'disable_host', 'plan_vm_restarts', 'reset_vm_power_states'];
  t.same(lines(after.tasks, finishedTasks), lines(atKill.tasks, finishedTasks), 'no progress added to the tasks finished before the kill');
  // A VM whose start XAPI had accepted before the kill is not asked to start again. (A move marked ongoing whose
  // call had not reached XAPI yet is started by the resumed task: still one start in the simulator.)
  const all = progressLines(n);
  for (const vm of vms.filter((v) => startedBeforeKill.includes(v.uuid)))
    t.equal(all.filter((l) => l === `restart_vms: starting VM ${vm.name}`).length, 1, `"starting VM ${vm.name}" once: not asked again after the restart`);

  const moves = await vmoves(hook, uuid);
  for (const vm of vms) {
    const status = await rig.vmStatus(vm.uuid);
    t.equal(status.power_state, 'Running', `${vm.name} runs`);
    t.ok(others.includes(status.resident_on), `${vm.name} runs on ${status.resident_on}`);
    const move = moves.find((m) => m.instance_uuid === vm.uuid);
    t.match(move, { status: 'succeeded', dest_host: status.resident_on, source_host: victim.name });
    // A start in flight at the kill is found running by the resumed task, not started again.
    if (startedBeforeKill.includes(vm.uuid)) t.equal(move.message, `already running on ${status.resident_on}`);
  }
});
