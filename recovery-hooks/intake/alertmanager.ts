// Alertmanager webhook (payload version 4) → notifications. Lenient about unknown keys and older senders (no
// version, no fingerprint); strict about what it uses. Only alerts labelled `xcp_notification_type` are recovery
// alerts. Firing → a STOPPED notification; resolved → a STARTED event (recorded, never taken as proof of recovery).
//
// Labels read (set by rules/): xcp_notification_type (COMPUTE_HOST | COMPUTE_INSTANCE | COMPUTE_PROCESS, or VM /
// PROCESS, or XCP_EMERGENCY_SHUTDOWN), pool_name, host_uuid, host_name, vm_uuid and vm_name (instances), process_name
// (processes, default "xapi"), xcp_instance_event (instances: "crashed" (default) or "heartbeat"). Emergency shutdowns:
// firing → POWER_LOST, resolved → POWER_RESTORED; without host labels the whole pool (the notification is anchored on
// a host of the pool the directory knows), with them that host alone; the annotation `runtime_seconds` (the UPS's
// remaining runtime, a number > 0) sets the time budget. xcp_failure (hosts: "pool_master" for a lost pool master).
import { createHash } from 'node:crypto';
import type { HostDirectory, KnownHost } from '../hosts.js';
import { type NewNotification, type NotificationType, canonicalType } from '../store/types.js';
import { parseMasakariTime } from './masakari/time.js';
import { LIMITS, describe, nameProblem, textProblem, truncate, uuidProblem } from './validate.js';
import { isObject } from '../../core/guards.js';

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

/** One alert of a delivery: usable, or refused alone (with why) so the other alerts of the delivery still count. */
export type ParsedAlert = { ok: true; alert: WebhookAlert } | { ok: false; fingerprint: string; status: string; reason: string };

export type ParseResult = { ok: true; payload: Omit<WebhookPayload, 'alerts'> & { alerts: ParsedAlert[] } } | { ok: false; reason: string };

/**
 * parseMasakariTime with a memory of its last answers (at most 16, then forgotten): the alerts of a delivery mostly
 * share their startsAt and endsAt, and each is read when validated and again when mapped.
 */
const recentTimes = new Map<string, number | undefined>();
function timeOf(text: string): number | undefined {
  if (recentTimes.has(text)) return recentTimes.get(text);
  if (recentTimes.size >= 16) recentTimes.clear();
  const ms = parseMasakariTime(text);
  recentTimes.set(text, ms);
  return ms;
}

/** Label or annotation map: bounded entries, keys without controls, values without NUL and bounded. */
function mapProblem(v: unknown, what: string, maxValue: number): string | undefined {
  if (!isObject(v)) return `${what} must map names to strings`;
  for (const [key, value] of Object.entries(v)) {
    const keyProblem = textProblem(key, LIMITS.key, { min: 1 });
    if (keyProblem) return `${what} name ${describe(key)} ${keyProblem}`;
    const valueProblem = textProblem(value, maxValue, { controls: 'nul-only' });
    if (valueProblem) return `${what}.${truncate(key, 64)} ${valueProblem}`;
  }
  return undefined;
}

function alertProblem(v: Record<string, unknown>, at: string): string | undefined {
  if (v.status !== 'firing' && v.status !== 'resolved') return `${at}.status must be "firing" or "resolved"`;
  const labels = mapProblem(v.labels, `${at}.labels`, LIMITS.labelValue);
  if (labels) return labels;
  if (v.annotations !== undefined) {
    const annotations = mapProblem(v.annotations, `${at}.annotations`, LIMITS.annotation);
    if (annotations) return annotations;
  }
  if (Object.keys(v.labels as object).length + Object.keys((v.annotations as object | undefined) ?? {}).length > LIMITS.entries)
    return `${at} has more than ${LIMITS.entries} labels and annotations`;
  if (typeof v.startsAt !== 'string' || timeOf(v.startsAt) === undefined) return `${at}.startsAt ${describe(v.startsAt)} is not an RFC 3339 time`;
  if (v.endsAt !== undefined && typeof v.endsAt !== 'string') return `${at}.endsAt must be a string`;
  if (v.fingerprint !== undefined) {
    const problem = textProblem(v.fingerprint, LIMITS.key);
    if (problem) return `${at}.fingerprint ${problem}`;
  }
  return undefined;
}

