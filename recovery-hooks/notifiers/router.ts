// Which channels hear about what. Notification status changes become events (new → notification.received,
// running → recovery.started, finished/ignored/error/failed → recovery.*), alerts become alert.firing/resolved, and
// each channel gets a message when it subscribed to the event at the event's severity or lower.
//
// The payload is a snapshot taken when the event happens: statusEvents runs inside the store's status-change
// transaction, so the task progress and VM moves it copies are exactly those of the run that just ended (rendering
// later, from the store, could show the next run's state after a retry). Links are added at render time, so a
// corrected base URL applies to messages still queued.
import type { WebhookAlert } from '../intake/alertmanager.js';
import type { RecoveryMetrics } from '../engine/metrics.js';
import { alertFingerprint } from '../intake/alertmanager.js';
import type { Notification, NotificationType, OperatorWait, OutboxBuilder, OutboxInput, TaskRecord, VmMove } from '../store/types.js';
import type { ChannelConfig } from './config.js';
import { type NotifierEvent, STATUS_EVENTS, type Severity, alertSeverity, severityRank } from './events.js';

/** An Alertmanager alert (webhook v4); `WebhookAlert` of the intake fits, annotations and generatorURL add detail. */
/** An alert as the webhook intake parsed it. */
export type AlertEventInput = WebhookAlert;

export interface NotifierRouter {
  /** The store's OutboxBuilder: pass it to the store's create/transition. */
  statusEvents: OutboxBuilder;
  /** Messages for one alert that reached the receiver (only channels subscribed to alert.* get one). */
  alertEvents(alert: AlertEventInput): OutboxInput[];
  /** Messages saying a recovery waits for an operator (queued by the store in the commit that parks it). */
  waitEvents(n: Notification, wait: OperatorWait): OutboxInput[];
}

export interface RouterOptions {
  metrics?: Pick<RecoveryMetrics, 'messages'>;
}

const TYPE_LABELS: Record<NotificationType, string> = {
  COMPUTE_HOST: 'host failure',
  COMPUTE_INSTANCE: 'VM failure',
  COMPUTE_PROCESS: 'toolstack failure',
  XCP_EMERGENCY_SHUTDOWN: 'emergency shutdown (power)',
};

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms).toISOString());
const text = (v: unknown) => (typeof v === 'string' && v ? v : null);

function notificationSeverity(event: NotifierEvent, n: Notification, upSignal: boolean): Severity {
  switch (event) {
    case 'notification.received':
      // A power emergency is as urgent as a host failure, both ways (the pool goes down, or comes back up).
      return upSignal ? 'info' : n.type === 'COMPUTE_HOST' || n.type === 'XCP_EMERGENCY_SHUTDOWN' ? 'critical' : 'warning';
    case 'recovery.ignored':
    case 'recovery.error':
      return 'warning';
    case 'recovery.failed':
      return 'critical';
    default:
      return 'info';
  }
}

function taskSummary(tasks: TaskRecord[]) {
  return tasks.map((t) => ({ name: t.name, state: t.state, message: t.details.at(-1)?.message ?? null }));
}

function failedTask(tasks: TaskRecord[]): { name: string; error: string | null } | null {
  const t = tasks.filter((r) => r.state === 'FAILURE').at(-1);
  return t ? { name: t.name, error: t.details.at(-1)?.message.replace(/^failed: /, '') ?? null } : null;
}

function vmSummary(moves: VmMove[]) {
  return moves.map((m) => ({ vm_name: m.vmName, vm_uuid: m.vmUuid, status: m.status, dest_host: m.destHost, message: m.message }));
}

/** What every notification event says about its notification. */
function notificationFields(n: Notification): Record<string, unknown> {
  return {
    notification_uuid: n.uuid,
    type: n.type,
    type_label: TYPE_LABELS[n.type],
    status: n.status,
    source: n.source,
    signal: text(n.payload.event),
    host_name: n.hostName || null,
    host_uuid: n.hostUuid || null,
    pool_name: n.poolName,
    generated_at: iso(n.generatedAt),
    vm_uuid: text(n.payload.instance_uuid),
    process_name: text(n.payload.process_name),
    attempts: n.attempts,
  };
}

