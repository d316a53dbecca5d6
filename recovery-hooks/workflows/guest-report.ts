// Is a running VM's guest alive? The receiver reads it from the VM's RRD on its resident host, as the exporter does
// (exporter/rrd/guest-reports.ts): the guest agent rewrites data/meminfo_free about every 120 s while the guest lives,
// and rrdd serves the last value as memory_internal_free every 5 s (xen-api rrdp_squeezed.ml), so a hung guest shows
// a constant. VM_guest_metrics.last_updated is no heartbeat: xapi writes it only when the agent's static data changes
// (ocaml/xapi/xapi_guest_agent.ml).
import { MAX_BODY_BYTES, rrdSourceOf } from './host-domains.js';
import type { HostRecord, VmRecord, Xapi } from './xapi.js';

export type GuestReport = { kind: 'changing'; ageS: number } | { kind: 'still'; forS: number } | { kind: 'unknown'; reason: string };

/** Did the VM's memory report change within the last `windowS` seconds of its RRD? */
export async function guestMemoryReport(xapi: Xapi, vm: VmRecord, windowS: number, timeoutMs: number): Promise<GuestReport> {
  const source = rrdSourceOf(xapi);
  if (!source) return { kind: 'unknown', reason: 'this XAPI connection cannot read RRDs' };
  const host = await xapi.call<HostRecord>('host.get_record', vm.resident_on);
  const update = await source.rrdUpdates(host.address, { windowSeconds: windowS, timeoutMs, maxBodyBytes: MAX_BODY_BYTES });
  const column = update.columns.findIndex((c) => c.cf === 'AVERAGE' && c.objectType === 'vm' && c.uuid === vm.uuid && c.name === 'memory_internal_free');
  const rows =
    column < 0
      ? []
      : update.rows
          .map((r) => ({ t: r.t, v: r.values[column]! }))
          .filter((r) => Number.isFinite(r.v))
          .sort((a, b) => a.t - b.t);
  if (rows.length === 0) return { kind: 'unknown', reason: 'no memory report in its RRD (no guest agent, or not reported yet)' };
  const newest = rows[rows.length - 1]!;
  for (let i = rows.length - 1; i > 0; i--) if (rows[i]!.v !== rows[i - 1]!.v) return { kind: 'changing', ageS: newest.t - rows[i]!.t };
  const forS = newest.t - rows[0]!.t;
  // Standing still needs rows over the whole window (a step short at most: rows fall on the archive's step), and
  // at least three of them.
  if (rows.length < 3 || forS + update.step < windowS)
    return { kind: 'unknown', reason: `only ${forS} s of memory reports in its RRD, fewer than ${windowS} s` };
  return { kind: 'still', forS };
}
