// The events the notifiers announce and their severities. Modelled on Masakari's own notifications
// (notification.create / notification.process with start/end/error phases), named for what an operator reads.
import type { NotificationStatus } from '../store/types.js';

export const NOTIFIER_EVENTS = [
  'notification.received',
  'recovery.started',
  'recovery.finished',
  'recovery.ignored',
  /** A workflow run failed and another run is scheduled. */
  'recovery.error',
  /** Terminal: no run left, or the notification expired. */
  'recovery.failed',
  /** A host recovery waits for an operator (fence not provable, or a blast-radius limit): someone must act. */
  'recovery.waiting',
  'alert.firing',
  'alert.resolved',
] as const;
export type NotifierEvent = (typeof NOTIFIER_EVENTS)[number];

/** What a channel gets when its `events` is not set: everything about notifications, no raw alerts. */
export const DEFAULT_EVENTS: readonly NotifierEvent[] = NOTIFIER_EVENTS.filter((e) => !e.startsWith('alert.'));

export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

export const STATUS_EVENTS: Record<NotificationStatus, NotifierEvent> = {
  new: 'notification.received',
  running: 'recovery.started',
  finished: 'recovery.finished',
  ignored: 'recovery.ignored',
  error: 'recovery.error',
  failed: 'recovery.failed',
};

/** Alertmanager `severity` label values (as our rules and common rule sets write them) → our three levels. */
export function alertSeverity(label: string | undefined): Severity {
  switch ((label ?? '').toLowerCase()) {
    case 'critical':
    case 'error':
    case 'page':
      return 'critical';
    case 'info':
    case 'informational':
    case 'none':
      return 'info';
    default:
      return 'warning';
  }
}
