// Response bodies in Masakari's shapes (doc/api_samples): notifications, workflow details, vmoves, segments, hosts,
// version documents. Segments are the configured pools; hosts come from the host directory.
import { createHash } from 'node:crypto';
import type { PoolMode } from '../../config.js';
import type { KnownHost } from '../../hosts.js';
import type { ForwardState, HostState, Notification, OperatorWait, TaskRecord, VmMove } from '../../store/types.js';
import { MAX_VERSION, MIN_VERSION } from './microversion.js';
import { formatDetailTime, formatMasakariTime } from './time.js';

const time = (ms: number | null) => (ms === null ? null : formatMasakariTime(ms));
const deletedFields = { deleted: false, deleted_at: null };

/** A stable UUID for a name (segments have no uuid of their own: they are the configured pools). */
export function stableUuid(kind: string, name: string): string {
  const h = createHash('sha1').update(`xcp-sentinel:${kind}:${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export interface Segment {
  id: number;
  name: string;
  mode: PoolMode;
  createdAt: number;
}

export function notificationView(n: Notification): Record<string, unknown> {
  return {
    notification_uuid: n.uuid,
    status: n.status,
    source_host_uuid: n.hostUuid,
    ...deletedFields,
    created_at: time(n.createdAt),
    updated_at: time(n.updatedAt),
    id: n.id,
    generated_time: time(n.generatedAt),
    type: n.type,
    payload: n.payload,
    failover_segment_uuid: stableUuid('segment', n.poolName),
    message: n.message,
  };
}

/** Why a notification waits for a person (our key: `operator_wait`), since when (ISO 8601). */
export function operatorWaitView(w: OperatorWait): Record<string, unknown> {
  return { kind: w.kind, reason: w.reason, since: new Date(w.since).toISOString() };
}

/** What became of a notification forwarded to a remote Instance-HA API (our key: OpenStack clients ignore it). */
export function forwardView(f: ForwardState): Record<string, unknown> {
  return {
    endpoint: f.endpoint,
    outcome: f.outcome,
    remote_uuid: f.remoteUuid,
    remote_status: f.remoteStatus,
    reason: f.reason,
    updated_at: time(f.updatedAt),
  };
}

/** Python's str(float): "0.0", "1.0", "0.5". */
const pyFloat = (p: number) => (Number.isInteger(p) ? p.toFixed(1) : String(p));

export function workflowDetailsView(tasks: TaskRecord[]): Record<string, unknown>[] {
  return tasks.map((t) => ({
    name: t.name,
    state: t.state,
    progress: t.progress,
    progress_details: t.details.map((d) => ({ timestamp: formatDetailTime(d.timestamp), message: d.message, progress: pyFloat(d.progress) })),
  }));
}

export function vmoveView(m: VmMove): Record<string, unknown> {
  return {
    created_at: time(m.createdAt),
    updated_at: time(m.updatedAt),
    ...deletedFields,
    id: m.id,
    notification_uuid: m.notificationUuid,
    instance_uuid: m.vmUuid,
    instance_name: m.vmName,
    source_host: m.sourceHost,
    dest_host: m.destHost,
    start_time: time(m.startTime),
    end_time: time(m.endTime),
    status: m.status,
    type: 'evacuation',
    message: m.message,
  };
}

export function segmentView(s: Segment, withEnabled: boolean): Record<string, unknown> {
  return {
    uuid: stableUuid('segment', s.name),
    ...deletedFields,
    created_at: time(s.createdAt),
    description: `XCP-ng pool ${s.name} (recovery mode ${s.mode})`,
    recovery_method: 'auto',
    updated_at: null,
    service_type: 'COMPUTE',
    id: s.id,
    name: s.name,
    ...(withEnabled ? { enabled: s.mode !== 'notify-only' } : {}),
  };
}

export function hostView(h: KnownHost, index: number, segment: Segment, state: HostState | undefined, withEnabled: boolean): Record<string, unknown> {
  const seg = segmentView(segment, withEnabled);
  return {
    reserved: false,
    uuid: h.uuid,
    ...deletedFields,
    on_maintenance: state?.onMaintenance ?? false,
    created_at: time(segment.createdAt),
    control_attributes: 'XAPI',
    updated_at: time(state?.updatedAt ?? null),
    name: h.name,
    failover_segment: seg,
    type: 'COMPUTE_HOST',
    id: index + 1,
    failover_segment_id: seg.uuid,
  };
}

const UPDATED = '2016-07-01T11:33:21Z';

export function versionView(baseUrl: string): Record<string, unknown> {
  return {
    id: 'v1',
    links: [
      { href: `${baseUrl}/v1/`, rel: 'self' },
      { href: 'https://docs.openstack.org/', rel: 'describedby', type: 'text/html' },
    ],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.masakari+json;version=1' }],
    status: 'CURRENT',
    version: MAX_VERSION,
    min_version: MIN_VERSION,
    updated: UPDATED,
  };
}

export function versionsView(baseUrl: string): Record<string, unknown> {
  return {
    versions: [
      { id: 'v1.0', links: [{ href: `${baseUrl}/v1/`, rel: 'self' }], status: 'CURRENT', version: MAX_VERSION, min_version: MIN_VERSION, updated: UPDATED },
    ],
  };
}
