// The recovery engine: Masakari's status machine driven by a background loop.
//   new → running → finished | ignored | error;  error → (after retry.interval, up to retry.attempts) → running … → failed
//   new/running/error older than expire_after (on generated_time) → failed.
// At most one workflow per host at a time and max_concurrent_workflows in all. On start, `running` notifications
// (interrupted by a stop or a kill) resume at their first unfinished task, and `new` ones start.
import type { Logger } from '../../core/log.js';
import type { PoolMode, RecoveryHookConfig, TaskSettings } from '../config.js';
import type { NotificationRecorder } from '../intake/recorder.js';
import type { NotificationStore } from '../store/store.js';
import { type Notification, type NotificationType, TERMINAL_STATUSES, type Transition } from '../store/types.js';
import type { EventMessages } from './events.js';
import type { RecoveryMetrics } from './metrics.js';
import { type RunOutcome, WorkflowRunner } from './runner.js';
import type { Workflow } from './task.js';

export type EngineConfig = Pick<
  RecoveryHookConfig,
  'retry' | 'expireAfterMs' | 'maxConcurrentWorkflows' | 'tickMs' | 'taskDefaults' | 'tasks' | 'pools'
>;

export interface EngineOptions {
  store: NotificationStore;
  recorder: NotificationRecorder;
  metrics: RecoveryMetrics;
  events: EventMessages;
  logger: Logger;
  config: EngineConfig;
  workflows: Record<NotificationType, Workflow>;
  now?: () => number;
}

export class RecoveryEngine {
  readonly #o: EngineOptions;
  readonly #now: () => number;
  readonly #runner: WorkflowRunner;
  readonly #inFlight = new Map<string, Promise<void>>();
  readonly #busyHosts = new Set<string>();
  readonly #stopping = new AbortController();
  readonly #abort = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #stopped = true;

