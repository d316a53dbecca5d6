// The list page's live updates: GET /ui/notifications/live answers, as JSON, what changed for an open list page —
// the rows it asks about (`uuid`, repeated: its rows still running, at most LIMITS.queryRepeats per request; ui.js
// takes turns when it shows more), how many newer notifications match its filters (`newest`: the id of its top row,
// first page only), and the open operator waits. The work per refresh is bounded whatever the store holds: at most 16
// reads by uuid, one list read of at most 200 rows, one read of the open waits.
import { ApiError } from '../intake/errors.js';
import { type Query, all, integer, last } from '../intake/masakari/list-query.js';
import { checkQuery, uuidProblem } from '../intake/validate.js';
import { type OperatorWait, TERMINAL_STATUSES } from '../store/types.js';
import { type ListDeps, countNewer, parseForm, readListForm } from './list.js';

export interface LiveRow {
  notification_uuid: string;
  id: number;
  status: string;
  terminal: boolean;
  message: string | null;
  updated_at: string;
  /** The kind of the open operator wait of this notification, if it waits. */
  operator_wait: string | null;
}

export interface LiveWait {
  notification_uuid: string;
  kind: string;
  host_name: string;
  pool_name: string;
  since: string;
  reason: string;
}

export interface LiveList {
  notifications: LiveRow[];
  /** Newer notifications matching the filters, counted among the next 200 (`newer_more`: there may be more). */
  newer: number;
  newer_more: boolean;
  operator_waits: LiveWait[];
}

const iso = (ms: number) => new Date(ms).toISOString();

export async function liveList(q: Query, waits: OperatorWait[], deps: ListDeps): Promise<LiveList> {
  checkQuery(q);
  const form = parseForm(readListForm(Object.fromEntries(Object.entries(q).filter(([key]) => key !== 'uuid' && key !== 'newest'))), deps);
  const uuids = all(q, 'uuid');
  for (const u of uuids) {
    const problem = uuidProblem(u);
    if (problem) throw new ApiError(400, `Invalid input for field/attribute uuid. ${problem}`);
  }
  const newestText = last(q, 'newest');
  const newest = newestText === undefined ? undefined : integer('newest', newestText);

  const waiting = new Map(waits.map((w) => [w.notificationUuid, w.kind]));
  const notifications: LiveRow[] = [];
  for (const uuid of new Set(uuids)) {
    const n = await deps.store.get(uuid);
    if (!n) continue; // purged: the row stays as it was
    notifications.push({
      notification_uuid: n.uuid,
      id: n.id,
      status: n.status,
      terminal: TERMINAL_STATUSES.includes(n.status),
      message: n.message,
      updated_at: iso(n.updatedAt ?? n.createdAt),
      operator_wait: waiting.get(n.uuid) ?? null,
    });
  }
  const newer = newest === undefined ? { count: 0, more: false } : await countNewer(form, newest, deps.store);
  return {
    notifications,
    newer: newer.count,
    newer_more: newer.more,
    operator_waits: waits.map((w) => ({
      notification_uuid: w.notificationUuid,
      kind: w.kind,
      host_name: w.hostName,
      pool_name: w.poolName,
      since: iso(w.since),
      reason: w.reason,
    })),
  };
}
