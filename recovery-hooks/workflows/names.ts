// The task names of each workflow, in their default order. Config validates `recovery_hook.workflows` against these;
// workflows/catalog.ts maps each name to its implementation.
import type { MasakariNotificationType } from '../store/types.js';

export const HOST_TASKS = ['confirm_host_down', 'plan_vm_restarts', 'fence_host', 'disable_host', 'reset_vm_power_states', 'restart_vms'] as const;
export const INSTANCE_TASKS = ['check_instance', 'recover_instance', 'confirm_instance_running'] as const;
/** The pool master failover (workflows/master.ts): a COMPUTE_HOST notification marked `xcp_failure: pool_master`.
 * Fixed order, not configurable: each step is a safety precondition of the next. */
export const MASTER_TASKS = [
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
] as const;
export const PROCESS_TASKS = ['check_toolstack', 'restart_toolstack', 'confirm_toolstack'] as const;

/** XCP_EMERGENCY_SHUTDOWN: POWER_LOST runs the shutdown, POWER_RESTORED the resume (not configurable). */
export const EMERGENCY_SHUTDOWN_TASKS = ['plan_emergency_shutdown', 'suspend_vms', 'halt_hosts'] as const;
export const EMERGENCY_RESUME_TASKS = ['plan_resume', 'power_on_hosts', 'resume_vms'] as const;

export const TASKS_BY_TYPE: Record<MasakariNotificationType, readonly string[]> = {
  COMPUTE_HOST: HOST_TASKS,
  COMPUTE_INSTANCE: INSTANCE_TASKS,
  COMPUTE_PROCESS: PROCESS_TASKS,
};
