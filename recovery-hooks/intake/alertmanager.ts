// Alertmanager webhook (payload version 4) → notifications. Lenient about unknown keys and older senders (no
// version, no fingerprint); strict about what it uses. Only alerts labelled `xcp_notification_type` are recovery
// alerts. Firing → a STOPPED notification; resolved → a STARTED event (recorded, never taken as proof of recovery).
//
// Labels read (set by rules/): xcp_notification_type (COMPUTE_HOST | COMPUTE_INSTANCE | COMPUTE_PROCESS, or VM /
// PROCESS), pool_name, host_uuid, host_name, vm_uuid and vm_name (instances), process_name (processes, default "xapi"),
// xcp_instance_event (instances: "crashed" (default) or "heartbeat").
import { createHash } from 'node:crypto';
import type { HostDirectory, KnownHost } from '../hosts.js';
import { type NewNotification, type NotificationType, canonicalType } from '../store/types.js';

export interface WebhookAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt: string;
  endsAt?: string;
  generatorURL?: string;
  fingerprint?: string;
}

export interface WebhookPayload {
  version?: string;
  groupKey?: string;
  receiver?: string;
  alerts: WebhookAlert[];
}

export type ParseResult = { ok: true; payload: WebhookPayload } | { ok: false; reason: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function parseAlert(v: unknown, i: number): WebhookAlert | string {
  if (!isObject(v)) return `alerts[${i}] is not an object`;
  if (v.status !== 'firing' && v.status !== 'resolved') return `alerts[${i}].status must be "firing" or "resolved"`;
  if (!isObject(v.labels) || !Object.values(v.labels).every((l) => typeof l === 'string')) return `alerts[${i}].labels must map names to strings`;
  if (typeof v.startsAt !== 'string' || Number.isNaN(Date.parse(v.startsAt))) return `alerts[${i}].startsAt must be an RFC 3339 time`;
  if (v.endsAt !== undefined && typeof v.endsAt !== 'string') return `alerts[${i}].endsAt must be a string`;
  if (v.fingerprint !== undefined && typeof v.fingerprint !== 'string') return `alerts[${i}].fingerprint must be a string`;
  // Annotations and the generator URL only feed messages: kept when well-formed, never a reason to refuse.
  const annotations = isObject(v.annotations) ? Object.fromEntries(Object.entries(v.annotations).filter(([, x]) => typeof x === 'string')) : undefined;
  return {
    status: v.status,
    labels: v.labels as Record<string, string>,
    annotations: annotations as Record<string, string> | undefined,
    generatorURL: typeof v.generatorURL === 'string' ? v.generatorURL : undefined,
    startsAt: v.startsAt,
    endsAt: v.endsAt as string | undefined,
    fingerprint: v.fingerprint as string | undefined,
  };
}

export function parseWebhook(body: unknown): ParseResult {
  if (!isObject(body)) return { ok: false, reason: 'not an Alertmanager webhook payload: expected a JSON object' };
  if (body.version !== undefined && body.version !== '4') return { ok: false, reason: `unsupported webhook payload version ${JSON.stringify(body.version)} (expected "4")` };
  if (!Array.isArray(body.alerts)) return { ok: false, reason: 'not an Alertmanager webhook payload: "alerts" must be a list' };
  const alerts: WebhookAlert[] = [];
  for (const [i, a] of body.alerts.entries()) {
    const parsed = parseAlert(a, i);
    if (typeof parsed === 'string') return { ok: false, reason: parsed };
    alerts.push(parsed);
  }
  return {
    ok: true,
    payload: {
      version: body.version as string | undefined,
      groupKey: typeof body.groupKey === 'string' ? body.groupKey : undefined,
      receiver: typeof body.receiver === 'string' ? body.receiver : undefined,
      alerts,
    },
  };
}

/** Alertmanager's fingerprint, or (older senders) a hash of the sorted label set — stable across re-sends. */
export function alertFingerprint(alert: WebhookAlert): string {
  if (alert.fingerprint) return alert.fingerprint;
  const labels = Object.entries(alert.labels).sort(([a], [b]) => (a < b ? -1 : 1));
  return createHash('sha256').update(JSON.stringify(labels)).digest('hex').slice(0, 16);
}

export type AlertMapping =
  | { kind: 'notification'; input: NewNotification; host?: KnownHost }
  | { kind: 'skip'; reason: string }
  | { kind: 'invalid'; reason: string };

function payloadFor(type: NotificationType, alert: WebhookAlert): Record<string, unknown> | string {
  const firing = alert.status === 'firing';
  const l = alert.labels;
  switch (type) {
    case 'COMPUTE_HOST':
      return firing ? { event: 'STOPPED', host_status: 'UNKNOWN', cluster_status: 'OFFLINE' } : { event: 'STARTED', host_status: 'NORMAL', cluster_status: 'ONLINE' };
    case 'COMPUTE_INSTANCE':
      if (!l.vm_uuid) return 'a COMPUTE_INSTANCE alert needs a vm_uuid label';
      // vm_name goes along so that the workflow can check it names the VM XAPI knows by vm_uuid.
      if (!firing) return { instance_uuid: l.vm_uuid, vir_domain_event: 'STARTED_BOOTED', event: 'STARTED', ...(l.vm_name ? { vm_name: l.vm_name } : {}) };
      return {
        instance_uuid: l.vm_uuid,
        vir_domain_event: 'STOPPED_FAILED',
        event: l.xcp_instance_event === 'heartbeat' ? 'QEMU_GUEST_AGENT_ERROR' : 'LIFECYCLE',
        ...(l.vm_name ? { vm_name: l.vm_name } : {}),
      };
    case 'COMPUTE_PROCESS':
      return { process_name: l.process_name || 'xapi', event: firing ? 'STOPPED' : 'STARTED' };
  }
}

/** Map one alert to the notification it stands for (with its exact-replay key), or say why not. */
export function mapAlert(alert: WebhookAlert, hosts: HostDirectory, now: number): AlertMapping {
  const l = alert.labels;
  if (!l.xcp_notification_type) return { kind: 'skip', reason: 'no xcp_notification_type label: not a recovery alert' };
  const type = canonicalType(l.xcp_notification_type);
  if (!type) return { kind: 'invalid', reason: `xcp_notification_type ${JSON.stringify(l.xcp_notification_type)} is not COMPUTE_HOST, COMPUTE_INSTANCE or COMPUTE_PROCESS` };

  const known = l.host_name ? hosts.findHost(l.host_name) : undefined;
  const host = l.host_uuid && l.host_name && l.pool_name ? { uuid: l.host_uuid, name: l.host_name, pool: l.pool_name } : known;
  const pool = host?.pool ?? l.pool_name;
  if (!pool) return { kind: 'invalid', reason: 'no pool_name label and the host is unknown' };
  if (!host && type !== 'COMPUTE_INSTANCE') return { kind: 'invalid', reason: `${type} alert without host_uuid/host_name/pool_name labels of a known host` };

  const payload = payloadFor(type, alert);
  if (typeof payload === 'string') return { kind: 'invalid', reason: payload };
  const firing = alert.status === 'firing';
  const ended = alert.endsAt ? Date.parse(alert.endsAt) : NaN;
  const startsAt = Date.parse(alert.startsAt);
  return {
    kind: 'notification',
    host,
    input: {
      type,
      hostUuid: host?.uuid ?? '',
      hostName: host?.name ?? '',
      poolName: pool,
      generatedAt: firing ? startsAt : Number.isNaN(ended) || ended <= 0 ? now : ended,
      payload,
      source: 'alertmanager',
      replayKey: `am:${alertFingerprint(alert)}:${startsAt}:${String(payload.event)}`,
    },
  };
}
