// The outbox channel `forward:<pool>`: POST each queued notification to the pool's remote Instance-HA API and record
// what became of it (store.saveForward). 2xx, 400 and 409 are final answers; anything else (5xx, 401, a network
// error, a timeout) rejects, so the delivery worker retries with backoff until it gives up.
import type { Logger } from '../../core/log.js';
import type { Channel, Refusal } from '../notifiers/channels/channel.js';
import type { NotificationStore } from '../store/store.js';
import type { OutboxMessage } from '../store/types.js';
import type { RemoteApi } from './remote.js';
import { UnforwardableError, masakariRequest } from './request.js';
import { describeError } from '../../core/errors.js';

export type ForwardStore = Pick<NotificationStore, 'get' | 'getForward' | 'saveForward'>;

/** The payload of a `forward:<pool>` outbox message. */
export type ForwardMessage = {
  notification_uuid: string;
  dedup_key: string;
};

export function forwardChannelName(pool: string): string {
  return `forward:${pool}`;
}

export class ForwardChannel implements Channel<OutboxMessage> {
  readonly name: string;

  constructor(
    pool: string,
    private readonly remote: RemoteApi,
    private readonly store: ForwardStore,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.name = forwardChannelName(pool);
  }

  // biome-ignore lint/suspicious/noConfusingVoidType: a channel that never refuses implements this as Promise<void>
  async send(m: OutboxMessage): Promise<void | Refusal> {
    const uuid = String(m.payload.notification_uuid);
    const endpoint = this.remote.endpoint;
    // Sent before, but the ack was lost (a crash in between): never create it twice.
    const known = await this.store.getForward(uuid);
    if (known && known.outcome !== 'queued') return;
    const n = await this.store.get(uuid);
    if (!n) return { refused: `notification ${uuid} is not in the store` };

    let request: ReturnType<typeof masakariRequest>;
    try {
      request = masakariRequest(n);
    } catch (err) {
      if (!(err instanceof UnforwardableError)) throw err;
      const reason = `not sent: ${err.message}`;
      await this.store.saveForward(uuid, { endpoint, outcome: 'rejected', reason }, this.now());
      return { refused: reason };
    }
    let answer: Awaited<ReturnType<typeof this.remote.create>>;
    try {
      answer = await this.remote.create(request);
    } catch (err) {
      // Still queued; the reason says why, so the API shows it while the worker retries.
      await this.store.saveForward(uuid, { endpoint, outcome: 'queued', reason: describeError(err) }, this.now());
      throw err;
    }
    if (answer.kind === 'accepted') {
      await this.store.saveForward(
        uuid,
        { endpoint, outcome: 'accepted', remoteUuid: answer.remoteUuid, remoteStatus: answer.remoteStatus, reason: null },
        this.now(),
      );
      this.logger.info('notification forwarded', { notification: uuid, endpoint, remote_uuid: answer.remoteUuid, remote_status: answer.remoteStatus });
      return;
    }
    await this.store.saveForward(uuid, { endpoint, outcome: answer.kind, reason: answer.reason }, this.now());
    return { refused: answer.reason };
  }

  async givenUp(m: OutboxMessage, error: string): Promise<void> {
    await this.store.saveForward(String(m.payload.notification_uuid), { endpoint: this.remote.endpoint, outcome: 'gave-up', reason: error }, this.now());
  }

  /** The remote API is shared with the forward workflow, which closes it (forward/index.ts). */
  async close(): Promise<void> {}
}
