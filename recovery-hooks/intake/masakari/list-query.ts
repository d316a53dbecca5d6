// Query parameters of GET /v1/notifications: filters, paging and sorting with Masakari's rules and 400 messages.
import { type ListFilter, type ListPage, NOTIFICATION_STATUSES, type NotificationStatus, SORT_KEYS, type SortKey, canonicalType } from '../../store/types.js';
import { ApiError } from '../errors.js';
import { checkQuery } from '../validate.js';
import { parseMasakariTime } from './time.js';

export const MAX_LIMIT = 1000;

export type Query = Record<string, string | string[] | undefined>;

export const all = (q: Query, key: string): string[] => {
  const v = q[key];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
};
export const last = (q: Query, key: string): string | undefined => all(q, key).at(-1);

export function integer(name: string, value: string): number {
  if (!/^\s*\d+\s*$/.test(value)) throw new ApiError(400, /^\s*-\d+\s*$/.test(value) ? `${name} must be >= 0` : `${name} must be an integer`);
  return Number(value);
}

/** A marker is a notification id: an integer the stores can compare (beyond 2^53 it names no notification). */
function markerId(text: string): number {
  const id = /^\s*\d{1,16}\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(id)) throw new ApiError(400, `Marker ${text} could not be found.`);
  return id;
}

/** The filter and page, or `undefined` filter when a filter value can match nothing (unknown status or type). */
export function parseListQuery(q: Query): { filter: ListFilter | undefined; page: ListPage } {
  checkQuery(q);
  const limitText = last(q, 'limit');
  const markerText = last(q, 'marker');
  const page: ListPage = { limit: limitText === undefined ? MAX_LIMIT : Math.min(integer('limit', limitText), MAX_LIMIT), sort: [] };
  if (markerText !== undefined) {
    page.markerId = markerId(markerText);
  }

  const keys = all(q, 'sort_key').map((k) => k.trim());
  const dirs = all(q, 'sort_dir').map((d) => d.trim());
  for (const key of keys) if (!(SORT_KEYS as readonly string[]).includes(key)) throw new ApiError(400, `Sort key supplied is invalid: ${key}`);
  for (const dir of dirs) if (dir !== 'asc' && dir !== 'desc') throw new ApiError(400, "Unknown sort direction, must be 'asc' or 'desc'");
  if (dirs.length > Math.max(keys.length, 1)) throw new ApiError(400, 'Sort direction size exceeds sort key size');
  const sortKeys = keys.length ? keys : ['created_at'];
  const defaultDir = (dirs[0] ?? 'desc') as 'asc' | 'desc';
  page.sort = sortKeys.map((key, i) => ({ key: key as SortKey, dir: (dirs[i] ?? defaultDir) as 'asc' | 'desc' }));

  const filter: ListFilter = {};
  const status = last(q, 'status');
  const type = last(q, 'type');
  const host = last(q, 'source_host_uuid');
  const since = last(q, 'generated-since');
  if (since !== undefined) {
    const ms = parseMasakariTime(since);
    if (ms === undefined) throw new ApiError(400, 'Invalid generated-since value');
    filter.generatedSince = ms;
  }
  if (host !== undefined) filter.hostUuid = host;
  if (status !== undefined) {
    if (!(NOTIFICATION_STATUSES as readonly string[]).includes(status)) return { filter: undefined, page };
    filter.status = status as NotificationStatus;
  }
  if (type !== undefined) {
    const canonical = canonicalType(type);
    if (!canonical) return { filter: undefined, page };
    filter.type = canonical;
  }
  return { filter, page };
}
