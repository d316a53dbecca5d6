// The one way notifications enter the store, for the webhook, the Masakari API and the engine's escalations:
// dedup and maintenance rules, outbox events and metrics in one place. Wakes the engine after each commit.
import type { PoolMode } from '../config.js';
import type { EventMessages } from '../engine/events.js';
import type { RecoveryMetrics } from '../engine/metrics.js';
import type { NotificationStore } from '../store/store.js';
import type { CreateOptions, CreateResult, NewNotification, OutboxInput } from '../store/types.js';
import { ApiError } from './errors.js';

/** Bounds of the webhook group commit (config `group_commit`). */
export interface GroupCommitLimits {
  /** Deliveries committed together at most (the rest wait for the next commit). */
  maxDeliveries: number;
  /** Deliveries waiting for a commit at most (queued or being committed): beyond, a delivery is answered 503 at once. */
  maxWaiting: number;
  /**
   * Group commits handed to the store before the first is answered: 1 where the store commits one transaction at a
   * time anyway; 2 for the SQLite worker thread, which then starts the next group the moment a commit returns.
   */
  commitsInFlight: number;
}

export const GROUP_COMMIT_DEFAULTS: GroupCommitLimits = { maxDeliveries: 256, maxWaiting: 1024, commitsInFlight: 1 };

export interface RecorderOptions {
  store: NotificationStore;
  metrics: RecoveryMetrics;
  events: EventMessages;
  dedupWindowMs: number;
  now: () => number;
  /** The pool's mode: notifications of a notify-only pool are recorded as ignored at once, in the same commit. */
  modeOf?: (pool: string) => PoolMode;
  groupCommit?: GroupCommitLimits;
}

interface Pending {
  inputs: NewNotification[];
  messages: OutboxInput[];
  resolve(results: CreateResult[]): void;
  reject(err: unknown): void;
}

export class NotificationRecorder {
  #listeners: (() => void)[] = [];
  #queue: Pending[] = [];
  #flushScheduled = false;
  /** Group commits handed to the store and not answered yet: deliveries arriving meanwhile wait for the next one. */
  #inFlight = 0;
  /** Deliveries handed to the store and not answered yet (they count against maxWaiting too). */
  #inFlightDeliveries = 0;
  readonly #limits: GroupCommitLimits;
  constructor(private readonly opts: RecorderOptions) {
    this.#limits = opts.groupCommit ?? GROUP_COMMIT_DEFAULTS;
  }

  /** Called after a notification to recover was committed (the engine's wake-up; not for rows recorded ignored). */
  onCreated(listener: () => void): void {
    this.#listeners.push(listener);
  }

  async record(input: NewNotification, onMaintenance: CreateOptions['onMaintenance']): Promise<CreateResult> {
    return (await this.recordAll([input], onMaintenance))[0]!;
  }

  /**
   * Group commit for webhook deliveries: every delivery that arrives while the event loop is busy is recorded in
   * one transaction (one fsync), and each caller is answered after that commit. When the group fails, each delivery
   * is committed again alone, so a poison delivery fails only itself (400 when the store refused its data, 5xx when
   * the store is unavailable) and its neighbours commit; nothing is acknowledged that was not committed. A group
   * takes at most `maxDeliveries`; when `maxWaiting` deliveries already wait, the delivery is refused (ApiError 503
   * with Retry-After: the sender retries, nothing was acknowledged).
   */
  recordDelivery(inputs: NewNotification[], messages: OutboxInput[] = []): Promise<CreateResult[]> {
    if (!inputs.length && !messages.length) return Promise.resolve([]);
    if (this.#queue.length + this.#inFlightDeliveries >= this.#limits.maxWaiting)
      return Promise.reject(
        new ApiError(
          503,
          `The receiver is busy: ${this.#queue.length + this.#inFlightDeliveries} deliveries wait for the store (group_commit.max_waiting); nothing was acknowledged, retry later`,
          { 'Retry-After': '1' },
        ),
      );
    return new Promise((resolve, reject) => {
      this.#queue.push({ inputs, messages, resolve, reject });
      this.#scheduleFlush();
    });
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#inFlight >= this.#limits.commitsInFlight || !this.#queue.length) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      const batch = this.#queue.splice(0, this.#limits.maxDeliveries);
      this.#inFlight++;
      this.#inFlightDeliveries += batch.length;
      void this.#flush(batch).finally(() => {
        this.#inFlight--;
        this.#inFlightDeliveries -= batch.length;
        this.#scheduleFlush();
      });
      this.#scheduleFlush();
    });
  }

  async #flush(batch: Pending[]): Promise<void> {
    let results: CreateResult[];
    try {
      results = await this.recordAll(
        batch.flatMap((p) => p.inputs),
        'record-ignored',
        batch.flatMap((p) => p.messages),
      );
    } catch (err) {
      if (batch.length === 1) return batch[0]!.reject(err);
      // One by one, in arrival order (dedup decides as the group would have).
      for (const p of batch) await this.recordAll(p.inputs, 'record-ignored', p.messages).then(p.resolve, p.reject);
      return;
    }
    let at = 0;
    for (const p of batch) {
      p.resolve(results.slice(at, at + p.inputs.length));
      at += p.inputs.length;
    }
  }

  /** Record several notifications in one transaction, with `messages` queued in the same commit. */
  async recordAll(inputs: NewNotification[], onMaintenance: CreateOptions['onMaintenance'], messages: OutboxInput[] = []): Promise<CreateResult[]> {
    const { store, metrics, events, dedupWindowMs, now } = this.opts;
    if (!inputs.length && !messages.length) return [];
    const notifyOnly = (i: NewNotification) => this.opts.modeOf?.(i.poolName) === 'notify-only';
    // Object.assign, not a spread: copying an input by spread cost ~0.6 µs, five times as much (Node 20).
    const marked = inputs.map((i) =>
      notifyOnly(i) && !i.ignoreReason ? Object.assign({}, i, { ignoreReason: `pool ${i.poolName} is in notify-only mode: no recovery attempted` }) : i,
    );
    const results = await store.createMany(marked, { now: now(), dedupWindowMs, onMaintenance }, events, messages);
    let created = false;
    for (const result of results) {
      if (result.notification && (result.outcome === 'created' || result.outcome === 'host-on-maintenance'))
        metrics.notifications.inc({ type: result.notification.type, status: result.notification.status });
      // An ignored row (notify-only pool) gives the engine nothing to do: no wake-up for it.
      created ||= result.outcome === 'created' && result.notification.status !== 'ignored';
    }
    if (created) for (const l of this.#listeners) l();
    return results;
  }
}
