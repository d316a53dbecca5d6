// Builds the three workflows (and the pool master failover, a COMPUTE_HOST marked xcp_failure: pool_master) from the task lists in the config (`recovery_hook.workflows`).
import type { Task, Workflow } from '../engine/task.js';
import type { NotificationType } from '../store/types.js';
import type { WorkflowDeps } from './deps.js';
import { hostTasks } from './host.js';
import { instancePrecheck, instanceTasks } from './instance.js';
import { isMasterLoss, masterTasks } from './master.js';
import { MASTER_TASKS } from './names.js';
import { processTasks } from './process.js';

function pick(available: Record<string, Task>, names: readonly string[]): Task[] {
  return names.map((name) => {
    const task = available[name];
    if (!task) throw new Error(`unknown task ${name}`);
    return task;
  });
}

export function buildWorkflows(names: Record<NotificationType, readonly string[]>, deps: WorkflowDeps): Record<NotificationType, Workflow> {
  const master: Workflow = { type: 'COMPUTE_HOST', tasks: pick(masterTasks(deps), MASTER_TASKS), setsMaintenance: true };
  return {
    COMPUTE_HOST: { type: 'COMPUTE_HOST', tasks: pick(hostTasks(deps), names.COMPUTE_HOST), setsMaintenance: true, routeTo: (n) => (isMasterLoss(n) ? master : undefined) },
    COMPUTE_INSTANCE: { type: 'COMPUTE_INSTANCE', tasks: pick(instanceTasks(deps), names.COMPUTE_INSTANCE), precheck: instancePrecheck, setsMaintenance: false },
    COMPUTE_PROCESS: { type: 'COMPUTE_PROCESS', tasks: pick(processTasks(deps), names.COMPUTE_PROCESS), setsMaintenance: true },
  };
}
