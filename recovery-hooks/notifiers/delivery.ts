// One worker per channel drains the store's outbox: claim ready messages under a lease, render, send, then ack on
// success. A failure is retried with exponential backoff and jitter until `give_up_after_seconds` after the message
// was queued; then it is given up (kept in the store as dead, with its last error). A peer's final refusal (a
// channel's Refusal: HTTP 400, 409…) is acked and never retried. The worker only reads and updates the outbox, so a
// dead peer slows nothing but its own channel.
//
// At-least-once: a message is acked after the peer took it, so a crash between the two sends it again at the next
// start (after its lease). Each message carries a stable key (Message-ID, stanza id, Idempotency-Key) for that case.
//
// Receivers sharing a store drain each channel one at a time: the worker claims only while it holds the lease
// `outbox:<channel>`, so messages go out in order and from one place; another receiver takes over when it expires.
import type { Logger } from '../../core/log.js';
import type { RecoveryMetrics } from '../engine/metrics.js';
import type { NotificationStore } from '../store/store.js';
import type { OutboxMessage } from '../store/types.js';
import type { Channel } from './channels/channel.js';
import type { DeliveryPolicy } from './config.js';
import type { RenderedMessage } from './render.js';
import { describeError } from '../../core/errors.js';

export type OutboxStore = Pick<NotificationStore, 'claimMessages' | 'ackMessage' | 'retryMessageAt' | 'giveUpMessage' | 'acquireLease' | 'releaseLease'>;

/** Turns an outbox message into what the channel sends; throwing means it never can (the message is given up). */
export interface MessageRenderer<M> {
  render(m: OutboxMessage): M;
}

/** For channels that take the outbox message itself. */
export const RAW_MESSAGES: MessageRenderer<OutboxMessage> = { render: (m) => m };

export interface WorkerOptions<M = RenderedMessage> {
  store: OutboxStore;
  channel: Channel<M>;
  renderer: MessageRenderer<M>;
  policy: DeliveryPolicy;
  pollIntervalMs: number;
  metrics: Pick<RecoveryMetrics, 'messages'>;
  logger: Logger;
  /** This receiver process in leases, and how long its hold on the channel lasts without renewal. */
  owner: string;
  leaseMs: number;
  now?: () => number;
}

/** Delay before the retry that follows attempt `attempts`: initial × 2^(attempts-1), capped, with equal jitter. */
export function backoffDelay(attempts: number, backoff: DeliveryPolicy['backoff'], random: () => number = Math.random): number {
  const base = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.max(0, attempts - 1));
  return base / 2 + (random() * base) / 2;
}

export class DeliveryWorker<M = RenderedMessage> {
  readonly #o: WorkerOptions<M>;
  readonly #now: () => number;
  readonly #inFlight = new Map<number, Promise<void>>();
  // A claim outlives every send attempt (each channel bounds its own by the timeout: connect, greeting, data…).
  readonly #leaseMs: number;
  #timer: NodeJS.Timeout | undefined;
  #draining = false;
  /** A wake-up that came during a drain: drain again right after it. */
  #drainAgain = false;
  #stopped = true;

  constructor(opts: WorkerOptions<M>) {
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
    try {
      await this.#o.store.releaseLease(this.#channelLease, this.#o.owner);
    } catch (err) {
      this.#o.logger.warn('outbox lease not released; it expires by itself', { channel: this.#o.channel.name, error: describeError(err) });
    }
  }

  get #channelLease(): string {
    return `outbox:${this.#o.channel.name}`;
  }

  #schedule(ms: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#drain(), ms);
  }

  async #drain(): Promise<void> {
    if (this.#stopped) return;
    if (this.#draining) return void (this.#drainAgain = true);
    this.#draining = true;
    this.#drainAgain = false;
    const { store, channel, policy, logger } = this.#o;
    try {
      const free = policy.concurrency - this.#inFlight.size;
      // Renewed at every poll, so it must outlast a few of them.
      const holds = await store.acquireLease(this.#channelLease, this.#o.owner, this.#now(), Math.max(this.#o.leaseMs, 3 * this.#o.pollIntervalMs));
      const claimed = free > 0 && holds ? await store.claimMessages(channel.name, free, this.#now(), this.#leaseMs) : [];
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
    } finally {
      this.#draining = false;
    }
    if (!this.#stopped) this.#schedule(this.#drainAgain ? 0 : this.#o.pollIntervalMs);
  }

  async #deliver(m: OutboxMessage): Promise<void> {
    const { store, channel, renderer, metrics, logger } = this.#o;
    let rendered: M;
    try {
      rendered = renderer.render(m);
    } catch (err) {
      // Rendering is deterministic: what fails now fails forever, so the message is given up at once.
      return this.#giveUp(m, `cannot render: ${describeError(err)}`);
    }
    let refusal: Awaited<ReturnType<typeof channel.send>>;
    try {
      refusal = await channel.send(rendered);
    } catch (err) {
      return this.#failed(m, describeError(err));
    }
    await store.ackMessage(m.id, this.#now());
    const fields = { channel: channel.name, message_id: m.id, event: m.payload.event, attempt: m.attempts };
    if (refusal) {
      metrics.messages.inc({ channel: channel.name, outcome: 'refused' });
      logger.warn('message refused by the peer; not retried', { ...fields, reason: refusal.refused });
    } else {
      metrics.messages.inc({ channel: channel.name, outcome: 'sent' });
      logger.info('message sent', fields);
    }
  }

  async #failed(m: OutboxMessage, error: string): Promise<void> {
    const { store, channel, policy, metrics, logger } = this.#o;
    const now = this.#now();
    const deadline = m.createdAt + policy.giveUpAfterMs;
    if (now >= deadline) return this.#giveUp(m, error);
    // The last retry happens at the deadline itself, so a message is tried for the whole configured time.
    const at = Math.min(now + backoffDelay(m.attempts, policy.backoff), deadline);
    await store.retryMessageAt(m.id, at, error);
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

  async #giveUp(m: OutboxMessage, error: string): Promise<void> {
    const { store, channel, metrics, logger } = this.#o;
    const now = this.#now();
    await store.giveUpMessage(m.id, error, now);
    metrics.messages.inc({ channel: channel.name, outcome: 'dead' });
    logger.error('message given up', {
      channel: channel.name,
      message_id: m.id,
      event: m.payload.event,
      attempts: m.attempts,
      queued_seconds: Math.round((now - m.createdAt) / 1000),
      error,
    });
    try {
      await channel.givenUp?.(m, error);
    } catch (err) {
      logger.error('channel could not record a given-up message', { channel: channel.name, message_id: m.id, error: describeError(err) });
    }
  }
}
