// Builds the workflows: Masakari's three from the task lists in the config (`recovery_hook.workflows`), the pool master
// failover (a COMPUTE_HOST marked xcp_failure: pool_master), and the emergency shutdown (shutdown on POWER_LOST, resume
// on POWER_RESTORED). Each is checked as it is built: every input a task requires comes from an earlier task.
import type { Task, Workflow } from '../engine/task.js';
import { defineWorkflow } from '../engine/wiring.js';
import type { MasakariNotificationType, NotificationType } from '../store/types.js';
import type { WorkflowDeps } from './deps.js';
import { emergencyPayload } from './emergency.js';
import { emergencyResumeTasks, resumePrecheck } from './emergency-resume.js';
import { emergencyShutdownTasks } from './emergency-shutdown.js';
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

export function buildWorkflows(names: Record<MasakariNotificationType, readonly string[]>, deps: WorkflowDeps): Record<NotificationType, Workflow> {
  const resume = defineWorkflow({
    type: 'XCP_EMERGENCY_SHUTDOWN',
    tasks: emergencyResumeTasks(deps),
    precheck: resumePrecheck(deps.emergency),
    setsMaintenance: false,
  });
  const master = defineWorkflow({ type: 'COMPUTE_HOST', tasks: pick(masterTasks(deps), MASTER_TASKS), setsMaintenance: true });
  return {
    COMPUTE_HOST: defineWorkflow({
      type: 'COMPUTE_HOST',
      tasks: pick(hostTasks(deps), names.COMPUTE_HOST),
      setsMaintenance: true,
      routeTo: (n) => (isMasterLoss(n) ? master : undefined),
    }),
    COMPUTE_INSTANCE: defineWorkflow({
      type: 'COMPUTE_INSTANCE',
      tasks: pick(instanceTasks(deps), names.COMPUTE_INSTANCE),
      precheck: instancePrecheck,
      setsMaintenance: false,
    }),
    COMPUTE_PROCESS: defineWorkflow({ type: 'COMPUTE_PROCESS', tasks: pick(processTasks(deps), names.COMPUTE_PROCESS), setsMaintenance: true }),
    // The same type both ways: POWER_LOST shuts down, POWER_RESTORED resumes.
    XCP_EMERGENCY_SHUTDOWN: defineWorkflow({
      type: 'XCP_EMERGENCY_SHUTDOWN',
      tasks: emergencyShutdownTasks(deps),
      setsMaintenance: false,
      routeTo: (n) => (emergencyPayload(n).event === 'POWER_RESTORED' ? resume : undefined),
    }),
  };
}
