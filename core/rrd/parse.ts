// Parser for xcp-rrdd's /rrd_updates answer (reference §2.2–2.3). Pure: bytes (or text) in, typed arrays out.
// Accepts every generation XAPI has served:
//   legacy  (xcp-rrd ≤ 1.9)   {meta: {start:S,...},data:[{t:T,values:[0.1,NaN]}]}  unquoted keys, bare NaN
//   nested  (xcp-rrd 1.10–12) valid JSON, but `data` sits inside `meta`
//   current (xapi ≥ 24.11)    valid JSON, every number a string
//   XML     <xport><meta>…</meta><data><row><t>T</t><v>…</v></row></data></xport>
import { ProtocolError } from '../errors.js';
import { type LegendAt, parseRrdJson } from './json.js';
import { Legend } from './legend.js';
import { toNumber } from './numbers.js';
import { readXmlDocument } from './xml.js';
import { isObject } from '../guards.js';

export interface RrdColumn {
  cf: string;
  objectType: 'host' | 'vm' | 'sr' | (string & {});
  uuid: string;
  name: string;
}

export interface RrdRow {
  t: number;
  /** One value per column, in legend order; NaN = no sample. */
  values: Float64Array;
}

export interface RrdUpdate {
  start: number;
  end: number;
  step: number;
  columns: RrdColumn[];
  /** In input order (XAPI sends newest first; nothing here relies on it). */
  rows: RrdRow[];
}

/** The newest sample of each column of one consolidation function. */
export interface NewestValues {
  /** Largest `t` of any row; NaN when the update has no rows. */
  t: number;
  columns: RrdColumn[];
  /** `index[i]` is where `columns[i]` is in the update's columns and rows. */
  index: number[];
  /** `values[i]` belongs to `columns[i]`; NaN = no finite sample in any row. */
  values: Float64Array;
  /** `times[i]` is the `t` of the row `values[i]` came from; NaN with the value. */
  times: Float64Array;
}

/** The document before numbers are checked: what both the JSON and the XML readers produce. */
interface RawUpdate {
  start: unknown;
  step: unknown;
  end: unknown;
  legend: unknown;
  data: unknown;
  /** The JSON reader's: where a legend list decoded afresh is in the body. */
  legendAt?: LegendAt;
}

const WHAT = '/rrd_updates';

/** An answer read with the legend of the host's previous one: `legend` is that same object when it did not change. */
export interface RrdWindow {
  start: number;
  end: number;
  step: number;
  legend: Legend;
  /** In input order (XAPI sends newest first; nothing here relies on it). */
  rows: RrdRow[];
}

/**
 * Parse an /rrd_updates body. The format is decided by content, not by `contentType` (XAPI's choice depends on the
 * request's Accept header, and proxies relabel bodies); `contentType` only makes error messages more useful.
 * Throws ProtocolError for anything unusable.
 */
export function parseRrdUpdates(body: string | Buffer, contentType?: string): RrdUpdate {
  const { start, end, step, legend, rows } = readRrdUpdates(body, contentType);
  return { start, end, step, columns: legend.columns(), rows };
}

/** parseRrdUpdates for a poll: the legend stays compact, and one equal to `previous` (the same host's last) is not
 * decoded again. */
export function readRrdUpdates(body: string | Buffer, contentType?: string, previous?: Legend): RrdWindow {
  let bytes = typeof body === 'string' ? Buffer.from(body) : body;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3); // byte order mark
  let i = 0;
  while (i < bytes.length && bytes[i]! <= 32) i++;
  if (i === bytes.length) throw new ProtocolError(`${WHAT}: empty body${describe(contentType)}`);
  if (bytes[i] === 60 /* < */) return normalise(readXml(bytes.toString('utf8'), contentType), previous);
  const raw = readJson(bytes, contentType, previous);
  const window = normalise(raw, previous);
  // A legend decoded from this body: recognised by its bytes in the host's next answer.
  const at = raw.legendAt;
  if (at && at.entries === raw.legend && window.legend !== previous) window.legend = window.legend.withJson(bytes, at.start, at.end);
  return window;
}

/** Index in `rows` (newest first) of the first row with a finite value in column `j`; -1 when there is none. */
export function newestFinite(rows: readonly RrdRow[], j: number): number {
  for (let r = 0; r < rows.length; r++) {
    const v = rows[r]!.values[j]!;
    if (v - v === 0) return r;
  }
  return -1;
}

/**
 * For each column of consolidation function `cf`, the value of the row with the largest `t` that has a finite value
 * for it. (XO's plugin takes the last row, which XAPI sends oldest; we never rely on order.)
 */
export function newestValues(update: RrdUpdate, cf = 'AVERAGE'): NewestValues {
  const columns: RrdColumn[] = [];
  const index: number[] = [];
  for (let j = 0; j < update.columns.length; j++) {
    const c = update.columns[j]!;
    if (c.cf === cf) {
      columns.push(c);
      index.push(j);
    }
  }
  const rows = newestFirst(update.rows);
  const n = columns.length;
  const values = new Float64Array(n).fill(NaN);
  const times = new Float64Array(n).fill(NaN);
  for (let i = 0; i < n; i++) {
    const r = newestFinite(rows, index[i]!);
    if (r >= 0) {
      values[i] = rows[r]!.values[index[i]!]!;
      times[i] = rows[r]!.t;
    }
  }
  return { t: rows.length ? rows[0]!.t : NaN, columns, index, values, times };
}