function parseAlert(v: unknown, i: number): ParsedAlert {
  const at = `alerts[${i}]`;
  if (!isObject(v)) return { ok: false, fingerprint: '', status: '', reason: `${at} is not an object` };
  const problem = alertProblem(v, at);
  const status = typeof v.status === 'string' ? truncate(v.status, 16) : '';
  if (problem) return { ok: false, fingerprint: typeof v.fingerprint === 'string' ? truncate(v.fingerprint, 64) : '', status, reason: problem };
  // The generator URL only feeds messages: kept when well-formed, never a reason to refuse.
  const url = typeof v.generatorURL === 'string' && !textProblem(v.generatorURL, LIMITS.labelValue) ? v.generatorURL : undefined;
  return {
    ok: true,
    alert: {
      status: v.status as WebhookAlert['status'],
      labels: v.labels as Record<string, string>,
      annotations: v.annotations as Record<string, string> | undefined,
      generatorURL: url,
      startsAt: v.startsAt as string,
      endsAt: v.endsAt as string | undefined,
      fingerprint: v.fingerprint as string | undefined,
    },
  };
}

/** The delivery, or why it is no webhook at all. An unusable alert does not refuse the delivery: it is one receipt. */
export function parseWebhook(body: unknown): ParseResult {
  if (!isObject(body)) return { ok: false, reason: 'not an Alertmanager webhook payload: expected a JSON object' };
  if (body.version !== undefined && body.version !== '4')
    return { ok: false, reason: `unsupported webhook payload version ${describe(body.version)} (expected "4")` };
  if (!Array.isArray(body.alerts)) return { ok: false, reason: 'not an Alertmanager webhook payload: "alerts" must be a list' };
  const bounded = (v: unknown) => (typeof v === 'string' && !textProblem(v, LIMITS.labelValue) ? v : undefined);
  return {
    ok: true,
    payload: {
      version: body.version as string | undefined,
      groupKey: bounded(body.groupKey),
      receiver: bounded(body.receiver),
      alerts: body.alerts.map(parseAlert),
    },
  };
}

/** Alertmanager's fingerprint, or (older senders) a hash of the sorted label set — stable across re-sends. */
export function alertFingerprint(alert: WebhookAlert): string {
  if (alert.fingerprint) return alert.fingerprint;
  const labels = Object.entries(alert.labels).sort(([a], [b]) => (a < b ? -1 : 1));
  return createHash('sha256').update(JSON.stringify(labels)).digest('hex').slice(0, 16);
}

/**
 * What makes a re-sent alert a replay: its fingerprint, when it started, its event. The time comes first, so that the
 * keys of the alerts arriving now sit together at the end of the store's unique index and a group commit writes a few
 * of its pages, instead of one random page per alert (a fingerprint is a hash): with the fingerprint first (`am:`
 * keys, rewritten by migration 8) the receiver took 1.13–1.2× the main-thread CPU per webhook (bench/RESULTS.md,
 * intake).
 */
export const replayKeyOf = (fingerprint: string, startsAt: number, event: string): string => `am2:${startsAt}:${fingerprint}:${event}`;

export type AlertMapping =
  | { kind: 'notification'; input: NewNotification; host?: KnownHost; unknownHost?: true }
  | { kind: 'skip'; reason: string }
  | { kind: 'invalid'; reason: string };

