// What the delivery worker needs from a channel. `send` resolves only once the peer took the message (SMTP 250 after
// DATA, XMPP stream-management ack or iq round trip, HTTP 2xx); it rejects otherwise and the message is retried.
import type { RenderedMessage } from '../render.js';

export interface Channel {
  readonly name: string;
  send(message: RenderedMessage): Promise<void>;
  /** Close connections; a send still in flight may fail (its message is retried later). */
  close(): Promise<void>;
}

/** An error message with the Node/library code in front when there is one: "ECONNREFUSED: connect …". */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
}
