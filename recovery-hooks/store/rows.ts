// What the SQLite and PostgreSQL stores share, as pure code: how rows map to the model, the canonical payload text,
// and the statements whose text is the same in both dialects (written with `?` placeholders; the PostgreSQL store
// numbers them), in the stores' order of concerns (store.ts). The duplicate/replay decision is in decide.ts, a
// notification's activity in activity.ts.
import type {
  FenceRecord,
  LeaseConflicts,
  OperatorWait,
  OperatorWaitKind,
  ForwardPatch,
  ForwardState,
  HostState,
  ListFilter,
  ListPage,
  NewNotification,
  Notification,
  NotificationStatus,
  OutboxMessage,
  SortKey,
  TaskRecord,
  TaskState,
  VmMove,
} from './types.js';

export type Row = Record<string, unknown>;

export interface Statement {
  sql: string;
  params: unknown[];
}

/** JSON with object keys sorted, so identical payloads compare equal as text (Masakari's duplicate rule). */
export function canonicalJson(value: unknown): string {
  if (isSortedFlat(value)) return JSON.stringify(value); // the same text, without a replacer (about 3x faster)
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** An object (no array, no toJSON) whose keys are in sorted order and whose values are no objects: canonical as it is. */
function isSortedFlat(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || typeof (value as { toJSON?: unknown }).toJSON === 'function') return false;
  const keys = Object.keys(value);
  for (let i = 0; i < keys.length; i++) {
    if (i > 0 && keys[i - 1]! >= keys[i]!) return false;
    const v = (value as Record<string, unknown>)[keys[i]!];
    if (typeof v === 'object' && v !== null) return false;
  }
  return true;
}

/** `column = ?` assignments for the defined values (undefined = leave the column as it is). */
export function assignments(values: Record<string, unknown>): { sets: string[]; params: unknown[] } {
  const defined = Object.entries(values).filter(([, v]) => v !== undefined);
  return { sets: defined.map(([k]) => `${k} = ?`), params: defined.map(([, v]) => v) };
}

const parseJson = (text: unknown): unknown => (text === null || text === undefined ? null : (JSON.parse(text as string) as unknown));

// ── Notifications (StoreNotifications) ──

export function toNotification(r: Row): Notification {
  return {
    id: r.id as number,
    uuid: r.uuid as string,
    type: r.type as Notification['type'],
    status: r.status as NotificationStatus,
    hostUuid: r.host_uuid as string,
    hostName: r.host_name as string,
    poolName: r.pool_name as string,
    generatedAt: r.generated_at as number,
    payload: JSON.parse(r.payload as string) as Record<string, unknown>,
    message: (r.message as string | null) ?? null,
    source: r.source as Notification['source'],
    createdAt: r.created_at as number,
    updatedAt: (r.updated_at as number | null) ?? null,
    attempts: r.attempts as number,
    nextAttemptAt: (r.next_attempt_at as number | null) ?? null,
  };
}

const NEW_NOTIFICATION_COLUMNS = [
  'uuid',
  'type',
  'status',
  'host_uuid',
  'host_name',
  'pool_name',
  'generated_at',
  'payload',
  'message',
  'source',
  'replay_key',
  'created_at',
] as const;

/** One text for every insert: the stores cache their prepared statements by SQL text. */
const NOTIFICATION_INSERT_SQL = `INSERT INTO notifications (${NEW_NOTIFICATION_COLUMNS.join(', ')}) VALUES (${NEW_NOTIFICATION_COLUMNS.map(() => '?').join(', ')})`;