// Keys in sorted order: the store's canonical payload text (rows.ts canonicalJson) is then plain JSON.stringify.
function payloadFor(type: NotificationType, alert: WebhookAlert): Record<string, unknown> | string {
  const firing = alert.status === 'firing';
  const l = alert.labels;
  switch (type) {
    case 'COMPUTE_HOST':
      // xcp_failure="pool_master" (XcpPoolMasterLost) routes the notification to the master failover (workflows/master.ts).
      if (!firing) return { cluster_status: 'ONLINE', event: 'STARTED', host_status: 'NORMAL' };
      return {
        cluster_status: 'OFFLINE',
        event: 'STOPPED',
        host_status: 'UNKNOWN',
        ...(l.xcp_failure === 'pool_master' ? { xcp_failure: 'pool_master' } : {}),
      };
    case 'COMPUTE_INSTANCE':
      if (!l.vm_uuid) return 'a COMPUTE_INSTANCE alert needs a vm_uuid label';
      // vm_name goes along so that the workflow can check it names the VM XAPI knows by vm_uuid.
      if (!firing) return { event: 'STARTED', instance_uuid: l.vm_uuid, vir_domain_event: 'STARTED_BOOTED', ...(l.vm_name ? { vm_name: l.vm_name } : {}) };
      return {
        event: l.xcp_instance_event === 'heartbeat' ? 'QEMU_GUEST_AGENT_ERROR' : 'LIFECYCLE',
        instance_uuid: l.vm_uuid,
        vir_domain_event: 'STOPPED_FAILED',
        ...(l.vm_name ? { vm_name: l.vm_name } : {}),
      };
    case 'COMPUTE_PROCESS':
      return { event: firing ? 'STOPPED' : 'STARTED', process_name: l.process_name || 'xapi' };
    case 'XCP_EMERGENCY_SHUTDOWN': {
      const runtime = Number(alert.annotations?.runtime_seconds ?? l.runtime_seconds);
      return {
        event: firing ? 'POWER_LOST' : 'POWER_RESTORED',
        ...(firing && Number.isFinite(runtime) && runtime > 0 && runtime <= 7 * 86400 ? { runtime_seconds: runtime } : {}),
        scope: l.host_uuid || l.host_name ? 'host' : 'pool',
        source: truncate(`alert ${l.alertname ?? ''}${l.ups ? ` (ups ${l.ups})` : ''}`, 255),
      };
    }
  }
}

/**
 * The recovery labels, checked as the store will keep them: names, UUIDs, a process name. A host name is XAPI's
 * name_label, which may hold spaces: bounded and printable, not Masakari's hostname pattern.
 */
const RECOVERY_LABEL_CHECKS: [string, (v: unknown) => string | undefined][] = [
  ['pool_name', nameProblem],
  ['host_name', (v) => textProblem(v, LIMITS.name, { min: 1 })],
  ['host_uuid', uuidProblem],
  ['vm_uuid', uuidProblem],
  ['vm_name', (v) => textProblem(v, LIMITS.labelValue, { min: 1 })],
  ['process_name', (v) => textProblem(v, LIMITS.processName, { min: 1 })],
];

function recoveryLabelProblem(l: Record<string, string>): string | undefined {
  for (const [label, problem] of RECOVERY_LABEL_CHECKS) {
    const found = l[label] !== undefined ? problem(l[label]) : undefined;
    if (found) return `label ${label}: ${describe(l[label])} ${found.replace(/^'.*' /, '')}`;
  }
  return undefined;
}

/**
 * The host an alert names, identity from the host directory (XAPI's inventory, the configured hosts), never learned
 * from labels. A host the directory does not know is refused when its pool's inventory is loaded (a label naming a
 * host XAPI does not have); otherwise (inventory not reached yet) the alert is taken with its labels' identity,
 * recorded with the notification (purged with it), and the directory does not learn it.
 */
