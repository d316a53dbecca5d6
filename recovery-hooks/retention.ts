// Retention: every interval (and once shortly after start) the receiver holding the lease `maintenance:retention`
// purges, in batches, the notifications that ended more than `retentionMs` ago (with their tasks, moves and forwards),
// the outbox messages delivered or given up as long ago, and stale leases. One receiver among those sharing a store
// does it; a store error is logged and the purge tried again at the next interval.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Logger } from '../core/log.js';
import type { NotificationStore, PurgeCounts } from './store/store.js';

export const RETENTION_LEASE = 'maintenance:retention';
const HOUR_MS = 3_600_000;
/** The first purge after start: soon, but not in the middle of the start itself. */
const FIRST_RUN_MS = 10_000;

export interface RetentionOptions {
  store: NotificationStore;
  /** Records older than this are purged. */
  retentionMs: number;
  /** This receiver, in the lease. */
  owner: string;
  leaseMs: number;
  logger: Logger;
  now?: () => number;
  /** Between purges; 1 hour by default. */
  intervalMs?: number;
  /** Notifications (and messages) deleted per transaction; 1000 by default. */
  batch?: number;
}

export interface Retention {
  /** No purge after this; waits for the one in progress to end (after its current batch). */
  stop(): Promise<void>;
}

export function startRetention(opts: RetentionOptions): Retention {
  const { store, retentionMs, owner, leaseMs, logger } = opts;
  const now = opts.now ?? Date.now;
  const intervalMs = opts.intervalMs ?? HOUR_MS;
  const batch = opts.batch ?? 1000;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  async function purge(): Promise<void> {
    const total: PurgeCounts = { notifications: 0, messages: 0, leases: 0, hosts: 0 };
    const started = now();
    const before = started - retentionMs;
    try {
      if (!(await store.acquireLease(RETENTION_LEASE, owner, started, leaseMs))) return;
      for (;;) {
        const r = await store.purge(before, batch);
        total.notifications += r.notifications;
        total.messages += r.messages;
        total.leases += r.leases;
        total.hosts += r.hosts;
        if (stopped || (r.notifications < batch && r.messages < batch && r.hosts < batch)) break;
        // Intake and workflows run between batches; the lease is renewed (or lost to another receiver: it goes on).
        await yieldToEventLoop();
        if (stopped || !(await store.acquireLease(RETENTION_LEASE, owner, now(), leaseMs))) break;
      }
    } catch (err) {
      logger.warn('retention: purge failed; trying again at the next interval', { error: err instanceof Error ? err.message : String(err) });
    } finally {
      if (total.notifications + total.messages + total.leases + total.hosts > 0)
        logger.info('retention: purged old records', { ...total, before: new Date(before).toISOString(), retention_days: retentionMs / 86_400_000 });
    }
  }

  function schedule(delayMs: number): void {
    timer = setTimeout(() => {
      timer = undefined;
      running = purge().finally(() => {
        running = undefined;
        if (!stopped) schedule(intervalMs);
      });
    }, delayMs);
    timer.unref();
  }

  schedule(Math.min(FIRST_RUN_MS, intervalMs));
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}
