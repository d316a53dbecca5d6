// The outbox messages that forward notifications: one on `forward:<pool>` when a notification of a forward pool is
// created, in the create's own transaction (so a recorded notification is always forwarded, and only once: the
// dedup key makes a second enqueue a no-op).
import type { OutboxBuilder } from '../store/types.js';
import { type ForwardMessage, forwardChannelName } from './channel.js';

export function forwardEvents(pools: ReadonlySet<string>): OutboxBuilder {
  return (n) => {
    // An emergency shutdown is ours alone: a Masakari-compatible remote has no such type.
    if (n.status !== 'new' || n.updatedAt !== null || !pools.has(n.poolName) || n.type === 'XCP_EMERGENCY_SHUTDOWN') return [];
    const payload: ForwardMessage = { notification_uuid: n.uuid, dedup_key: `forward:${n.uuid}` };
    return [{ channel: forwardChannelName(n.poolName), payload, notificationUuid: n.uuid }];
  };
}

/** One builder from several: each one's messages, in order. */
export function combineBuilders(...builders: OutboxBuilder[]): OutboxBuilder {
  return (n, history) => builders.flatMap((b) => b(n, history));
}
