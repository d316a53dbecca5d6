// Keeps an Inventory current with XAPI's event.from: one full snapshot (empty token), then only changes. A call
// blocks on the master until something changes or the timeout passes, so an idle pool costs one request a minute.
import { XapiError, errorKind } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { sleep } from '../../core/concurrency.js';
import { OutageLog } from '../../core/outage-log.js';
import type { XapiClient } from '../../core/xapi/client.js';
import { HaltTracker } from './halts.js';
import { Inventory, WATCHED, type XapiEventRecord } from './inventory.js';

interface EventBatch {
  events: XapiEventRecord[];
  token: string;
}

export interface WatcherStatus {
  synced: boolean;
  lastSuccess?: number;
  lastError?: { at: number; kind: string; message: string };
}

const EVENT_TIMEOUT_S = 30;

export class InventoryWatcher {
  readonly inventory = new Inventory();
  /** Unexpected VM halts, seen in the VM events as they come. */
  readonly halts = new HaltTracker();
  readonly status: WatcherStatus = { synced: false };
  private token = '';
  private running?: Promise<void>;
  private readonly stopper = new AbortController();
  /** Cuts the backoff sleep short (retryNow). */
  private nap?: AbortController;
  private retrySoon = false;
  private readonly outage: OutageLog;
  /** Resolves waiters of the first full snapshot. */
  private syncedWaiters: (() => void)[] = [];
  /** When the event.from call in flight was sent (Date.now()); undefined between calls. */
  private callSentAt?: number;

  constructor(
    private readonly xapi: XapiClient,
    private readonly logger: Logger,
    private readonly onError: (err: unknown) => void,
  ) {
    this.outage = new OutageLog(logger);
  }

  start(): void {
    this.running ??= this.loop();
  }

  /** Stop now: the event.from long poll in flight (up to a minute) is ended, not waited for. */
  async stop(): Promise<void> {
    this.stopper.abort();
    this.xapi.endPendingCalls();
    await this.running;
  }

  /** Read again at once, from a fresh snapshot: the client now talks to a new pool master. */
  retryNow(): void {
    this.retrySoon = true;
    this.nap?.abort();
  }

  /** Whether the event.from call in flight, if any, was sent at or before `t` (ms). */
  waitingSince(t: number): boolean {
    return this.callSentAt !== undefined && this.callSentAt <= t;
  }

  /** Wait until a full snapshot has been read (or `ms` passed). */
  whenSynced(ms: number): Promise<boolean> {
    if (this.status.synced) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.syncedWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  private async loop(): Promise<void> {
    let backoff = 1000;
    while (!this.stopper.signal.aborted) {
      try {
        await this.once();
        backoff = 1000;
      } catch (err) {
        if (this.stopper.signal.aborted) break;
        if (err instanceof XapiError && err.code === 'EVENTS_LOST') {
          this.logger.warn('XAPI events lost, reading the whole inventory again');
          this.token = '';
          continue;
        }
        this.status.synced = false;
        this.status.lastError = { at: Date.now(), kind: errorKind(err), message: (err as Error).message };
        this.onError(err);
        this.outage.failed('inventory', 'inventory update failed', { error: err, retry_in_ms: backoff });
        // Start from a fresh snapshot after any failure: objects may have changed while we could not see.
        this.token = '';
        this.nap = new AbortController();
        if (!this.retrySoon) await sleep(backoff, AbortSignal.any([this.stopper.signal, this.nap.signal]));
        backoff = this.retrySoon || this.nap.signal.aborted ? 1000 : Math.min(backoff * 2, 30_000);
        this.nap = undefined;
        this.retrySoon = false;
      }
    }
  }

  private async once(): Promise<void> {
    const full = this.token === '';
    const timeout = full ? 0 : EVENT_TIMEOUT_S;
    this.callSentAt = Date.now();
    const batch = await this.xapi
      .callWithTimeout<EventBatch>((timeout + 30) * 1000, 'event.from', [...WATCHED], this.token, timeout)
      .finally(() => (this.callSentAt = undefined));
    if (full) this.inventory.reset();
    this.inventory.apply(batch.events);
    this.halts.observe(this.inventory, batch.events, Date.now());
    this.token = batch.token;
    this.status.lastSuccess = Date.now();
    this.outage.recovered('inventory', 'inventory updates work again');
    if (full) {
      this.status.synced = true;
      this.logger.info('inventory read', { objects: batch.events.length });
      const w = this.syncedWaiters;
      this.syncedWaiters = [];
      for (const f of w) f();
    }
  }
}
