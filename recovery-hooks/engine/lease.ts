// Keeps a receiver's lease on a host while it runs that host's workflow: renewed every third of its length, and
// confirmed again right before each action. When the lease is lost (taken over after an expiry, or not renewable
// for two thirds of its length because the store is unreachable) `lost` aborts, and the workflow is abandoned:
// whoever holds the lease then resumes it at its first unfinished task.
import type { Logger } from '../../core/log.js';
import type { NotificationStore } from '../store/store.js';

export class LeaseLostError extends Error {
  override name = 'LeaseLostError';
}

export class LeaseKeeper {
  readonly #lost = new AbortController();
  readonly #timer: NodeJS.Timeout;
  /** Local time at which the last successful renewal was asked for: the lease is good until this + leaseMs. */
  #renewedAt: number;

  constructor(
    private readonly store: Pick<NotificationStore, 'acquireLease' | 'releaseLease'>,
    readonly name: string,
    private readonly config: { owner: string; leaseMs: number },
    private readonly now: () => number,
    private readonly logger: Logger,
  ) {
    this.#renewedAt = now();
    this.#timer = setInterval(() => void this.#renew().catch(() => {}), config.leaseMs / 3);
  }

  /** Aborts when the lease is lost; its reason is a LeaseLostError. */
  get lost(): AbortSignal {
    return this.#lost.signal;
  }

  /** Renew now; throws LeaseLostError when this receiver no longer holds the lease. */
  async confirm(): Promise<void> {
    await this.#renew();
    if (this.#lost.signal.aborted) throw this.#lost.signal.reason;
  }

  /** Stop renewing and give the lease up (unless it was lost: then it is someone else's). */
  async release(): Promise<void> {
    clearInterval(this.#timer);
    if (this.#lost.signal.aborted) return;
    try {
      await this.store.releaseLease(this.name, this.config.owner);
    } catch (err) {
      this.logger.warn('lease not released; it expires by itself', { error: err });
    }
  }

  async #renew(): Promise<void> {
    if (this.#lost.signal.aborted) return;
    const asked = this.now();
    let granted: boolean;
    try {
      granted = await this.store.acquireLease(this.name, this.config.owner, asked, this.config.leaseMs);
    } catch (err) {
      // Unknown whether the lease still holds: keep working while it surely does, with a third of it as margin.
      if (this.now() - this.#renewedAt < (this.config.leaseMs * 2) / 3) return this.logger.warn('lease renewal failed; retrying', { error: err });
      return this.#lose(`the store was unreachable for ${Math.round((this.now() - this.#renewedAt) / 1000)} s`);
    }
    if (granted) this.#renewedAt = asked;
    else this.#lose('another receiver holds it');
  }

  #lose(why: string): void {
    clearInterval(this.#timer);
    this.#lost.abort(new LeaseLostError(`lease ${this.name} lost: ${why}`));
  }
}
