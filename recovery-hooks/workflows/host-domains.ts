// What each host actually runs, read from its own rrdd (/rrd_updates): rrdd takes the domains from Xen, never from
// xapi's database (ocaml/xcp-rrdd/bin/rrdd/xcp_rrdd.ml: "rrdd does not request data from xapi"), and a VM's RRD leaves
// when its domain does (xen-api design "RRDD archival redesign"). After an emergency master transition the new
// master's database is its own old copy (simulator/db-backup.ts); this view does not depend on it.
import { XapiClient } from '../../core/xapi/client.js';
import { type FetchOptions, fetchRrdUpdates } from '../../core/rrd/fetch.js';
import type { RrdUpdate } from '../../core/rrd/parse.js';
import type { Xapi } from './xapi.js';

/** Bound of one /rrd_updates body read by the receiver. */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** Two rows of the 5 s archive: enough for the legend, which lists every RRD the host holds. */
const WINDOW_SECONDS = 10;

/** What reads a host's /rrd_updates: the pool's XapiClient (HTTP with its session), or a test's fake pool. */
export interface RrdSource {
  rrdUpdates(address: string, o: FetchOptions): Promise<RrdUpdate>;
}

export function rrdSourceOf(xapi: Xapi): RrdSource | undefined {
  if (xapi instanceof XapiClient) return { rrdUpdates: (address, o) => fetchRrdUpdates(xapi, address, o) };
  return typeof (xapi as Partial<RrdSource>).rrdUpdates === 'function' ? (xapi as unknown as RrdSource) : undefined;
}

/** The uuids of the VMs (the control domain included) whose RRDs the host at `address` holds now. */
export async function vmsWithDomainsOn(source: RrdSource, address: string, timeoutMs: number): Promise<Set<string>> {
  const update = await source.rrdUpdates(address, { windowSeconds: WINDOW_SECONDS, timeoutMs, maxBodyBytes: MAX_BODY_BYTES });
  return new Set(update.columns.filter((c) => c.objectType === 'vm').map((c) => c.uuid));
}