/** A notification row to insert: the statement, and the row it makes once given its id (as SELECT * reads it back). */
export function notificationInsert(
  input: NewNotification,
  uuid: string,
  payload: string,
  ignoreReason: string | undefined,
  now: number,
): Statement & { row(id: number): Row } {
  const values: Record<(typeof NEW_NOTIFICATION_COLUMNS)[number], unknown> = {
    uuid,
    type: input.type,
    status: ignoreReason ? 'ignored' : 'new',
    host_uuid: input.hostUuid,
    host_name: input.hostName,
    pool_name: input.poolName,
    generated_at: input.generatedAt,
    payload,
    message: ignoreReason ?? null,
    source: input.source,
    replay_key: input.replayKey ?? null,
    created_at: now,
  };
  return {
    sql: NOTIFICATION_INSERT_SQL,
    params: NEW_NOTIFICATION_COLUMNS.map((c) => values[c]),
    // The columns left to their defaults (migration 1): no update yet, no attempt.
    row: (id) => ({ id, ...values, updated_at: null, attempts: 0, next_attempt_at: null }),
  };
}

/** The engine's unfinished notifications (store.ts unfinished), oldest first; with a time, those generated before it. */
export function unfinishedQuery(limit: number, generatedBefore?: number): Statement {
  const before = generatedBefore === undefined ? '' : ' AND generated_at < ?';
  return {
    sql: `SELECT * FROM notifications WHERE status IN ('new', 'running', 'error')${before} ORDER BY id LIMIT ?`,
    params: generatedBefore === undefined ? [limit] : [generatedBefore, limit],
  };
}

const SORT_COLUMNS: Record<SortKey, string> = {
  created_at: 'created_at',
  type: 'type',
  generated_time: 'generated_at',
  updated_at: 'COALESCE(updated_at, -1)',
  uuid: 'uuid',
  payload: 'payload',
  status: 'status',
  source_host_uuid: 'host_uuid',
  id: 'id',
};

export interface ListOrder {
  sort: ListPage['sort'];
  columns: string[];
}

/** Masakari's defaults: created_at then id are always appended, in the first given direction. */
export function listOrder(page: ListPage): ListOrder {
  const sort = [...page.sort];
  const defaultDir = sort[0]?.dir ?? 'desc';
  for (const key of ['created_at', 'id'] as const) if (!sort.some((s) => s.key === key)) sort.push({ key, dir: defaultDir });
  return { sort, columns: sort.map((s) => SORT_COLUMNS[s.key]) };
}

/** The sort values of the marker row, selected by its id (one row of `columns`, in order). */
export function markerQuery(order: ListOrder): string {
  return `SELECT ${order.columns.join(', ')} FROM notifications WHERE id = ?`;
}

