// Outbox messages for the notifiers: one per configured channel for every notification status change, enqueued in
// the same transaction as the change so that no change is ever lost or announced without having happened.
import type { Notification, OutboxInput } from '../store/types.js';
import type { RecoveryMetrics } from './metrics.js';

export type EventMessages = (n: Notification) => OutboxInput[];

export function statusEvents(channels: readonly string[], metrics: RecoveryMetrics): EventMessages {
  return (n) =>
    channels.map((channel) => {
      metrics.messages.inc({ channel, outcome: 'queued' });
      return {
        channel,
        payload: {
          event: 'notification.status',
          notification_uuid: n.uuid,
          type: n.type,
          status: n.status,
          host_name: n.hostName,
          host_uuid: n.hostUuid,
          pool_name: n.poolName,
          message: n.message,
          attempts: n.attempts,
        },
      };
    });
}