/** A copy of `rows` sorted newest first (a window holds a handful). */
export function newestFirst(rows: readonly RrdRow[]): RrdRow[] {
  return rows.slice().sort((a, b) => b.t - a.t);
}

function readJson(body: Buffer, contentType: string | undefined, previous: Legend | undefined): RawUpdate {
  let doc: unknown;
  let legendAt: RawUpdate['legendAt'];
  try {
    ({ doc, legendAt } = parseRrdJson(body, previous));
  } catch (err) {
    throw new ProtocolError(`${WHAT}: body is neither JSON nor XML${describe(contentType)}: ${(err as Error).message}`);
  }
  if (!isObject(doc)) throw new ProtocolError(`${WHAT}: JSON body is not an object`);
  const meta = doc.meta;
  if (!isObject(meta)) throw new ProtocolError(`${WHAT}: JSON body has no "meta" object`);
  // xcp-rrd 1.10–1.12 put `data` inside `meta` (fixed by xen-api PR #5456).
  const data = doc.data !== undefined ? doc.data : meta.data;
  return { start: meta.start, step: meta.step, end: meta.end, legend: meta.legend, data, legendAt };
}

function readXml(text: string, contentType: string | undefined): RawUpdate {
  let doc: unknown;
  try {
    doc = readXmlDocument(text);
  } catch (err) {
    throw new ProtocolError(`${WHAT}: malformed XML${describe(contentType)}: ${(err as Error).message}`);
  }
  const xport = isObject(doc) ? doc.xport : undefined;
  if (!isObject(xport)) throw new ProtocolError(`${WHAT}: XML body is not an <xport> document`);
  const meta = child(xport, 'meta');
  if (!isObject(meta)) throw new ProtocolError(`${WHAT}: <xport> has no <meta>`);
  const legend = child(meta, 'legend');
  const data = child(xport, 'data');
  return {
    start: child(meta, 'start'),
    step: child(meta, 'step'),
    end: child(meta, 'end'),
    legend: legend === undefined ? undefined : children(legend, 'entry'),
    data: data === undefined ? undefined : children(data, 'row').map((r) => (isObject(r) ? { t: child(r, 't'), values: children(r, 'v') } : r)),
  };
}

function normalise(raw: RawUpdate, previous: Legend | undefined): RrdWindow {
  const start = meta(raw.start, 'start');
  const step = meta(raw.step, 'step');
  const end = meta(raw.end, 'end');
  let legend: Legend;
  if (previous && raw.legend === previous)
    legend = previous; // the JSON reader found it unchanged
  else if (!Array.isArray(raw.legend)) throw new ProtocolError(`${WHAT}: meta has no legend list`);
  else legend = previous?.equals(raw.legend) ? previous : Legend.parse(raw.legend, WHAT);
  if (!Array.isArray(raw.data)) throw new ProtocolError(`${WHAT}: no data list`);
  // meta.rows / meta.columns are not checked: the legend and the data list are what the values hang on.
  const width = legend.length;
  const rows = raw.data.map((row: unknown, i): RrdRow => {
    if (!isObject(row)) throw new ProtocolError(`${WHAT}: data row ${i} is not an object`);
    const t = toNumber(row.t);
    if (t - t !== 0) throw new ProtocolError(`${WHAT}: data row ${i} has no numeric t (${JSON.stringify(row.t)})`);
    const list = row.values;
    // A Float64Array from the JSON reader, a list of strings from the XML one.
    if (!Array.isArray(list) && !(list instanceof Float64Array)) throw new ProtocolError(`${WHAT}: data row ${i} (t=${t}) has no values list`);
    if (list.length !== width) {
      throw new ProtocolError(`${WHAT}: data row ${i} (t=${t}) has ${list.length} values, the legend has ${width} columns`);
    }
    // NaN and ±Infinity both mean "no sample".
    const values = list instanceof Float64Array ? list : Float64Array.from(list, toNumber);
    for (let j = 0; j < width; j++) {
      const v = values[j]!;
      if (v - v !== 0) values[j] = NaN;
    }
    return { t, values };
  });
  return { start, end, step, legend, rows };
}

function meta(x: unknown, key: string): number {
  const n = toNumber(x);
  if (n - n !== 0) throw new ProtocolError(`${WHAT}: meta.${key} is not a number (${JSON.stringify(x) ?? 'missing'})`);
  return n;
}

/** readXmlDocument: every child element is a list, and an element's text is a string. */
function child(node: Record<string, unknown>, key: string): unknown {
  return children(node, key)[0];
}

/** The `key` children of an element; an empty element such as <data/> is '' (no object). */
function children(node: unknown, key: string): unknown[] {
  const list = isObject(node) ? node[key] : undefined;
  return Array.isArray(list) ? list : [];
}

function describe(contentType: string | undefined): string {
  return contentType ? ` (content-type ${contentType})` : '';
}