/** One page of notifications; with the marker's sort values, the rows strictly after it (keyset pagination). */
export function listQuery(filter: ListFilter, limit: number, order: ListOrder, marker?: unknown[]): Statement {
  const where: string[] = [];
  const params: unknown[] = [];
  const match = (clause: string, value: unknown) => {
    if (value === undefined) return;
    where.push(clause);
    params.push(value);
  };
  match('status = ?', filter.status);
  match('type = ?', filter.type);
  match('host_uuid = ?', filter.hostUuid);
  match('generated_at >= ?', filter.generatedSince);
  const { sort, columns } = order;
  if (marker) {
    const ors = sort.map((s, i) => {
      const eq = columns.slice(0, i).map((c) => `${c} = ?`);
      return `(${[...eq, `${columns[i]} ${s.dir === 'asc' ? '>' : '<'} ?`].join(' AND ')})`;
    });
    where.push(`(${ors.join(' OR ')})`);
    sort.forEach((_s, i) => {
      params.push(...marker.slice(0, i + 1));
    });
  }
  const sql =
    'SELECT * FROM notifications' +
    (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
    ` ORDER BY ${sort.map((s, i) => `${columns[i]} ${s.dir.toUpperCase()}`).join(', ')} LIMIT ?`;
  return { sql, params: [...params, limit] };
}

// ── Task log (StoreTasks) ──

/** Task rows (by seq) with their progress rows (by id). */
export function toTasks(tasks: Row[], progress: Row[]): TaskRecord[] {
  const details = new Map<string, TaskRecord['details']>();
  for (const r of progress) {
    const list = details.get(r.task_name as string) ?? [];
    list.push({ timestamp: r.at as number, message: r.message as string, progress: r.progress as number });
    details.set(r.task_name as string, list);
  }
  return tasks.map((r) => ({
    seq: r.seq as number,
    name: r.name as string,
    state: r.state as TaskState,
    progress: r.progress as number,
    details: details.get(r.name as string) ?? [],
    firstStartedAt: (r.first_started_at as number | null) ?? null,
    finishedAt: (r.finished_at as number | null) ?? null,
    result: parseJson(r.result),
  }));
}

// ── VM moves (StoreMoves) ──

export function toMove(r: Row): VmMove {
  return {
    id: r.id as number,
    notificationUuid: r.notification_uuid as string,
    vmUuid: r.vm_uuid as string,
    vmName: r.vm_name as string,
    sourceHost: r.source_host as string,
    destHost: (r.dest_host as string | null) ?? null,
    status: r.status as VmMove['status'],
    message: (r.message as string | null) ?? null,
    rank: r.rank as number,
    startTime: (r.start_time as number | null) ?? null,
    endTime: (r.end_time as number | null) ?? null,
    createdAt: r.created_at as number,
    updatedAt: (r.updated_at as number | null) ?? null,
  };
}

// ── Hosts (StoreHosts) ──

/** `on_maintenance` is 0/1 in SQLite and a boolean in PostgreSQL. */
export function toHost(r: Row): HostState {
  return {
    hostUuid: r.uuid as string,
    hostName: r.name as string,
    poolName: r.pool_name as string,
    onMaintenance: Boolean(r.on_maintenance),
    maintenanceBy: (r.maintenance_by as string | null) ?? null,
    reason: (r.reason as string | null) ?? null,
    updatedAt: r.updated_at as number,
  };
}

/** Remember the host of a notification (its name and pool follow the latest one). */
export function hostUpsert(input: NewNotification, now: number): Statement {
  return {
    sql: `INSERT INTO hosts (uuid, name, pool_name, updated_at) VALUES (?, ?, ?, ?)
          ON CONFLICT (uuid) DO UPDATE SET name = excluded.name, pool_name = excluded.pool_name`,
    params: [input.hostUuid, input.hostName, input.poolName, now],
  };
}

// ── Outbox (StoreOutbox) ──

/** An outbox row as claimed (its `attempts` already counting this claim). */
export function toMessage(r: Row): OutboxMessage {
  return {
    id: r.id as number,
    channel: r.channel as string,
    payload: JSON.parse(r.payload as string) as Record<string, unknown>,
    attempts: r.attempts as number,
    createdAt: r.created_at as number,
    lastError: (r.last_error as string | null) ?? null,
  };
}

/** The outbox's dedup_key column of a message: a string `dedup_key` in its payload, else NULL (never collides). */
export function dedupKey(payload: Record<string, unknown>): string | null {
  return typeof payload.dedup_key === 'string' ? payload.dedup_key : null;
}

// ── Leases (StoreLeases) ──

/** The condition under which a lease conflicts: another owner's unexpired lease named in `c`. */
export function leaseConflictQuery(c: LeaseConflicts, owner: string, nowSql: string, nowParams: unknown[]): Statement | undefined {
  const parts: string[] = [];
  const params: unknown[] = [];
  for (const name of c.names ?? []) {
    parts.push('name = ?');
    params.push(name);
  }
  if (c.prefix !== undefined) {
    parts.push('substr(name, 1, ?) = ?');
    params.push(c.prefix.length, c.prefix);
  }
  if (!parts.length) return undefined;
  return {
    sql: `SELECT name FROM leases WHERE (${parts.join(' OR ')}) AND owner <> ? AND expires_at > ${nowSql} LIMIT 1`,
    params: [...params, owner, ...nowParams],
  };
}

// ── Operator waits (StoreOperatorWaits) ──

export function toOperatorWait(r: Row): OperatorWait {
  return {
    notificationUuid: r.notification_uuid as string,
    kind: r.kind as OperatorWaitKind,
    reason: r.reason as string,
    since: r.since as number,
    poolName: r.pool_name as string,
    hostUuid: r.host_uuid as string,
    hostName: r.host_name as string,
    confirmedAt: (r.confirmed_at as number | null) ?? null,
    confirmedBy: (r.confirmed_by as string | null) ?? null,
  };
}

/** Waits not yet confirmed, of notifications still in the engine's hands (what the gauge and the engine's tick read). */
export const OPEN_WAITS_SQL = `SELECT w.* FROM operator_waits w JOIN notifications n ON n.uuid = w.notification_uuid
  WHERE w.confirmed_at IS NULL AND n.status IN ('new', 'running', 'error') ORDER BY w.since`;

/**
 * Park a notification: a new wait, or a new reason for one not yet confirmed (its `since` kept). A confirmed wait is
 * replaced (the fence task found a new reason to wait after the confirmation was used).
 */
export function waitUpsert(
  uuid: string,
  w: { kind: OperatorWaitKind; reason: string; poolName: string; hostUuid: string; hostName: string },
  now: number,
): Statement {
  return {
    sql: `INSERT INTO operator_waits (notification_uuid, kind, reason, since, pool_name, host_uuid, host_name, confirmed_at, confirmed_by)
          VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)
          ON CONFLICT (notification_uuid) DO UPDATE SET kind = excluded.kind, reason = excluded.reason,
            since = CASE WHEN operator_waits.confirmed_at IS NULL THEN operator_waits.since ELSE excluded.since END,
            confirmed_at = NULL, confirmed_by = NULL`,
    params: [uuid, w.kind, w.reason, now, w.poolName, w.hostUuid, w.hostName],
  };
}

/** Whether parking made a new wait (the channels are told once per wait, not at each new reason). */
export function isNewWait(before: OperatorWait | undefined, after: OperatorWait): boolean {
  return !before || before.confirmedAt !== null || before.kind !== after.kind;
}

/** Confirm a wait that is open and whose notification still runs. */
export function waitConfirm(uuid: string, by: string, now: number): Statement {
  return {
    sql: `UPDATE operator_waits SET confirmed_at = ?, confirmed_by = ?
          WHERE notification_uuid = ? AND confirmed_at IS NULL
            AND EXISTS (SELECT 1 FROM notifications n WHERE n.uuid = operator_waits.notification_uuid AND n.status IN ('new', 'running', 'error'))`,
    params: [now, by, uuid],
  };
}

// ── Fences (StoreFences) ──

export function toFence(r: Row): FenceRecord {
  return { poolName: r.pool_name as string, hostUuid: r.host_uuid as string, notificationUuid: r.notification_uuid as string, at: r.at as number };
}

/** The pool's fences since `since`, oldest first. */
export function recentFences(pool: string, since: number): Statement {
  return { sql: 'SELECT * FROM fences WHERE pool_name = ? AND at > ? ORDER BY at', params: [pool, since] };
}

// ── Forwards (StoreForwards) ──

export function toForward(r: Row): ForwardState {
  return {
    notificationUuid: r.notification_uuid as string,
    endpoint: r.endpoint as string,
    outcome: r.outcome as ForwardState['outcome'],
    remoteUuid: (r.remote_uuid as string | null) ?? null,
    remoteStatus: (r.remote_status as string | null) ?? null,
    reason: (r.reason as string | null) ?? null,
    remoteDetails: parseJson(r.remote_details),
    updatedAt: r.updated_at as number,
  };
}

/** Columns a forward record cannot be created without. */
const FORWARD_REQUIRED = ['endpoint', 'outcome'];

/**
 * Insert the forward record of a notification, or update the fields the patch defines. Both databases check NOT
 * NULL on the proposed row before they find the conflict, so a patch without a required column proposes the
 * stored value (none when the record is new: the insert fails, as it should).
 */
export function forwardUpsert(uuid: string, patch: ForwardPatch, now: number): Statement {
  const values: Record<string, unknown> = {
    endpoint: patch.endpoint,
    outcome: patch.outcome,
    remote_uuid: patch.remoteUuid,
    remote_status: patch.remoteStatus,
    reason: patch.reason,
    remote_details: patch.remoteDetails === undefined ? undefined : JSON.stringify(patch.remoteDetails),
    updated_at: now,
  };
  const { sets, params } = assignments(values);
  const stored = FORWARD_REQUIRED.filter((c) => values[c] === undefined);
  const columns = ['notification_uuid', ...Object.keys(values).filter((k) => values[k] !== undefined), ...stored];
  const placeholders = [
    ...columns.slice(0, columns.length - stored.length).map(() => '?'),
    ...stored.map((c) => `(SELECT ${c} FROM forwards WHERE notification_uuid = ?)`),
  ];
  return {
    sql: `INSERT INTO forwards (${columns.join(', ')}) VALUES (${placeholders.join(', ')})
          ON CONFLICT (notification_uuid) DO UPDATE SET ${sets.join(', ')}`,
    params: [uuid, ...params, ...stored.map(() => uuid), ...params],
  };
}

// ── Retention (StoreRetention) ──

/** What one purge call deleted: notifications (with their tasks, progress, moves and forwards), outbox rows, leases. */
export interface PurgeCounts {
  notifications: number;
  messages: number;
  leases: number;
  hosts: number;
}

/**
 * Retention: the oldest notifications that ended (finished, ignored, failed) before `before`, at most `limit`. New,
 * running and error ones are never purged, however old: the engine still has to act on them.
 */
export function purgeCandidates(before: number, limit: number): Statement {
  return {
    sql: `SELECT uuid FROM notifications WHERE status IN ('finished', 'ignored', 'failed') AND COALESCE(updated_at, created_at) < ?
          ORDER BY id LIMIT ?`,
    params: [before, limit],
  };
}

/**
 * The deletes of purged notifications, children first (the foreign keys): `match` is the dialect's test of a uuid
 * against the one parameter holding the list (SQLite: a JSON array, PostgreSQL: a text[]).
 */
export function purgeNotificationDeletes(match: string): string[] {
  return [
    ...['task_progress', 'tasks', 'vm_moves', 'forwards', 'operator_waits', 'hook_calls'].map(
      (table) => `DELETE FROM ${table} WHERE notification_uuid ${match}`,
    ),
    `DELETE FROM notifications WHERE uuid ${match}`,
  ];
}

/** Outbox messages delivered (sent) or given up (dead) before `before`, the oldest first, at most `limit`. */
export function purgeMessages(before: number, limit: number): Statement {
  return {
    sql: `DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE status IN ('sent', 'dead') AND done_at < ? ORDER BY id LIMIT ?)`,
    params: [before, limit],
  };
}

/**
 * Host rows that no notification references any more, not on maintenance and unchanged since before `before`, at
 * most `limit`: hosts named by alerts (while a pool's inventory could not be read) do not pile up for good.
 */
export function purgeHosts(before: number, limit: number): Statement {
  return {
    sql: `DELETE FROM hosts WHERE uuid IN (SELECT h.uuid FROM hosts h WHERE NOT h.on_maintenance AND h.updated_at < ?
            AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.host_uuid = h.uuid) ORDER BY h.updated_at LIMIT ?)`,
    params: [before, limit],
  };
}

/** Leases that expired before `before` (nobody holds them; a live one is never touched). */
export function purgeLeases(before: number): Statement {
  return { sql: 'DELETE FROM leases WHERE expires_at < ?', params: [before] };
}