export function createRouter(channels: readonly ChannelConfig[], opts: RouterOptions = {}): NotifierRouter {
  const subscribers = (event: NotifierEvent, severity: Severity) =>
    channels.filter((c) => c.events.includes(event) && severityRank(severity) >= severityRank(c.minSeverity));
  /** One message per channel; `notificationUuid` files it in that notification's activity. */
  const messages = (to: readonly ChannelConfig[], payload: Record<string, unknown>, notificationUuid?: string): OutboxInput[] =>
    to.map((c) => {
      opts.metrics?.messages.inc({ channel: c.name, outcome: 'queued' });
      return notificationUuid === undefined ? { channel: c.name, payload } : { channel: c.name, payload, notificationUuid };
    });

  return {
    statusEvents(n, history) {
      const upSignal = String(n.payload.event ?? '').toUpperCase() === 'STARTED';
      // A STARTED signal (a resolved alert) is recorded, never acted on: announce it once, not its bookkeeping.
      if (upSignal && n.updatedAt !== null) return [];
      // An error with no retry left is moved to failed in the same breath; that message says it all.
      if (n.status === 'error' && n.nextAttemptAt === null) return [];
      const event = upSignal ? 'notification.received' : STATUS_EVENTS[n.status];
      const severity = notificationSeverity(event, n, upSignal);
      const to = subscribers(event, severity);
      if (to.length === 0) return [];

      const ended = ['finished', 'ignored', 'error', 'failed'].includes(n.status) && !upSignal;
      const tasks = ended ? history.tasks : [];
      const moves = ended && n.type === 'COMPUTE_HOST' ? history.moves : [];
      return messages(
        to,
        {
          event,
          severity,
          at: iso(n.updatedAt ?? n.createdAt),
          ...notificationFields(n),
          message: n.message,
          next_attempt_at: iso(n.nextAttemptAt),
          tasks: taskSummary(tasks),
          failed_task: n.status === 'error' || n.status === 'failed' ? failedTask(tasks) : null,
          vms: vmSummary(moves),
        },
        n.uuid,
      );
    },

    waitEvents(n, wait) {
      const to = subscribers('recovery.waiting', 'critical');
      if (to.length === 0) return [];
      return messages(
        to,
        {
          event: 'recovery.waiting',
          severity: 'critical',
          at: iso(wait.since),
          ...notificationFields(n),
          message: wait.reason,
          wait_kind: wait.kind,
          waiting_since: iso(wait.since),
          next_attempt_at: null,
          tasks: [],
          failed_task: null,
          vms: [],
          // One message per wait, however often the fence task re-parks it with a new reason.
          dedup_key: `wait:${n.uuid}:${wait.since}`,
        },
        n.uuid,
      );
    },

    alertEvents(alert) {
      const event: NotifierEvent = alert.status === 'firing' ? 'alert.firing' : 'alert.resolved';
      const l = alert.labels;
      const a = alert.annotations ?? {};
      const severity = alertSeverity(l.severity);
      const to = subscribers(event, severity);
      if (to.length === 0) return [];
      return messages(to, {
        event,
        severity,
        at: alert.status === 'firing' ? alert.startsAt : (alert.endsAt ?? null),
        alertname: l.alertname ?? 'unnamed alert',
        status: alert.status,
        summary: a.summary ?? null,
        description: a.description ?? null,
        runbook_url: a.runbook_url ?? null,
        starts_at: alert.startsAt,
        ends_at: alert.status === 'resolved' ? (alert.endsAt ?? null) : null,
        generator_url: alert.generatorURL ?? null,
        fingerprint: alertFingerprint(alert),
        // The same alert re-sent by Alertmanager (group_interval, repeat_interval) has the same key.
        dedup_key: `${alertFingerprint(alert)}:${alert.startsAt}:${alert.status}`,
        pool_name: l.pool_name ?? null,
        host_name: l.host_name ?? null,
        host_uuid: l.host_uuid ?? null,
        vm_name: l.vm_name ?? null,
        vm_uuid: l.vm_uuid ?? null,
        labels: Object.entries(l)
          .sort(([x], [y]) => (x < y ? -1 : 1))
          .map(([name, value]) => ({ name, value })),
      });
    },
  };
}
