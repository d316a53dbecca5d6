// The recovery engine: Masakari's status machine driven by a background loop.
//   new → running → finished | ignored | error;  error → (after retry.interval, up to retry.attempts) → running … → failed
//   new/running/error older than expire_after (on generated_time) → failed.
// At most one workflow per host at a time and max_concurrent_workflows in all. On start, `running` notifications
// (interrupted by a stop or a kill) resume at their first unfinished task, and `new` ones start.
//
// Several receivers may share one store: a workflow runs only under its lease, renewed while it runs and checked
// again before every action. Host-level workflows (host, toolstack) hold `host:<uuid>`; VM workflows hold
// `host:<uuid>/vm:<vm uuid>`, so crashed VMs of one host recover in parallel (within max_concurrent_workflows) while
// a host-level workflow and the VM workflows of its host exclude each other (the store checks both in one step).
// A workflow that waits for an operator is parked: it holds no lease and no slot until the confirmation is stored. A receiver that dies stops renewing; once its lease
// expires another one takes the notification over at its first unfinished task. A receiver that cannot renew
// (lost lease, store unreachable for the lease's length) abandons the workflow at once.
import type { Logger } from '../../core/log.js';
import type { OperatorWait, OutboxInput } from '../store/types.js';
import type { PoolMode, RecoveryHookConfig, TaskSettings } from '../config.js';
import type { NotificationRecorder } from '../intake/recorder.js';
import type { NotificationStore } from '../store/store.js';
import { type LeaseConflicts, type Notification, type NotificationType, TERMINAL_STATUSES, type Transition } from '../store/types.js';
import type { EventMessages } from './events.js';
import type { RecoveryMetrics } from './metrics.js';
import { LeaseKeeper } from './lease.js';
import { RunBackoff, failedRunTransitions, failureMessage } from './run-failures.js';
import { type RunOutcome, type RunnerOptions, WorkflowRunner } from './runner.js';
import type { Workflow } from './task.js';

export type EngineConfig = Pick<
  RecoveryHookConfig,
  'retry' | 'expireAfterMs' | 'maxConcurrentWorkflows' | 'tickMs' | 'taskDefaults' | 'tasks' | 'pools' | 'leaseMs'
>;

export interface EngineOptions {
  store: NotificationStore;
  recorder: NotificationRecorder;
  metrics: RecoveryMetrics;
  events: EventMessages;
  logger: Logger;
  config: EngineConfig;
  workflows: Record<NotificationType, Workflow>;
  /** What runs instead for pools in `forward` mode: follow the notification forwarded to a remote Instance-HA API. */
  forwardWorkflows?: Record<NotificationType, Workflow>;
  /** This receiver process in leases: unique among the receivers sharing the store. */
  owner: string;
  /** Web hooks around each recovery action. */
  hooks?: RunnerOptions['hooks'];
  /** Messages telling the channels that a notification waits for an operator. */
  waitEvents?: (n: Notification, wait: OperatorWait) => OutboxInput[];
  now?: () => number;
}

/** The longest rest between woken ticks (see #loop). */
const MAX_REST_MS = 250;
/** Unfinished notifications a pass reads at most (oldest first). */
const UNFINISHED_PER_TICK = 1000;

