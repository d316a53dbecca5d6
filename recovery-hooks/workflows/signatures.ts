// What each task of the workflows requires and provides (Masakari's taskflow requires / provides), in one place: the
// config check refuses a configured task list that reads an input before a task provides it (taskListProblems), and
// the workflows are built from tasks implementing these signatures (engine/wiring.ts implement, defineWorkflow).
import type { Signature } from '../engine/task.js';
import { optional, output, signatures, wire } from '../engine/wiring.js';
import type { MasakariNotificationType } from '../store/types.js';
import type { EmergencyPlan } from './emergency.js';
import type { ResumePlan } from './emergency-resume.js';
import type { VmReport } from './emergency-shutdown.js';
import type { PlanSummary } from './host.js';
import type { InstanceAction } from './instance.js';
import type { ChosenMaster, MasterLost } from './master.js';
import { HOST_PROVEN_OFF } from './no-fence-no-restart.js';

// Host failure (workflows/host.ts).
export const HOST_DOWN = output<null>('host_down', 'the host confirmed down: not live in XAPI and not answering');
export const RESTART_PLAN = output<PlanSummary>('restart_plan', "the VMs that ran on the host, recorded before the fence (the fence's commit point)");

export const HOST = signatures({
  confirm_host_down: { provides: HOST_DOWN },
  plan_vm_restarts: { requires: { fenced: optional(HOST_PROVEN_OFF) }, provides: RESTART_PLAN },
  fence_host: { requires: { down: HOST_DOWN, plan: RESTART_PLAN }, provides: HOST_PROVEN_OFF },
  disable_host: {},
  // The plan is read through ctx.moves; required so that nothing is reset or started that was not recorded first.
  reset_vm_power_states: { requires: { fenced: HOST_PROVEN_OFF, plan: RESTART_PLAN } },
  restart_vms: { requires: { fenced: HOST_PROVEN_OFF, plan: RESTART_PLAN } },
});

// Instance failure (workflows/instance.ts).
export const INSTANCE_ACTION = output<{ action: InstanceAction }>('instance_action', 'what the VM needs: a start or a hard reboot');
export const INSTANCE_ACTED = output<{ actedAt: number }>('instance_acted', 'when the VM was started or rebooted');

export const INSTANCE = signatures({
  check_instance: { provides: INSTANCE_ACTION },
  recover_instance: { requires: { check: INSTANCE_ACTION }, provides: INSTANCE_ACTED },
  confirm_instance_running: { requires: { acted: optional(INSTANCE_ACTED) } },
});

// Process failure (workflows/process.ts): each task reads the host's state itself.
export const PROCESS = signatures({ check_toolstack: {}, restart_toolstack: {}, confirm_toolstack: {} });

// Pool master loss (workflows/master.ts): the host workflow's last four tasks run on the new master.
export const MASTER_LOST = output<MasterLost>('master_lost', 'the lost master as XAPI names it, and the members that answered');
export const MEMBER_CHOSEN = output<ChosenMaster>('member_chosen', 'the member to promote (or the master already there)');
export const NEW_MASTER = output<ChosenMaster>('new_master', 'the member that answers as the new pool master');

/** A host task run on the new master: it also requires the new master, to follow it first. */
const onNewMaster = <S extends Signature>(s: S) => ({ ...s, requires: { ...s.requires, newMaster: NEW_MASTER } });

export const MASTER = {
  ...signatures({
    confirm_master_lost: { provides: MASTER_LOST },
    restart_master_toolstack: { requires: { lost: MASTER_LOST } },
    fence_master: { requires: { lost: MASTER_LOST }, provides: HOST_PROVEN_OFF },
    choose_member: { requires: { lost: MASTER_LOST, fenced: HOST_PROVEN_OFF }, provides: MEMBER_CHOSEN },
    promote_member: { requires: { lost: MASTER_LOST, fenced: HOST_PROVEN_OFF, choice: MEMBER_CHOSEN }, provides: NEW_MASTER },
    recover_members: { requires: { lost: MASTER_LOST, master: NEW_MASTER } },
    verify_vm_placement: { requires: { lost: MASTER_LOST, master: NEW_MASTER } },
  }),
  plan_vm_restarts: onNewMaster(HOST.plan_vm_restarts),
  disable_host: onNewMaster(HOST.disable_host),
  reset_vm_power_states: onNewMaster(HOST.reset_vm_power_states),
  restart_vms: onNewMaster(HOST.restart_vms),
};

// Emergency shutdown and resume (workflows/emergency-shutdown.ts, emergency-resume.ts).
export const EMERGENCY_PLAN = output<EmergencyPlan>('emergency_plan', 'the hosts and VMs to put down, and the deadlines');
export const VMS_PUT_DOWN = output<{ vms: VmReport[] }>('vms_put_down', 'how each VM was put down');
export const RESUME_PLAN = output<ResumePlan>('resume_plan', 'the plan of the emergency shutdown to undo');
export const HOSTS_BACK = output<{ back: string[] }>('hosts_back', 'the hosts that are back');

export const EMERGENCY_SHUTDOWN = signatures({
  plan_emergency_shutdown: { provides: EMERGENCY_PLAN },
  suspend_vms: { requires: { plan: EMERGENCY_PLAN }, provides: VMS_PUT_DOWN },
  halt_hosts: { requires: { plan: EMERGENCY_PLAN, putDown: optional(VMS_PUT_DOWN) } },
});

export const EMERGENCY_RESUME = signatures({
  plan_resume: { provides: RESUME_PLAN },
  power_on_hosts: { requires: { resume: RESUME_PLAN }, provides: HOSTS_BACK },
  resume_vms: { requires: { resume: RESUME_PLAN, back: optional(HOSTS_BACK) } },
});

const CONFIGURABLE: Record<MasakariNotificationType, Readonly<Record<string, Signature>>> = {
  COMPUTE_HOST: HOST,
  COMPUTE_INSTANCE: INSTANCE,
  COMPUTE_PROCESS: PROCESS,
};

/** Why a configured task list (`recovery_hook.workflows.<type>`) cannot run: a task whose input no earlier one provides. */
export function taskListProblems(type: MasakariNotificationType, names: readonly string[]): string[] {
  const known = CONFIGURABLE[type];
  const listed = names.flatMap((name) => (known[name] ? [known[name]] : []));
  return wire(listed, Object.values(known)).problems;
}
