// What the delivery worker needs from a channel. `send` resolves only once the peer took the message (SMTP 250 after
// DATA, XMPP stream-management ack or iq round trip, HTTP 2xx), or answered for good that it never will (a Refusal);
// it rejects otherwise and the message is retried. M is what the worker hands over: the notifiers' rendered message,
// or the raw outbox message for channels that build their own request.
import type { OutboxMessage } from '../../store/types.js';
import type { RenderedMessage } from '../render.js';

/** The peer's final answer to a message it will never take (e.g. HTTP 400 or 409): acked, never retried. */
export interface Refusal {
  refused: string;
}

export interface Channel<M = RenderedMessage> {
  readonly name: string;
  // biome-ignore lint/suspicious/noConfusingVoidType: a channel that never refuses implements this as Promise<void>
  send(message: M): Promise<void | Refusal>;
  /** Called after the worker gave a message up (deadline reached, unrenderable), with the last error. */
  givenUp?(message: OutboxMessage, error: string): Promise<void>;
  /** Close connections; a send still in flight may fail (its message is retried later). */
  close(): Promise<void>;
}
