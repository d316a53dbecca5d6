// One worker per channel drains the store's outbox: claim ready messages under a lease, render, send, then ack on
// success. A failure is retried with exponential backoff and jitter until `give_up_after_seconds` after the message
// was queued; then it is given up (kept in the store as dead, with its last error). The worker only reads and
// updates the outbox, so a dead peer slows nothing but its own channel.
//
// At-least-once: a message is acked after the peer took it, so a crash between the two sends it again at the next
// start (after its lease). Each message carries a stable key (Message-ID, stanza id, Idempotency-Key) for that case.
import type { Logger } from '../../core/log.js';
import type { RecoveryMetrics } from '../engine/metrics.js';
import type { NotificationStore } from '../store/store.js';
import type { OutboxMessage } from '../store/types.js';
import { type Channel, describeError } from './channels/channel.js';
import type { DeliveryPolicy } from './config.js';
import type { Renderer } from './render.js';

export type OutboxStore = Pick<NotificationStore, 'claimMessages' | 'ackMessage' | 'retryMessageAt' | 'giveUpMessage'>;

export interface WorkerOptions {
  store: OutboxStore;
  channel: Channel;
  renderer: Pick<Renderer, 'render'>;
  policy: DeliveryPolicy;
  pollIntervalMs: number;
  metrics: Pick<RecoveryMetrics, 'messages'>;
  logger: Logger;
  now?: () => number;
}

/** Delay before the retry that follows attempt `attempts`: initial × 2^(attempts-1), capped, with equal jitter. */
export function backoffDelay(attempts: number, backoff: DeliveryPolicy['backoff'], random: () => number = Math.random): number {
  const base = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.max(0, attempts - 1));
  return base / 2 + (random() * base) / 2;
}

export class DeliveryWorker {
  readonly #o: WorkerOptions;
  readonly #now: () => number;
  readonly #inFlight = new Map<number, Promise<void>>();
  // A claim outlives every send attempt (each channel bounds its own by the timeout: connect, greeting, data…).
  readonly #leaseMs: number;
  #timer: NodeJS.Timeout | undefined;
  #stopped = true;

  constructor(opts: WorkerOptions) {
    this.#o = opts;
    this.#now = opts.now ?? Date.now;
    this.#leaseMs = 4 * opts.policy.timeoutMs + 60_000;
  }

  start(): void {
    this.#stopped = false;
    this.wake();
  }

  /** Look at the outbox now rather than at the next poll. */
  wake(): void {
    if (!this.#stopped) this.#schedule(0);
  }

  /** Claim nothing more and wait for the sends in flight (each is acked, retried or given up). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    while (this.#inFlight.size) await Promise.allSettled([...this.#inFlight.values()]);
  }

  #schedule(ms: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#drain(), ms);
  }

  #drain(): void {
    if (this.#stopped) return;
    const { store, channel, policy, logger } = this.#o;
    try {
      const free = policy.concurrency - this.#inFlight.size;
      const claimed = free > 0 ? store.claimMessages(channel.name, free, this.#now(), this.#leaseMs) : [];
      for (const m of claimed) {
        if (this.#inFlight.has(m.id)) continue;
        const run = this.#deliver(m)
          .catch((err) => logger.error('outbox update failed after a send attempt', { channel: channel.name, message_id: m.id, error: describeError(err) }))
          .finally(() => {
            this.#inFlight.delete(m.id);
            this.wake();
          });
        this.#inFlight.set(m.id, run);
      }
    } catch (err) {
      logger.error('outbox claim failed; trying again at the next poll', { channel: channel.name, error: describeError(err) });
    }
    this.#schedule(this.#o.pollIntervalMs);
  }

  async #deliver(m: OutboxMessage): Promise<void> {
    const { store, channel, renderer, metrics, logger } = this.#o;
    let rendered;
    try {
      rendered = renderer.render(m);
    } catch (err) {
      // Rendering is deterministic: what fails now fails forever, so the message is given up at once.
      return this.#giveUp(m, `cannot render: ${describeError(err)}`);
    }
    try {
      await channel.send(rendered);
    } catch (err) {
      return this.#failed(m, describeError(err));
    }
    store.ackMessage(m.id, this.#now());
    metrics.messages.inc({ channel: channel.name, outcome: 'sent' });
    logger.info('message sent', { channel: channel.name, message_id: m.id, event: rendered.event, attempt: m.attempts });
  }

  #failed(m: OutboxMessage, error: string): void {
    const { store, channel, policy, metrics, logger } = this.#o;
    const now = this.#now();
    const deadline = m.createdAt + policy.giveUpAfterMs;
    if (now >= deadline) return this.#giveUp(m, error);
    // The last retry happens at the deadline itself, so a message is tried for the whole configured time.
    const at = Math.min(now + backoffDelay(m.attempts, policy.backoff), deadline);
    store.retryMessageAt(m.id, at, error);
    metrics.messages.inc({ channel: channel.name, outcome: 'retry' });
    logger.warn('message not delivered; retrying', {
      channel: channel.name,
      message_id: m.id,
      event: m.payload.event,
      attempt: m.attempts,
      retry_in_seconds: Math.round((at - now) / 100) / 10,
      error,
    });
  }

  #giveUp(m: OutboxMessage, error: string): void {
    const { store, channel, metrics, logger } = this.#o;
    const now = this.#now();
    store.giveUpMessage(m.id, error, now);
    metrics.messages.inc({ channel: channel.name, outcome: 'dead' });
    logger.error('message given up', {
      channel: channel.name,
      message_id: m.id,
      event: m.payload.event,
      attempts: m.attempts,
      queued_seconds: Math.round((now - m.createdAt) / 1000),
      error,
    });
  }
}
