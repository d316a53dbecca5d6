// /rrd_updates as xcp-rrdd answers it (rrdd_http_handler.ml, rrd_updates.ml): the archive chosen by `interval`,
// rows from the newest back to `start` (negative = relative to the last update), the host's own RRD with
// host=true, the VMs whose domains it runs (or those named by vm_uuid), SRs named by sr_uuid.
import type { GuestAgents } from '../guest-agent.js';
import type { GroundTruth } from '../truth.js';
import type { ObjectStore } from '../model/store.js';
import type { RrdGaps } from './gaps.js';
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

/** Cache of a host's full source list, rebuilt when its resident VMs or the domains it runs change. */
export class SourceCache {
  private readonly cache = new Map<Ref, { residents: unknown; generation?: number; sources: SourceSet }>();

  constructor(
    private readonly store: ObjectStore,
    private readonly hostCpus: number,
    private readonly agents?: GuestAgents,
    private readonly truth?: GroundTruth,
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

  /**
   * The VMs of the host's RRDs: with the ground truth, the domains the host runs (rrdd reads them from Xen, never
   * from xapi's database: ocaml/xcp-rrdd/bin/rrdd/xcp_rrdd.ml "rrdd does not request data from xapi"; a VM's RRD
   * leaves when its domain disappears, xen-api design "RRDD archival redesign") plus the control domain; so a VM the
   * database places elsewhere still shows here while its domain runs. Without it (unit tests), the database's
   * running residents.
   */
  vms(hostRef: Ref): SourceSet[] {
    const host = this.store.get('host', hostRef)!;
    const key = `vms:${hostRef}`;
    const hit = this.cache.get(key);
    const generation = this.truth?.generation;
    if (hit && hit.residents === host.resident_VMs && hit.generation === generation) return hit.sources as unknown as SourceSet[];
    const agents = this.agents;
    const residents = host.resident_VMs as Ref[];
    const truth = this.truth;
    const refs = truth
      ? [
          ...residents.filter((r) => this.store.get('VM', r)?.is_control_domain || truth.runs(r, hostRef)),
          ...truth.domainsOn(hostRef).filter((r) => !residents.includes(r) && this.store.get('VM', r)),
        ]
      : residents.filter((r) => isRunningGuestOrDom0(this.store.get('VM', r)));
    const sets = refs.map((r) => vmSources(this.store, this.store.get('VM', r)!, agents && ((phase, t) => agents.lastMemoryWrite(r, phase, t))));
    this.cache.set(key, { residents, generation, sources: sets as unknown as SourceSet });
    return sets;
  }
}

/** Seconds since 1970 of a VM's current domain start (VM_metrics.start_time), or -Infinity. */
function domainStartS(store: ObjectStore, set: SourceSet): number {
  const [type, uuid] = set.keys[0]!.split(':');
  if (type !== 'vm') return -Infinity;
  const hit = store.byUuid(uuid!);
  const vm = hit?.cls === 'VM' ? store.get('VM', hit.ref) : undefined;
  const start = String(store.get('VM_metrics', vm?.metrics as Ref)?.start_time ?? '');
  const ms = Date.parse(start.replace(/^(\d{4})(\d{2})(\d{2})T/, '$1-$2-$3T'));
  return Number.isFinite(ms) && ms > 0 ? ms / 1000 : -Infinity;
}

export function buildWindow(store: ObjectStore, cache: SourceCache, hostRef: Ref, q: RrdQuery, nowS: number, gaps?: RrdGaps): RrdWindow {
  const lastUpdate = Math.floor(nowS / 5) * 5;
  const from = q.start < 0 ? lastUpdate + q.start : q.start;
  const span = Math.max(0, lastUpdate - from);
  // rrd.ml find_best_rras: the first archive, fine enough, whose rows reach back to start (xapi compares with `>`
  // against its float last_updated, a little after the last PDP: a start of exactly -rows×step still fits).
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
  /** Per column: the row time from which it has samples (NaN before: simulator/rrd/gaps.ts). */
  const from0: number[] = [];
  for (const cf of cfs)
    for (const set of sets) {
      for (const k of set.keys) legend.push(`${cf}:${k}`);
      fns.push(...set.fns);
      const since = domainStartS(store, set);
      for (let i = 0; i < set.keys.length; i++) from0.push(since);
    }

  const rows: RrdWindow['rows'] = [];
  // rrd_updates.ml create: rows from the last CDP back while time >= start, at most the archive's row count.
  for (let t = end; t >= from && rows.length < archive.rows; t -= step) {
    const values = new Float64Array(fns.length);
    // A consolidated row holds the mean over its step; sampling mid-step is close enough.
    const at = step === 5 ? t : t - step / 2;
    const hostDown = gaps?.hostGap(hostRef, t, step) ?? false;
    for (let i = 0; i < fns.length; i++) values[i] = hostDown || t - step < from0[i]! ? NaN : fns[i]!(at);
    rows.push({ t, values });
  }
  // meta start: the CDP after the one at or before start (create_multi's first_cdp_time), even when a row sits on start.
  return { start: Math.floor(from / step) * step + step, end, step, legend, rows };
}