  constructor(opts: EngineOptions) {
    this.#o = opts;
    this.#now = opts.now ?? Date.now;
    this.#runner = new WorkflowRunner({
      store: opts.store,
      metrics: opts.metrics,
      logger: opts.logger,
      now: this.#now,
      settingsFor: (task) => this.#settings(task),
      escalate: (from, type, payload) => this.#escalate(from, type, payload),
    });
    opts.recorder.onCreated(() => this.wake());
  }

  start(): void {
    this.#stopped = false;
    this.wake();
  }

  /** Run a tick soon (after a notification was recorded). */
  wake(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#loop(), 0);
  }

  /**
   * Stop: no new workflow starts; running ones finish their current task within `graceMs`, else their task is
   * aborted. Either way an unfinished workflow stays `running` in the store and resumes at the next start.
   */
  async stop(graceMs: number): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    const all = Promise.allSettled([...this.#inFlight.values()]);
    this.#stopping.abort(new Error('recovery engine stopping'));
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((r) => (grace = setTimeout(r, graceMs)))]);
    clearTimeout(grace);
    this.#abort.abort(new Error('recovery engine stopped: shutdown grace elapsed'));
    await all;
  }

  #loop(): void {
    if (this.#stopped) return;
    try {
      this.tick();
    } catch (err) {
      this.#o.logger.error('recovery engine tick failed; retrying at the next tick', { error: err });
    }
    if (!this.#stopped) this.#timer = setTimeout(() => this.#loop(), this.#o.config.tickMs);
  }

  /** One pass: expire old notifications, then start what may run. */
  tick(): void {
    const now = this.#now();
    const { config } = this.#o;
    for (const n of this.#o.store.unfinished()) {
      if (this.#inFlight.has(n.uuid)) continue;
      if (n.generatedAt < now - config.expireAfterMs) {
        const message = `expired: generated more than ${config.expireAfterMs / 1000} s ago`;
        this.#o.logger.warn(`notification failed: ${message}`, { notification: n.uuid, type: n.type, host: n.hostName, status: n.status });
        this.#transition(n, { from: [n.status], to: 'failed', message });
        continue;
      }
      if (this.#inFlight.size >= config.maxConcurrentWorkflows) continue;
      if (this.#busyHosts.has(n.hostUuid)) continue;
      if (n.status === 'error' && n.attempts > config.retry.attempts) {
        // Stopped between the error and the failed transitions: finish the job.
        this.#transition(n, { from: ['error'], to: 'failed', message: `${n.message ?? 'error'} (after ${n.attempts} run(s))` });
        continue;
      }
      if (n.status === 'error' && (n.nextAttemptAt ?? 0) > now) continue;
      this.#launch(n);
    }
  }

  #launch(n: Notification): void {
    this.#busyHosts.add(n.hostUuid);
    const run = this.#process(n)
      .catch((err) => this.#o.logger.error('workflow run failed; it is retried at the next tick', { notification: n.uuid, error: err }))
      .finally(() => {
        this.#inFlight.delete(n.uuid);
        this.#busyHosts.delete(n.hostUuid);
        this.wake();
      });
    this.#inFlight.set(n.uuid, run);
  }

  async #process(queued: Notification): Promise<void> {
    const log = this.#o.logger.child({ notification: queued.uuid, type: queued.type, host: queued.hostName, pool: queued.poolName });
    let n: Notification | undefined = queued;
    if (queued.status === 'running') log.info('resuming an interrupted workflow');
    else n = this.#transition(queued, { from: [queued.status], to: 'running', startsRun: true, message: null, nextAttemptAt: null });
    if (!n) return;

    const workflow = this.#o.workflows[n.type];
    const mode: PoolMode = this.#o.config.pools[n.poolName]?.mode ?? 'auto';
    const early = decideEarly(n, workflow, mode);
    if (early) {
      log.info(`notification ${early.status}: ${early.reason}`);
      this.#transition(n, { from: ['running'], to: early.status, message: early.reason });
      return;
    }
    if (workflow.setsMaintenance && mode === 'auto')
      this.#o.store.setMaintenance(hostOf(n), { notification: n.uuid, reason: `${n.type} recovery ${n.uuid} running` }, this.#now());

    const started = this.#now();
    const outcome: RunOutcome = await this.#runner.run(n, workflow, mode, { stopping: this.#stopping.signal, abort: this.#abort.signal });
    if (outcome.kind === 'handed-back') {
      log.info('workflow handed back to the store; it resumes at the next start');
      return;
    }
    this.#o.metrics.workflowDuration.observe({ type: n.type, status: outcome.status }, (this.#now() - started) / 1000);
    if (outcome.status !== 'error') {
      log.info(`notification ${outcome.status}`, { reason: outcome.message });
      this.#transition(n, { from: ['running'], to: outcome.status, message: outcome.message });
      return;
    }
    const { retry } = this.#o.config;
    const retriesLeft = n.attempts <= retry.attempts;
    const errored = this.#transition(n, {
      from: ['running'],
      to: 'error',
      message: outcome.message,
      nextAttemptAt: retriesLeft ? this.#now() + retry.intervalMs : null,
    });
    if (retriesLeft) log.warn(`notification error; retry in ${retry.intervalMs / 1000} s`, { reason: outcome.message, attempts: n.attempts });
    else if (errored) {
      log.error('notification failed: no retries left', { reason: outcome.message, attempts: n.attempts });
      this.#transition(errored, { from: ['error'], to: 'failed', message: `${outcome.message} (after ${n.attempts} run(s))` });
    }
  }

  #transition(n: Notification, t: Transition): Notification | undefined {
    const next = this.#o.store.transition(n.uuid, t, this.#now(), this.#o.events);
    if (!next) return undefined;
    this.#o.metrics.notifications.inc({ type: next.type, status: next.status });
    // The host stays on maintenance while its recovery runs or waits for a retry; a terminal status ends it.
    if (TERMINAL_STATUSES.includes(next.status) && this.#o.workflows[next.type].setsMaintenance && this.#maintenanceBy(next))
      this.#o.store.setMaintenance(hostOf(next), null, this.#now());
    return next;
  }

  /** Whether `n` is the recovery that put its host on maintenance. */
  #maintenanceBy(n: Notification): boolean {
    return this.#o.store.hosts().some((h) => h.hostUuid === n.hostUuid && h.maintenanceBy === n.uuid);
  }

  #escalate(from: Notification, type: NotificationType, payload: Record<string, unknown>): Notification {
    const result = this.#o.recorder.record(
      { type, hostUuid: from.hostUuid, hostName: from.hostName, poolName: from.poolName, generatedAt: this.#now(), payload, source: 'engine' },
      'proceed',
    );
    if (!result.notification) throw new Error(`escalation of ${from.uuid} was not recorded (${result.outcome})`);
    return result.notification;
  }

  #settings(task: string): TaskSettings {
    return this.#o.config.tasks[task] ?? this.#o.config.taskDefaults;
  }
}

function hostOf(n: Notification): { uuid: string; name: string; pool: string } {
  return { uuid: n.hostUuid, name: n.hostName, pool: n.poolName };
}

/** Decisions taken before any task runs: informational events, notify-only pools, the workflow's own precheck. */
function decideEarly(n: Notification, workflow: Workflow, mode: PoolMode): { status: 'ignored' | 'finished'; reason: string } | undefined {
  const event = String(n.payload.event ?? '').toUpperCase();
  if (event === 'STARTED') return { status: 'finished', reason: 'STARTED event recorded (a recovery signal is never taken as proof of recovery)' };
  if (mode === 'notify-only') return { status: 'ignored', reason: `pool ${n.poolName} is in notify-only mode: no recovery attempted` };
  return workflow.precheck?.(n);
}
