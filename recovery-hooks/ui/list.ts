// The notifications list of the UI: the API's filters (type, status, generated-since, limit, marker — parsed by the
// API's own parser, so bad values get its 400s word for word) plus the UI's own: pool, host (name or uuid) and
// generated-until. Those are applied while reading the store page by page, newest first, reading at most SCAN_MAX
// notifications per request (the page then offers to go on from where the reading stopped).
import type { HostDirectory } from '../hosts.js';
import { ApiError } from '../intake/errors.js';
import { type Query, integer, last, parseListQuery } from '../intake/masakari/list-query.js';
import { parseMasakariTime } from '../intake/masakari/time.js';
import { UUID, checkQuery, describe } from '../intake/validate.js';
import { MarkerNotFoundError, type NotificationStore } from '../store/store.js';
import type { ListFilter, ListPage, Notification } from '../store/types.js';

export const PAGE_SIZE = 25;
const MAX_PAGE_SIZE = 200;
const BATCH = 200;
const SCAN_MAX = 5000;

/** The list form's values (blank ones dropped: a blank select means "any"). */
export interface ListForm {
  type?: string;
  status?: string;
  pool?: string;
  host?: string;
  'generated-since'?: string;
  'generated-until'?: string;
  limit?: string;
  marker?: string;
}

const FIELDS = ['type', 'status', 'pool', 'host', 'generated-since', 'generated-until', 'limit', 'marker'] as const;

export interface ListResult {
  form: ListForm;
  rows: Notification[];
  /** Marker of the next page (the last notification read), when there may be more. */
  next?: string;
  /** Whether the reading stopped at SCAN_MAX before the page was full. */
  scanCut: boolean;
}

export function readListForm(q: Query): ListForm {
  checkQuery(q);
  for (const key of Object.keys(q))
    if (!(FIELDS as readonly string[]).includes(key)) throw new ApiError(400, `Unknown query parameter ${describe(key)}; known: ${FIELDS.join(', ')}`);
  const form: ListForm = {};
  for (const key of FIELDS) {
    const v = last(q, key)?.trim();
    if (v) form[key] = v;
  }
  return form;
}

export interface ListDeps {
  store: NotificationStore;
  hosts: HostDirectory;
  pools: string[];
}

export interface ParsedForm {
  /** Undefined: the filters match nothing. */
  filter?: ListFilter;
  page: ListPage;
  pageSize: number;
  /** The UI's own filters (pool, generated-until), applied to what the store returns. */
  wanted: (n: Notification) => boolean;
}

/** The form as the store's filter and page (throws the API's 400s naming the field). */
export function parseForm(form: ListForm, deps: ListDeps): ParsedForm {
  const apiQuery: Query = { limit: String(BATCH) };
  for (const key of ['type', 'status', 'generated-since', 'marker'] as const) if (form[key] !== undefined) apiQuery[key] = form[key];
  const pageSize = form.limit === undefined ? PAGE_SIZE : integer('limit', form.limit);
  if (pageSize < 1 || pageSize > MAX_PAGE_SIZE)
    throw new ApiError(400, `Invalid value for limit: ${describe(form.limit)} is not between 1 and ${MAX_PAGE_SIZE}`);
  if (form.pool !== undefined && !deps.pools.includes(form.pool))
    throw new ApiError(400, `Invalid value for pool: ${describe(form.pool)} is not a configured pool (${deps.pools.join(', ')})`);
  if (form.host !== undefined) {
    const uuid = UUID.test(form.host) ? form.host : deps.hosts.findHost(form.host)?.uuid;
    if (!uuid) throw new ApiError(400, `Invalid value for host: ${describe(form.host)} is not the name or uuid of a known host`);
    apiQuery.source_host_uuid = uuid;
  }
  let until: number | undefined;
  if (form['generated-until'] !== undefined) {
    until = parseMasakariTime(form['generated-until']);
    if (until === undefined) throw new ApiError(400, 'Invalid generated-until value');
  }
  const { filter, page } = parseListQuery(apiQuery);
  const wanted = (n: Notification) => (form.pool === undefined || n.poolName === form.pool) && (until === undefined || n.generatedAt <= until);
  return { filter, page, pageSize, wanted };
}

export async function listNotifications(form: ListForm, deps: ListDeps): Promise<ListResult> {
  const { filter, page, pageSize, wanted } = parseForm(form, deps);
  const rows: Notification[] = [];
  if (!filter) return { form, rows, scanCut: false };
  let scanned = 0;
  let lastRead: number | undefined;
  let more = true;
  while (more && rows.length <= pageSize && scanned < SCAN_MAX) {
    const batch = await readPage(deps.store, filter, { ...page, markerId: lastRead ?? page.markerId });
    more = batch.length === page.limit;
    for (const n of batch) {
      scanned++;
      if (wanted(n)) {
        if (rows.length === pageSize) return { form, rows, next: String(lastRead), scanCut: false };
        rows.push(n);
      }
      lastRead = n.id;
    }
  }
  const scanCut = more && rows.length < pageSize;
  return { form, rows, next: more && lastRead !== undefined ? String(lastRead) : undefined, scanCut };
}

/**
 * How many notifications newer than id `newest` match the form, counting among the next BATCH only (one store read):
 * what the first page of the list would gain.
 */
export async function countNewer({ filter, wanted }: ParsedForm, newest: number, store: NotificationStore): Promise<{ count: number; more: boolean }> {
  if (!filter) return { count: 0, more: false };
  let batch: Notification[];
  try {
    batch = await store.list(filter, { limit: BATCH, markerId: newest > 0 ? newest : undefined, sort: [{ key: 'id', dir: 'asc' }] });
  } catch (err) {
    if (err instanceof MarkerNotFoundError) return { count: 0, more: false }; // purged meanwhile: nothing to compare with
    throw err;
  }
  return { count: batch.filter(wanted).length, more: batch.length === BATCH };
}

async function readPage(store: NotificationStore, filter: ListFilter, page: ListPage): Promise<Notification[]> {
  try {
    return await store.list(filter, page);
  } catch (err) {
    if (err instanceof MarkerNotFoundError) throw new ApiError(400, err.message);
    throw err;
  }
}
