// The list page's live updates: GET /ui/notifications/live with the page's own filters answers, as JSON, the rows that
// page would show now (status, message, whether the recovery waits for an operator) and the open operator waits.
// ui.js polls it and changes the rows in place. The work per refresh is that of rendering the page once: one list
// reading (at most SCAN_MAX notifications, a page of at most 200 rows) and one read of the open waits.
import type { HostDirectory } from '../hosts.js';
import type { NotificationStore } from '../store/store.js';
import { type OperatorWait, TERMINAL_STATUSES } from '../store/types.js';
import { type ListForm, listNotifications } from './list.js';

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
  operator_waits: LiveWait[];
}

const iso = (ms: number) => new Date(ms).toISOString();

export async function liveList(
  form: ListForm,
  waits: OperatorWait[],
  deps: { store: NotificationStore; hosts: HostDirectory; pools: string[] },
): Promise<LiveList> {
  const { rows } = await listNotifications(form, deps);
  const waiting = new Map(waits.map((w) => [w.notificationUuid, w.kind]));
  return {
    notifications: rows.map((n) => ({
      notification_uuid: n.uuid,
      id: n.id,
      status: n.status,
      terminal: TERMINAL_STATUSES.includes(n.status),
      message: n.message,
      updated_at: iso(n.updatedAt ?? n.createdAt),
      operator_wait: waiting.get(n.uuid) ?? null,
    })),
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
