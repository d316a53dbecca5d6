// The `recovery_hook.emergency:` section: timings of the emergency shutdown on power loss and of the resume
// (workflows/emergency*.ts). YAML keys are snake_case; the parsed value is camelCase with durations in milliseconds.
import { type Ctx, type Path, bool, num, obj, report, withDefault } from '../core/config/schema.js';
import type { TaskSettings } from './config.js';

export interface EmergencyConfig {
  /** The whole shutdown (suspends, then host halts) must end within this, when the trigger gives no UPS runtime. */
  budgetMs: number;
  /** Taken off the UPS's remaining runtime when the trigger gives one: budget = min(budget, runtime − reserve). */
  runtimeReserveMs: number;
  /** The end of the budget kept for disabling and halting the hosts. */
  hostHaltMs: number;
  /** Before the hosts' share: VMs still running this long before it are hard-shut-down. */
  hardShutdownMs: number;
  /** How long a clean shutdown (of a VM that cannot be suspended) may take before a hard shutdown. */
  cleanShutdownTimeoutMs: number;
  parallelSuspends: number;
  /** The resume powers halted hosts on through the pool's BMC (its `fencing` settings) when it has them. */
  powerOn: boolean;
  /** How long the resume waits for the hosts to boot and be live in XAPI. */
  hostBootTimeoutMs: number;
  parallelResumes: number;
  /** A resolved power-loss alert starts the resume (else only the API or the CLI do). */
  resumeOnResolved: boolean;
}

const seconds = (min: number, max: number) => num({ min, max });

export const emergencyShape = obj({
  budget_seconds: withDefault(seconds(10, 86400), 600),
  runtime_reserve_seconds: withDefault(seconds(0, 86400), 60),
  host_halt_seconds: withDefault(seconds(1, 3600), 120),
  hard_shutdown_seconds: withDefault(seconds(1, 3600), 30),
  clean_shutdown_timeout_seconds: withDefault(seconds(1, 3600), 60),
  parallel_suspends: withDefault(num({ min: 1, max: 64, integer: true }), 4),
  power_on: withDefault(bool(), true),
  host_boot_timeout_seconds: withDefault(seconds(10, 86400), 900),
  parallel_resumes: withDefault(num({ min: 1, max: 64, integer: true }), 4),
  resume_on_resolved: withDefault(bool(), true),
});

type RawEmergency = NonNullable<ReturnType<typeof emergencyShape.parse>>;

export function resolveEmergency(raw: RawEmergency, path: Path, ctx: Ctx): EmergencyConfig {
  if (raw.host_halt_seconds + raw.hard_shutdown_seconds >= raw.budget_seconds)
    report(
      ctx,
      [...path, 'budget_seconds'],
      `must be more than host_halt_seconds + hard_shutdown_seconds (${raw.host_halt_seconds + raw.hard_shutdown_seconds}): no time would be left to suspend VMs`,
    );
  return {
    budgetMs: raw.budget_seconds * 1000,
    runtimeReserveMs: raw.runtime_reserve_seconds * 1000,
    hostHaltMs: raw.host_halt_seconds * 1000,
    hardShutdownMs: raw.hard_shutdown_seconds * 1000,
    cleanShutdownTimeoutMs: raw.clean_shutdown_timeout_seconds * 1000,
    parallelSuspends: raw.parallel_suspends,
    powerOn: raw.power_on,
    hostBootTimeoutMs: raw.host_boot_timeout_seconds * 1000,
    parallelResumes: raw.parallel_resumes,
    resumeOnResolved: raw.resume_on_resolved,
  };
}

/**
 * Task timeouts that fit the budget, unless `recovery_hook.tasks` sets them: the suspends and the halts each get the
 * whole budget (a task's timeout must never cut the escalation to hard shutdowns short), the resume the boot timeout.
 */
export function emergencyTaskDefaults(e: EmergencyConfig, defaults: TaskSettings): Record<string, TaskSettings> {
  const margin = 60_000;
  const long = (ms: number): TaskSettings => ({ ...defaults, timeoutMs: Math.max(defaults.timeoutMs, ms + margin) });
  return {
    suspend_vms: long(e.budgetMs),
    halt_hosts: long(e.budgetMs),
    power_on_hosts: long(e.hostBootTimeoutMs),
    resume_vms: long(e.hostBootTimeoutMs),
  };
}
