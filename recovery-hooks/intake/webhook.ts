// POST /alertmanager: record the recovery alerts of one webhook delivery, then answer. 2xx only once every
// notification is committed; a store failure propagates (→ 503) so that Alertmanager sends the group again, and the
// alerts already committed come back as replays. Replays and duplicates answer 2xx too, so the sender stops. Bad
// input is decided per alert: an alert that cannot be used gets an `invalid` receipt saying why (not stored, not
// announced) and the other alerts of the delivery count; only a body that is no webhook at all gets a 400.
import type { Logger } from '../../core/log.js';
import type { RecoveryMetrics } from '../engine/metrics.js';
import type { HostDirectory } from '../hosts.js';
import type { OutboxInput } from '../store/types.js';
import { type WebhookAlert, alertFingerprint, mapAlert, parseWebhook } from './alertmanager.js';
import { ApiError } from './errors.js';
import type { NotificationRecorder } from './recorder.js';
import { labelsForLog } from './validate.js';

export type AlertOutcome = 'created' | 'replay' | 'duplicate' | 'host-on-maintenance' | 'skipped' | 'invalid';

export interface AlertReceipt {
  fingerprint: string;
  status: 'firing' | 'resolved';
  outcome: AlertOutcome;
  notification_uuid?: string;
  reason?: string;
}

export interface WebhookDeps {
  recorder: NotificationRecorder;
  hosts: HostDirectory;
  /** The configured pools: alerts of other pools are refused. */
  pools: ReadonlySet<string>;
  metrics: RecoveryMetrics;
  logger: Logger;
  now: () => number;
  /** Messages announcing an alert itself, for channels subscribed to alert.firing / alert.resolved. */
  alertEvents?: (alert: WebhookAlert) => OutboxInput[];
}

export async function receiveWebhook(body: unknown, deps: WebhookDeps): Promise<{ receipts: AlertReceipt[] }> {
  const parsed = parseWebhook(body);
  if (!parsed.ok) throw new ApiError(400, parsed.reason);
  const receipts: AlertReceipt[] = [];
  const usable: WebhookAlert[] = [];
  const pending: { receipt: AlertReceipt; input: Extract<ReturnType<typeof mapAlert>, { kind: 'notification' }>['input'] }[] = [];
  const ctx = { hosts: deps.hosts, pools: deps.pools, now: deps.now() };
  for (const entry of parsed.payload.alerts) {
    // An alert that cannot be read is answered alone (2xx for the delivery: Alertmanager would re-send it forever).
    if (!entry.ok) {
      deps.logger.warn('alert refused', { fingerprint: entry.fingerprint, reason: entry.reason });
      receipts.push({ fingerprint: entry.fingerprint, status: entry.status as AlertReceipt['status'], outcome: 'invalid', reason: entry.reason });
      continue;
    }
    const alert = entry.alert;
    // Object literals, not spreads of a shared `base`: spreading cost more than mapping the alert (profiled).
    const fingerprint = alertFingerprint(alert);
    const status = alert.status;
    const mapping = mapAlert(alert, ctx);
    if (mapping.kind !== 'notification') {
      if (mapping.kind === 'invalid')
        deps.logger.warn('recovery alert not usable', { fingerprint, status, reason: mapping.reason, labels: labelsForLog(alert.labels) });
      else usable.push(alert);
      receipts.push({ fingerprint, status, outcome: mapping.kind === 'skip' ? 'skipped' : 'invalid', reason: mapping.reason });
      continue;
    }
    if (mapping.unknownHost)
      deps.logger.info('recovery alert names a host not in the host directory (its pool inventory is not loaded): recorded, not learned', {
        fingerprint,
        status,
        host: mapping.input.hostName,
        host_uuid: mapping.input.hostUuid,
        pool: mapping.input.poolName,
      });
    usable.push(alert);
    // Every field from the start (notification_uuid is set after the commit): one object shape for all receipts.
    const receipt: AlertReceipt = { fingerprint, status, outcome: 'created', notification_uuid: undefined };
    receipts.push(receipt);
    pending.push({ receipt, input: mapping.input });
  }
  // The whole delivery is committed (with any others arriving at the same time) before the answer, all or nothing.
  const announcements = deps.alertEvents ? usable.flatMap((a) => deps.alertEvents!(a)) : [];
  const results = await deps.recorder.recordDelivery(
    pending.map((p) => p.input),
    announcements,
  );
  results.forEach((result, i) => {
    const { receipt, input } = pending[i]!;
    receipt.outcome = result.outcome;
    receipt.notification_uuid = result.notification?.uuid;
    if (result.outcome === 'created')
      deps.logger.info('notification recorded from Alertmanager', { notification: result.notification.uuid, type: input.type, host: input.hostName });
  });
  const recovery = receipts.filter((r) => r.outcome !== 'skipped' && r.outcome !== 'invalid');
  const allRepeats = recovery.length > 0 && recovery.every((r) => r.outcome === 'replay' || r.outcome === 'duplicate');
  deps.metrics.webhooks.inc({ outcome: allRepeats ? 'duplicate' : 'accepted' });
  return { receipts };
}
