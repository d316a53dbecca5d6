// /rrd_updates as xcp-rrdd answers it (rrdd_http_handler.ml, rrd_updates.ml): the archive chosen by `interval`,
// rows from the newest back to `start` (negative = relative to the last update), the host's own RRD with
// host=true, its resident VMs (or those named by vm_uuid), SRs named by sr_uuid.
import type { GuestAgents } from '../guest-agent.js';
import type { ObjectStore } from '../model/store.js';
import type { Ref } from '../model/types.js';
import { type SourceSet, hostSources, isRunningGuestOrDom0, srSources, vmSources } from './sources.js';

export interface RrdQuery {
  start: number;
  cf?: string;
  interval: number;
  host: boolean;
  vmUuids: string[];
  srUuids: string[];
}

export class RrdQueryError extends Error {}

/** XAPI's default archives: 5 s × 120, 60 s × 120, 1 h × 168, 1 day × 366. */
const ARCHIVES = [
  { step: 5, rows: 120 },
  { step: 60, rows: 120 },
  { step: 3600, rows: 168 },
  { step: 86400, rows: 366 },
];

export function parseRrdQuery(params: URLSearchParams): RrdQuery {
  const start = params.get('start');
  if (start === null || start === '') throw new RrdQueryError("missing the 'start' parameter");
  const s = Number(start);
  if (!Number.isInteger(s)) throw new RrdQueryError(`bad 'start' parameter: ${start}`);
  const interval = Number(params.get('interval') ?? 0);
  return {
    start: s,
    cf: params.get('cf') ?? undefined,
    interval: Number.isFinite(interval) && interval > 0 ? interval : 0,
    host: params.get('host') === 'true',
    vmUuids: params.getAll('vm_uuid'),
    srUuids: params.getAll('sr_uuid'),
  };
}

export interface RrdWindow {
  start: number;
  end: number;
  step: number;
  legend: string[];
  rows: { t: number; values: Float64Array }[];
}

/** Cache of a host's full source list, rebuilt when its resident VMs change. */
export class SourceCache {
  private readonly cache = new Map<Ref, { residents: unknown; sources: SourceSet }>();

  constructor(
    private readonly store: ObjectStore,
    private readonly hostCpus: number,
    private readonly agents?: GuestAgents,
  ) {}

  host(hostRef: Ref): SourceSet {
    const host = this.store.get('host', hostRef)!;
    const hit = this.cache.get(hostRef);
    // `store.mod` replaces resident_VMs with a new array, so identity tells whether residency changed.
    if (hit && hit.residents === host.resident_VMs) return hit.sources;
    const index = [...this.store.table('host').keys()].indexOf(hostRef);
    const sources = hostSources(this.store, hostRef, this.hostCpus, index % 2 === 0);
    this.cache.set(hostRef, { residents: host.resident_VMs, sources });
    return sources;
  }

  vms(hostRef: Ref): SourceSet[] {
    const host = this.store.get('host', hostRef)!;
    const key = `vms:${hostRef}`;
    const hit = this.cache.get(key);
    if (hit && hit.residents === host.resident_VMs) return hit.sources as unknown as SourceSet[];
    const agents = this.agents;
    const sets = (host.resident_VMs as Ref[])
      .filter((r) => isRunningGuestOrDom0(this.store.get('VM', r)))
      .map((r) => vmSources(this.store, this.store.get('VM', r)!, agents && ((phase, t) => agents.lastMemoryWrite(r, phase, t))));
    this.cache.set(key, { residents: host.resident_VMs, sources: sets as unknown as SourceSet });
    return sets;
  }
}

export function buildWindow(store: ObjectStore, cache: SourceCache, hostRef: Ref, q: RrdQuery, nowS: number): RrdWindow {
  const lastUpdate = Math.floor(nowS / 5) * 5;
  const from = q.start < 0 ? lastUpdate + q.start : q.start;
  const span = Math.max(0, lastUpdate - from);
  const archive = ARCHIVES.find((a) => a.step >= q.interval && a.step * a.rows >= span) ?? ARCHIVES[ARCHIVES.length - 1]!;
  const step = archive.step;
  const end = Math.floor(lastUpdate / step) * step;

  const sets: SourceSet[] = [];
  if (q.host) sets.push(cache.host(hostRef));
  if (q.vmUuids.length) {
    const wanted = new Set(q.vmUuids);
    for (const vms of cache.vms(hostRef)) if (wanted.has(vms.keys[0]!.split(':')[1]!)) sets.push(vms);
  } else sets.push(...cache.vms(hostRef));
  for (const uuid of q.srUuids) {
    const hit = store.byUuid(uuid);
    if (hit?.cls === 'SR') sets.push(srSources(store.get('SR', hit.ref)!));
  }

  // Our RRDs hold AVERAGE only (XAPI's default); an explicit other CF finds nothing.
  const cfs = !q.cf || !['AVERAGE', 'MIN', 'MAX', 'LAST'].includes(q.cf) ? ['AVERAGE'] : q.cf === 'AVERAGE' ? ['AVERAGE'] : [];
  const legend: string[] = [];
  const fns: ((t: number) => number)[] = [];
  for (const cf of cfs)
    for (const set of sets) {
      for (const k of set.keys) legend.push(`${cf}:${k}`);
      fns.push(...set.fns);
    }

  const rows: RrdWindow['rows'] = [];
  for (let t = end; t > from && rows.length < archive.rows; t -= step) {
    const values = new Float64Array(fns.length);
    // A consolidated row holds the mean over its step; sampling mid-step is close enough.
    const at = step === 5 ? t : t - step / 2;
    for (let i = 0; i < fns.length; i++) values[i] = fns[i]!(at);
    rows.push({ t, values });
  }
  const first = rows.length ? rows[rows.length - 1]!.t : from + step;
  return { start: first, end, step, legend, rows };
}