function resolveHost(l: Record<string, string>, hosts: HostDirectory, pools: ReadonlySet<string>): { host?: KnownHost; unknown?: true } | string {
  const pool = l.pool_name;
  if (pool !== undefined && !pools.has(pool)) return `pool_name ${describe(pool)} is not a configured pool`;
  const candidates = pool !== undefined ? hosts.hostsOf(pool) : [...pools].flatMap((p) => hosts.hostsOf(p));
  const byUuid = l.host_uuid ? candidates.find((h) => h.uuid === l.host_uuid) : undefined;
  const byName = l.host_name ? candidates.find((h) => h.name === l.host_name) : undefined;
  // A host_name label that is not the name of host_uuid is kept as sent: the workflow compares it with XAPI and
  // ignores the notification with the reason (identity is the uuid's, and a mismatch is never acted on).
  if (byUuid) return { host: l.host_name && l.host_name !== byUuid.name ? { ...byUuid, name: l.host_name } : byUuid };
  if (byName && l.host_uuid) return `host_uuid ${l.host_uuid} is not the uuid of ${byName.name} (${byName.uuid}) in pool ${byName.pool}`;
  if (byName) return { host: byName };
  if (!l.host_uuid && !l.host_name) return {};
  if (pool !== undefined && hosts.inventoryLoaded?.(pool))
    return `host ${describe(l.host_name ?? l.host_uuid)} is not a host of pool ${pool} in its XAPI inventory`;
  if (l.host_uuid && l.host_name && pool) return { host: { uuid: l.host_uuid, name: l.host_name, pool }, unknown: true };
  return {};
}

export interface MapContext {
  hosts: HostDirectory;
  /** The configured pools (segments): an alert of another pool is refused. */
  pools: ReadonlySet<string>;
  now: number;
}

/** Map one alert to the notification it stands for (with its exact-replay key), or say why not. */
export function mapAlert(alert: WebhookAlert, ctx: MapContext): AlertMapping {
  const l = alert.labels;
  if (!l.xcp_notification_type) return { kind: 'skip', reason: 'no xcp_notification_type label: not a recovery alert' };
  const type = canonicalType(l.xcp_notification_type);
  if (!type)
    return {
      kind: 'invalid',
      reason: `xcp_notification_type ${describe(l.xcp_notification_type)} is not COMPUTE_HOST, COMPUTE_INSTANCE, COMPUTE_PROCESS or XCP_EMERGENCY_SHUTDOWN`,
    };
  const labelProblem = recoveryLabelProblem(l);
  if (labelProblem) return { kind: 'invalid', reason: labelProblem };

  const resolved = resolveHost(l, ctx.hosts, ctx.pools);
  if (typeof resolved === 'string') return { kind: 'invalid', reason: resolved };
  const { unknown } = resolved;
  // A pool-wide emergency names no host: it is anchored on one the directory knows (the workflow reads the pool's hosts from XAPI).
  const host = resolved.host ?? (type === 'XCP_EMERGENCY_SHUTDOWN' && l.pool_name ? ctx.hosts.hostsOf(l.pool_name)[0] : undefined);
  const pool = host?.pool ?? l.pool_name;
  if (!pool) return { kind: 'invalid', reason: 'no pool_name label and the host is unknown' };
  if (!host && type !== 'COMPUTE_INSTANCE') return { kind: 'invalid', reason: `${type} alert without host_uuid/host_name/pool_name labels of a known host` };

  const payload = payloadFor(type, alert);
  if (typeof payload === 'string') return { kind: 'invalid', reason: payload };
  const firing = alert.status === 'firing';
  const ended = alert.endsAt ? (timeOf(alert.endsAt) ?? NaN) : NaN;
  const startsAt = timeOf(alert.startsAt)!;
  return {
    kind: 'notification',
    host,
    unknownHost: unknown,
    input: {
      type,
      hostUuid: host?.uuid ?? '',
      hostName: host?.name ?? '',
      poolName: pool,
      generatedAt: firing ? startsAt : Number.isNaN(ended) || ended <= 0 ? ctx.now : ended,
      payload,
      source: 'alertmanager',
      replayKey: replayKeyOf(alertFingerprint(alert), startsAt, String(payload.event)),
    },
  };
}