export class RecoveryEngine {
  readonly #o: EngineOptions;
  readonly #now: () => number;
  readonly #runner: WorkflowRunner;
  readonly #inFlight = new Map<string, Promise<void>>();
  /** Leases of the workflows this receiver runs (the store's leases cannot tell two workflows of one owner apart). */
  readonly #busy = new Set<string>();
  readonly #backoff: RunBackoff;
  readonly #stopping = new AbortController();
  readonly #abort = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  /** A wake() that came during a tick: run another one right after. */
  #wakeAgain = false;
  /** performance.now() before which a woken tick waits: the rest after the last one (see #loop). */
  #restUntil = 0;
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
      hooks: opts.hooks,
      waitEvents: opts.waitEvents,
    });
    opts.recorder.onCreated(() => this.wake());
    this.#backoff = new RunBackoff({ baseMs: Math.max(opts.config.tickMs, 1000), maxMs: Math.max(opts.config.retry.intervalMs, 60_000) });
  }

  start(): void {
    this.#stopped = false;
    this.wake();
  }

  /** Run a tick soon (after a notification was recorded): at once, or once the rest after the last tick is over. */
  wake(): void {
    if (this.#stopped) return;
    if (this.#ticking) return void (this.#wakeAgain = true);
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#loop(), this.#rest());
  }

  #rest(): number {
    return Math.min(this.#o.config.tickMs, Math.max(0, this.#restUntil - performance.now()));
  }

  /**
   * Stop: no new workflow starts; running ones finish their current task within `graceMs`, else their task is
   * aborted. Either way an unfinished workflow stays `running` in the store and resumes at the next start.
   */
  async stop(graceMs: number): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#ticking;
    const all = Promise.allSettled([...this.#inFlight.values()]);
    this.#stopping.abort(new Error('recovery engine stopping'));
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((r) => (grace = setTimeout(r, graceMs)))]);
    clearTimeout(grace);
    this.#abort.abort(new Error('recovery engine stopped: shutdown grace elapsed'));
    await all;
  }

  async #loop(): Promise<void> {
    if (this.#stopped) return;
    this.#wakeAgain = false;
    const started = performance.now();
    this.#ticking = this.tick()
      .catch((err) => this.#o.logger.error('recovery engine tick failed; retrying at the next tick', { error: err }))
      .finally(() => (this.#ticking = undefined));
    await this.#ticking;
    // A tick reads every unfinished notification (up to 1,000), and every commit of the intake wakes it: during an
    // alert storm, ticks back to back took most of the event loop (a 10-alert webhook cost 2.4 ms of the main thread
    // instead of 0.4). The next woken tick waits four times as long as this one took: ticks keep at most a fifth of
    // the loop, and a cheap tick (a quiet receiver) is followed at once. At most MAX_REST_MS: a tick that waited on
    // slow disk syncs (its leases) is long without being costly, and must not hold back the next recovery for long.
    const ended = performance.now();
    this.#restUntil = ended + Math.min(MAX_REST_MS, 4 * (ended - started));
    if (!this.#stopped) this.#timer = setTimeout(() => void this.#loop(), this.#wakeAgain ? this.#rest() : this.#o.config.tickMs);
  }

  /** One pass: expire old notifications, then start what may run (one tick at a time). */
  async tick(): Promise<void> {
    const { config, store } = this.#o;
    const waiting = new Set((await store.openOperatorWaits()).map((w) => w.notificationUuid));
    // With every slot taken, only an expired notification has anything to do in this pass (it fails; nothing
    // starts): read those alone, not up to 1,000 unfinished ones with their payloads, which a pass woken by each
    // commit of an alert storm read every time. A slot freed meanwhile wakes the engine again.
    const full = this.#inFlight.size >= config.maxConcurrentWorkflows;
    for (const listed of await store.unfinished(UNFINISHED_PER_TICK, full ? this.#now() - config.expireAfterMs : undefined)) {
      if (this.#stopped) return;
      const lease = workflowLease(listed);
      if (this.#inFlight.has(listed.uuid) || this.#conflictsHere(lease)) continue;
      const expired = listed.generatedAt < this.#now() - config.expireAfterMs;
      // Parked for an operator: nothing to run until the confirmation is stored (expiry still ends it).
      if (waiting.has(listed.uuid) && !expired) continue;
      if (!expired && this.#inFlight.size >= config.maxConcurrentWorkflows) continue;
      if (!expired && this.#backoff.waiting(listed.uuid, this.#now())) continue;
      if (listed.status === 'error' && (listed.nextAttemptAt ?? 0) > this.#now() && listed.attempts <= config.retry.attempts && !expired) continue;
      // Another receiver runs a workflow of this host (or of this VM): its business until its lease expires.
      if (!(await store.acquireLease(lease.name, this.#o.owner, this.#now(), config.leaseMs, lease.conflicts))) continue;
      // Read again under the lease: the receiver that held it may have moved the notification meanwhile.
      const n = await store.get(listed.uuid);
      if (!n || TERMINAL_STATUSES.includes(n.status)) {
        await store.releaseLease(lease.name, this.#o.owner);
        continue;
      }
      if (expired) {
        const message = `expired: generated more than ${config.expireAfterMs / 1000} s ago`;
        this.#o.logger.warn(`notification failed: ${message}`, { notification: n.uuid, type: n.type, host: n.hostName, status: n.status });
        await this.#transition(n, { from: [n.status], to: 'failed', message });
        await store.releaseLease(lease.name, this.#o.owner);
        continue;
      }
      if (n.status === 'error' && n.attempts > config.retry.attempts) {
        // Stopped between the error and the failed transitions: finish the job.
        await this.#transition(n, { from: ['error'], to: 'failed', message: `${n.message ?? 'error'} (after ${n.attempts} run(s))` });
        await store.releaseLease(lease.name, this.#o.owner);
        continue;
      }
      this.#launch(n, lease.name);
    }
  }

  /** Does a workflow this receiver runs hold `lease`, or one it excludes? */
  #conflictsHere(lease: WorkflowLease): boolean {
    if (this.#busy.has(lease.name)) return true;
    if (lease.conflicts.names?.some((name) => this.#busy.has(name))) return true;
    const prefix = lease.conflicts.prefix;
    return prefix !== undefined && [...this.#busy].some((name) => name.startsWith(prefix));
  }

  #launch(n: Notification, lease: string): void {
    this.#busy.add(lease);
    const ownership = new LeaseKeeper(
      this.#o.store,
      lease,
      { owner: this.#o.owner, leaseMs: this.#o.config.leaseMs },
      this.#now,
      this.#o.logger.child({ notification: n.uuid, lease }),
    );
    const run = this.#process(n, ownership)
      .then(() => this.#backoff.succeeded(n.uuid))
      .catch((err) => this.#runFailed(n, err))
      .finally(async () => {
        await ownership.release();
        this.#inFlight.delete(n.uuid);
        this.#busy.delete(lease);
        this.wake();
      });
    this.#inFlight.set(n.uuid, run);
  }

  async #process(queued: Notification, ownership: LeaseKeeper): Promise<void> {
    const log = this.#o.logger.child({ notification: queued.uuid, type: queued.type, host: queued.hostName, pool: queued.poolName });
    let n: Notification | undefined = queued;
    if (queued.status === 'running') log.info('resuming an interrupted workflow');
    else n = await this.#transition(queued, { from: [queued.status], to: 'running', startsRun: true, message: null, nextAttemptAt: null });
    if (!n) return;

    const mode: PoolMode = this.#o.config.pools[n.poolName]?.mode ?? 'auto';
    const base = mode === 'forward' ? this.#o.forwardWorkflows?.[n.type] : this.#o.workflows[n.type];
    const workflow = base?.routeTo?.(n) ?? base;
    if (!workflow) throw new Error(`pool ${n.poolName} is in forward mode but this engine has no forward workflows`);
    const early = decideEarly(n, workflow, mode);
    if (early) {
      log.info(`notification ${early.status}: ${early.reason}`);
      await this.#transition(n, { from: ['running'], to: early.status, message: early.reason });
      return;
    }
    if (workflow.setsMaintenance && mode === 'auto')
      await this.#o.store.setMaintenance(hostOf(n), { notification: n.uuid, reason: `${n.type} recovery ${n.uuid} running` }, this.#now());

    const started = this.#now();
    const outcome: RunOutcome = await this.#runner.run(n, workflow, mode, {
      stopping: AbortSignal.any([this.#stopping.signal, ownership.lost]),
      abort: AbortSignal.any([this.#abort.signal, ownership.lost]),
      confirmOwnership: () => ownership.confirm(),
    });
    if (outcome.kind === 'handed-back') {
      if (ownership.lost.aborted) log.warn('workflow abandoned: this receiver no longer holds its lease', { reason: String(ownership.lost.reason) });
      else log.info('workflow handed back to the store; it resumes at the next start');
      return;
    }
    if (outcome.kind === 'parked') {
      log.warn('workflow parked until an operator confirms the host is off', { reason: outcome.reason });
      return;
    }
    this.#o.metrics.workflowDuration.observe({ type: n.type, status: outcome.status }, (this.#now() - started) / 1000);
    if (outcome.status !== 'error') {
      log.info(`notification ${outcome.status}`, { reason: outcome.message });
      await this.#transition(n, { from: ['running'], to: outcome.status, message: outcome.message });
      return;
    }
    const { retry } = this.#o.config;
    const retriesLeft = n.attempts <= retry.attempts;
    const errored = await this.#transition(n, {
      from: ['running'],
      to: 'error',
      message: outcome.message,
      nextAttemptAt: retriesLeft ? this.#now() + retry.intervalMs : null,
    });
    if (retriesLeft) log.warn(`notification error; retry in ${retry.intervalMs / 1000} s`, { reason: outcome.message, attempts: n.attempts });
    else if (errored) {
      log.error('notification failed: no retries left', { reason: outcome.message, attempts: n.attempts });
      await this.#transition(errored, { from: ['error'], to: 'failed', message: `${outcome.message} (after ${n.attempts} run(s))` });
    }
  }

  /** A run that threw: back off, and end it in `error` (then `failed` when no retry is left) if the store lets us. */
  async #runFailed(queued: Notification, err: unknown): Promise<void> {
    const delay = this.#backoff.failed(queued.uuid, this.#now());
    const message = failureMessage(err);
    this.#o.logger.error(`workflow run failed; not retried for ${delay / 1000} s`, { notification: queued.uuid, host: queued.hostName, error: err });
    try {
      const n = await this.#o.store.get(queued.uuid);
      if (n?.status !== 'running') return;
      const { error, failed } = failedRunTransitions(n, message, this.#o.config.retry, this.#now());
      const errored = await this.#transition(n, error);
      if (errored && failed) await this.#transition(errored, failed);
    } catch (again) {
      this.#o.logger.warn('could not record the failed run; it is retried after the delay', { notification: queued.uuid, error: again });
    }
  }

  async #transition(n: Notification, t: Transition): Promise<Notification | undefined> {
    const next = await this.#o.store.transition(n.uuid, t, this.#now(), this.#o.events);
    if (!next) return undefined;
    this.#o.metrics.notifications.inc({ type: next.type, status: next.status });
    // The host stays on maintenance while its recovery runs or waits for a retry; a terminal status ends it.
    if (TERMINAL_STATUSES.includes(next.status) && this.#o.workflows[next.type].setsMaintenance && (await this.#maintenanceBy(next)))
      await this.#o.store.setMaintenance(hostOf(next), null, this.#now());
    return next;
  }

  /** Whether `n` is the recovery that put its host on maintenance. */
  async #maintenanceBy(n: Notification): Promise<boolean> {
    return (await this.#o.store.hosts()).some((h) => h.hostUuid === n.hostUuid && h.maintenanceBy === n.uuid);
  }

  async #escalate(from: Notification, type: NotificationType, payload: Record<string, unknown>): Promise<Notification> {
    const result = await this.#o.recorder.record(
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

interface WorkflowLease {
  name: string;
  conflicts: LeaseConflicts;
}

/**
 * The lease a workflow runs under, and the leases it excludes: a VM workflow its host's, a host-level workflow every
 * VM workflow of its host. A VM alert without a host label locks the VM alone.
 */
export function workflowLease(n: Pick<Notification, 'type' | 'hostUuid' | 'payload'> & Partial<Pick<Notification, 'poolName'>>): WorkflowLease {
  // One emergency shutdown or resume per pool at a time (a second trigger waits, then finds it is a duplicate).
  if (n.type === 'XCP_EMERGENCY_SHUTDOWN') return { name: `emergency:${n.poolName ?? ''}`, conflicts: {} };
  const host = `host:${n.hostUuid}`;
  if (n.type !== 'COMPUTE_INSTANCE') return { name: host, conflicts: { prefix: `${host}/` } };
  const vm = `vm:${String(n.payload.instance_uuid ?? '')}`;
  return n.hostUuid ? { name: `${host}/${vm}`, conflicts: { names: [host] } } : { name: vm, conflicts: {} };
}

function hostOf(n: Notification): { uuid: string; name: string; pool: string } {
  return { uuid: n.hostUuid, name: n.hostName, pool: n.poolName };
}

/** Decisions taken before any task runs: informational events, notify-only pools, the workflow's own precheck. */
function decideEarly(n: Notification, workflow: Workflow, mode: PoolMode): { status: 'ignored' | 'finished'; reason: string } | undefined {
  // The remote engine decides, STARTED events included; ours mirrors it.
  if (mode === 'forward') return undefined;
  const event = String(n.payload.event ?? '').toUpperCase();
  if (event === 'STARTED') return { status: 'finished', reason: 'STARTED event recorded (a recovery signal is never taken as proof of recovery)' };
  if (mode === 'notify-only') return { status: 'ignored', reason: `pool ${n.poolName} is in notify-only mode: no recovery attempted` };
  return workflow.precheck?.(n);
}
