// The receiver's own metrics (docs/METRICS.md, "Recovery hooks"), in a registry of its own.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { NotificationStore } from '../store/store.js';
import { NOTIFICATION_STATUSES, NOTIFICATION_TYPES } from '../store/types.js';

export interface RecoveryMetrics {
  registry: Registry;
  notifications: Counter<'type' | 'status'>;
  workflowDuration: Histogram<'type' | 'status'>;
  taskRuns: Counter<'task' | 'outcome'>;
  messages: Counter<'channel' | 'outcome'>;
  webhooks: Counter<'outcome'>;
  /** Second pool masters demoted by the master watch (master-watch.ts). */
  masterDemotions: Counter<'pool_name' | 'host_name'>;
}

export function createRecoveryMetrics(store: NotificationStore): RecoveryMetrics {
  const registry = new Registry();
  const registers = [registry];
  new Gauge({
    name: 'xcp_recovery_notifications',
    help: 'Notifications in the store, by current status.',
    labelNames: ['status'],
    registers,
    async collect() {
      const counts = await store.countByStatus();
      for (const status of NOTIFICATION_STATUSES) this.set({ status }, counts[status]);
    },
  });
  new Gauge({
    name: 'xcp_recovery_waiting_for_operator',
    help: 'Host recoveries waiting for an operator (1 per waiting notification): the fence cannot be proven, or a blast-radius limit holds it. Nothing restarts until someone runs confirm-fenced.',
    labelNames: ['pool_name', 'host_name', 'host_uuid', 'kind'],
    registers,
    async collect() {
      this.reset();
      for (const w of await store.openOperatorWaits()) this.set({ pool_name: w.poolName, host_name: w.hostName, host_uuid: w.hostUuid, kind: w.kind }, 1);
    },
  });
  const metrics: RecoveryMetrics = {
    registry,
    notifications: new Counter({
      name: 'xcp_recovery_notifications_total',
      help: 'Notification status transitions (creation counts as a transition to its first status).',
      labelNames: ['type', 'status'],
      registers,
    }),
    workflowDuration: new Histogram({
      name: 'xcp_recovery_workflow_duration_seconds',
      help: 'Duration of one workflow run, by notification type and the status it ended in.',
      labelNames: ['type', 'status'],
      buckets: [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800],
      registers,
    }),
    taskRuns: new Counter({
      name: 'xcp_recovery_task_runs_total',
      help: 'Workflow task runs by outcome (success, retry, failure, ignore, finish).',
      labelNames: ['task', 'outcome'],
      registers,
    }),
    messages: new Counter({
      name: 'xcp_recovery_messages_total',
      help: 'Outbox messages for the notifiers, by channel and outcome (queued, sent, retry, dead).',
      labelNames: ['channel', 'outcome'],
      registers,
    }),
    webhooks: new Counter({
      name: 'xcp_recovery_webhooks_total',
      help: 'Alertmanager webhook requests by outcome (accepted, duplicate, rejected, error).',
      labelNames: ['outcome'],
      registers,
    }),
    masterDemotions: new Counter({
      name: 'xcp_recovery_master_demotions_total',
      help: 'Second pool masters (an old master back as master beside the new one) demoted with pool.emergency_reset_master.',
      labelNames: ['pool_name', 'host_name'],
      registers,
    }),
  };
  // Known label sets start at 0, so increase() counts the very first event of each (a series born at 1 would not).
  for (const type of NOTIFICATION_TYPES) for (const status of NOTIFICATION_STATUSES) metrics.notifications.inc({ type, status }, 0);
  for (const outcome of ['accepted', 'duplicate', 'rejected', 'error']) metrics.webhooks.inc({ outcome }, 0);
  return metrics;
}
