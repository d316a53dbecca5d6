// Masakari's list semantics for the views it lists from memory (segments, hosts): filters, sort_key/sort_dir, limit
// and marker, with its 400s. openstacksdk pages with `limit` and `marker` = the last item's id, so a list that
// ignored them made `openstack segment list --limit 1` loop ("Endless pagination loop detected").
import { ApiError } from '../errors.js';
import { checkQuery, describe } from '../validate.js';
import { MAX_LIMIT, type Query, all, integer, last } from './list-query.js';

type View = Record<string, unknown>;

export interface ListSpec {
  /** Keys a client may sort on (view fields). */
  sortKeys: readonly string[];
  /** Filter parameter → view field, and how its value is read ('bool' as oslo's strict bool_from_string). */
  filters: Record<string, { field: string; kind: 'text' | 'bool' }>;
}

const TRUE = ['1', 't', 'true', 'on', 'y', 'yes'];
const FALSE = ['0', 'f', 'false', 'off', 'n', 'no'];

function bool(name: string, value: string): boolean {
  const v = value.trim().toLowerCase();
  if (TRUE.includes(v)) return true;
  if (FALSE.includes(v)) return false;
  throw new ApiError(400, `Invalid value for ${name}: ${describe(value)} is not a boolean (true/false)`);
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return String(a) < String(b) ? -1 : 1;
}

/** The page of `views` (in their natural order, ids ascending) the query asks for. */
export function listPage(views: View[], q: Query, spec: ListSpec): View[] {
  checkQuery(q);
  let items = views;
  for (const [param, { field, kind }] of Object.entries(spec.filters)) {
    const value = last(q, param);
    if (value === undefined) continue;
    const wanted: unknown = kind === 'bool' ? bool(param, value) : value;
    items = items.filter((v) => v[field] === wanted);
  }

  const keys = all(q, 'sort_key').map((k) => k.trim());
  const dirs = all(q, 'sort_dir').map((d) => d.trim());
  for (const key of keys) if (!spec.sortKeys.includes(key)) throw new ApiError(400, `Sort key supplied is invalid: ${describe(key)}`);
  for (const dir of dirs) if (dir !== 'asc' && dir !== 'desc') throw new ApiError(400, "Unknown sort direction, must be 'asc' or 'desc'");
  if (dirs.length > Math.max(keys.length, 1)) throw new ApiError(400, 'Sort direction size exceeds sort key size');
  if (keys.length) {
    const order = keys.map((key, i) => ({ key, sign: (dirs[i] ?? dirs[0] ?? 'desc') === 'asc' ? 1 : -1 }));
    // The id last: a total order, so pages never overlap or skip.
    items = [...items].sort((a, b) => {
      for (const { key, sign } of order) {
        const c = compare(a[key], b[key]);
        if (c) return sign * c;
      }
      return compare(a.id, b.id);
    });
  }

  const markerText = last(q, 'marker');
  if (markerText !== undefined) {
    // The sdk sends the last item's id; a uuid names an item too.
    const at = items.findIndex((v) => String(v.id) === markerText.trim() || v.uuid === markerText.trim());
    if (at < 0) throw new ApiError(400, `Marker ${describe(markerText)} could not be found.`);
    items = items.slice(at + 1);
  }
  const limitText = last(q, 'limit');
  const limit = limitText === undefined ? MAX_LIMIT : Math.min(integer('limit', limitText), MAX_LIMIT);
  return items.slice(0, limit);
}
