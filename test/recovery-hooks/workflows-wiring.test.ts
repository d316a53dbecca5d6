// The workflows' declared inputs and outputs (recovery-hooks/workflows/signatures.ts) and the invariant "no fence, no
// restart" (no-fence-no-restart.ts): every built-in workflow wires; the configurable task lists are checked with
// the same signatures the tasks implement; a list that puts a VM reset or start before the fence is refused, and so
// is the task itself at run time when no fence result reaches it.
import t from 'tap';
import { Ignore } from '../../recovery-hooks/engine/task.js';
import { WorkflowOrderError, wire } from '../../recovery-hooks/engine/wiring.js';
import { buildWorkflows } from '../../recovery-hooks/workflows/catalog.js';
import type { WorkflowDeps } from '../../recovery-hooks/workflows/deps.js';
import { EMERGENCY_RESUME_TASKS, EMERGENCY_SHUTDOWN_TASKS, MASTER_TASKS, TASKS_BY_TYPE } from '../../recovery-hooks/workflows/names.js';
import { HOST_PROVEN_OFF, requireProvenOff } from '../../recovery-hooks/workflows/no-fence-no-restart.js';
import { EMERGENCY_RESUME, EMERGENCY_SHUTDOWN, HOST, INSTANCE, MASTER, PROCESS, taskListProblems } from '../../recovery-hooks/workflows/signatures.js';
import type { Notification } from '../../recovery-hooks/store/types.js';

// Building a workflow only creates its tasks: nothing of the deps is called.
const deps = {} as WorkflowDeps;

t.test('every built-in workflow wires, its tasks being the ones the signatures declare', async (t) => {
  const built = buildWorkflows(TASKS_BY_TYPE, deps);
  const route = (type: Notification['type'], payload: Record<string, unknown>) => built[type].routeTo?.({ type, payload } as Notification);
  const master = route('COMPUTE_HOST', { xcp_failure: 'pool_master' })!;
  const resume = route('XCP_EMERGENCY_SHUTDOWN', { event: 'POWER_RESTORED' })!;
  const lists: [string, readonly { name: string }[], readonly string[], Record<string, unknown>][] = [
    ['host', built.COMPUTE_HOST.tasks, TASKS_BY_TYPE.COMPUTE_HOST, HOST],
    ['instance', built.COMPUTE_INSTANCE.tasks, TASKS_BY_TYPE.COMPUTE_INSTANCE, INSTANCE],
    ['process', built.COMPUTE_PROCESS.tasks, TASKS_BY_TYPE.COMPUTE_PROCESS, PROCESS],
    ['master', master.tasks, MASTER_TASKS, MASTER],
    ['shutdown', built.XCP_EMERGENCY_SHUTDOWN.tasks, EMERGENCY_SHUTDOWN_TASKS, EMERGENCY_SHUTDOWN],
    ['resume', resume.tasks, EMERGENCY_RESUME_TASKS, EMERGENCY_RESUME],
  ];
  for (const [what, tasks, names, signatures] of lists) {
    t.same(
      tasks.map((task) => task.name),
      [...names],
      `${what}: the tasks in their order`,
    );
    t.same(Object.keys(signatures).sort(), [...names].sort(), `${what}: one signature per task`);
    for (const task of tasks) t.match(task, signatures[task.name] as object, `${what}: ${task.name} implements its signature`);
    t.same(wire(tasks).problems, [], `${what}: every input comes from an earlier task`);
  }
  // The master workflow gets the fence from fence_master; the host tasks it reuses follow the new master first.
  const wiring = wire(master.tasks).wiring;
  t.same(wiring.get('restart_vms'), { fenced: 'fence_master', plan: 'plan_vm_restarts', newMaster: 'promote_member' });
  t.same(wiring.get('promote_member'), { lost: 'confirm_master_lost', fenced: 'fence_master', choice: 'choose_member' });
  t.same(wire(built.COMPUTE_HOST.tasks).wiring.get('plan_vm_restarts'), {}, 'in the host workflow the plan comes before the fence');
});

t.test('a configured task list is checked with the signatures; building a misordered one fails too', async (t) => {
  for (const [type, names] of Object.entries(TASKS_BY_TYPE)) t.same(taskListProblems(type as keyof typeof TASKS_BY_TYPE, names), [], `${type} default`);
  t.same(taskListProblems('COMPUTE_HOST', ['confirm_host_down', 'plan_vm_restarts', 'restart_vms', 'fence_host']), [
    'restart_vms needs fence_host before it (its input fenced: the failed host proven off (no fence, no restart))',
  ]);
  t.same(taskListProblems('COMPUTE_HOST', ['confirm_host_down', 'fence_host', 'plan_vm_restarts', 'reset_vm_power_states']), [
    "fence_host needs plan_vm_restarts before it (its input plan: the VMs that ran on the host, recorded before the fence (the fence's commit point))",
  ]);
  t.same(taskListProblems('COMPUTE_HOST', ['plan_vm_restarts', 'disable_host']), [], 'a list without the fence and the restarts is fine');
  t.same(taskListProblems('COMPUTE_INSTANCE', ['recover_instance', 'confirm_instance_running']), [
    'recover_instance needs check_instance before it (its input check: what the VM needs: a start or a hard reboot)',
  ]);
  t.same(taskListProblems('COMPUTE_INSTANCE', ['check_instance', 'confirm_instance_running']), [], 'confirming without acting reads no action');
  t.same(taskListProblems('COMPUTE_PROCESS', ['confirm_toolstack', 'restart_toolstack']), []);
  t.same(taskListProblems('COMPUTE_HOST', ['no_such_task', 'confirm_host_down']), [], 'unknown names are the schema’s to report');
  t.throws(
    () => buildWorkflows({ ...TASKS_BY_TYPE, COMPUTE_HOST: ['confirm_host_down', 'restart_vms'] }, deps),
    WorkflowOrderError,
    'a list that never went through the config check is refused when the workflow is built',
  );
});

t.test('"no fence, no restart" at run time: only a fence result lets a task act', async (t) => {
  t.equal(HOST_PROVEN_OFF.name, 'host_proven_off');
  for (const sig of [HOST.reset_vm_power_states, HOST.restart_vms, MASTER.choose_member, MASTER.promote_member, MASTER.restart_vms])
    t.equal(sig.requires.fenced, HOST_PROVEN_OFF, `${sig.name} requires the fence`);
  t.equal(HOST.fence_host.provides, HOST_PROVEN_OFF);
  t.equal(MASTER.fence_master.provides, HOST_PROVEN_OFF);
  t.doesNotThrow(() => requireProvenOff({ fencedBy: 'bmc' }, 'host h', 'no VM is reset or started'));
  t.doesNotThrow(() => requireProvenOff({ fencedBy: 'operator' }, 'host h', 'no VM is reset or started'));
  t.throws(() => requireProvenOff(undefined, 'host h', 'no VM is reset or started'), new Ignore('host h is not proven fenced: no VM is reset or started'));
  // A result that is not a fence's (a stored null, a value from elsewhere) proves nothing either.
  t.throws(() => requireProvenOff(null as never, 'pool master m', 'nothing promoted'), new Ignore('pool master m is not proven fenced: nothing promoted'));
  t.throws(() => requireProvenOff({ fencedBy: 'label' } as never, 'host h', 'x'), Ignore);
});
