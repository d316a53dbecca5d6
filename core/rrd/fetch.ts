// Fetch one host's /rrd_updates with the pool's session: the finest archive, the host's own RRD and its resident VMs.
// The rows from the newest one already read on (`sinceT`, the host's own row time, so host and exporter clocks never
// matter; rrdd answers rows with t >= start, ocaml/libs/xapi-rrd/lib/rrd_updates.ml, so that row comes again and the
// gauges always have a newest row), or on the first poll the last `windowSeconds` (a negative start is relative to
// the host's last update): no row is missed whatever the poll interval, and the counters skip the ones they had.
import { HttpError } from '../errors.js';
import type { BodyPool } from '../http/body-pool.js';
import type { HttpResponse } from '../http/client.js';
import type { XapiClient } from '../xapi/client.js';
import type { Legend } from './legend.js';
import { type RrdUpdate, type RrdWindow, parseRrdUpdates, readRrdUpdates } from './parse.js';

export interface FetchOptions {
  windowSeconds: number;
  /** `t` of the newest row already read from this host. */
  sinceT?: number;
  timeoutMs: number;
  maxBodyBytes: number;
  /** Read the body into a reused buffer of this pool (the parse copies what it keeps); else a buffer of its own. */
  bodies?: BodyPool;
}

export function fetchRrdUpdates(xapi: XapiClient, address: string, o: FetchOptions): Promise<RrdUpdate> {
  return fetchParsed(xapi, address, o, parseRrdUpdates);
}

/** For a poll: read with the legend of the host's previous answer (see readRrdUpdates). */
export function fetchRrdWindow(xapi: XapiClient, address: string, o: FetchOptions, previous?: Legend): Promise<RrdWindow> {
  return fetchParsed(xapi, address, o, (body, contentType) => readRrdUpdates(body, contentType, previous));
}

/** The body of a 200 answer parsed while it is in its buffer; a 401 tries once more with a new session. */
async function fetchParsed<T>(xapi: XapiClient, address: string, o: FetchOptions, parse: (body: Buffer, contentType: string) => T): Promise<T> {
  const get = async (session: string): Promise<{ status: number; value?: T }> => {
    const url = xapi.hostUrl(address, '/rrd_updates');
    url.search = new URLSearchParams({
      start: String(o.sinceT ?? -o.windowSeconds),
      cf: 'AVERAGE',
      interval: '5',
      host: 'true',
      json: 'true',
      session_id: session,
    }).toString();
    const opts = { timeoutMs: o.timeoutMs, maxBodyBytes: o.maxBodyBytes, headers: { accept: 'application/json' } };
    const read = (res: HttpResponse) =>
      res.status === 200 ? { status: 200, value: parse(res.body, String(res.headers['content-type'] ?? '')) } : { status: res.status };
    return o.bodies ? xapi.http.read(url, opts, o.bodies, read) : read(await xapi.http.request(url, opts));
  };
  let res = await get(xapi.sessionId ?? (await xapi.login()));
  if (res.status === 401) res = await get(await xapi.login());
  if (res.status !== 200) throw new HttpError(`/rrd_updates on ${address}: HTTP ${res.status}`, res.status, address);
  return res.value as T;
}
