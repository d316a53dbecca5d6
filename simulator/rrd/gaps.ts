// Where rrdd has no sample (NaN rows), as the simulator models it (simulator/FIDELITY.md, "RRD rows and NaN"):
// - a host that is down runs no rrdd: when it is back, its RRD (restored from its last save) holds unknown values
//   for the time it was down (xcp-rrd: an update after more than a data source's heartbeat leaves the gap unknown);
// - a VM's RRD holds nothing from before its current domain started (simplification: real rrdd restores the VM's
//   archived RRD on start, with the time it was halted unknown; the simulator keeps no archive, so it is all NaN).
import type { Ref } from '../model/types.js';

export class RrdGaps {
  /** host ref → outages in ms; the last one open (`to` undefined) while the host is down. */
  private readonly outages = new Map<Ref, { from: number; to?: number }[]>();

  down(host: Ref, nowMs = Date.now()): void {
    const list = this.outages.get(host) ?? [];
    if (list.length && list[list.length - 1]!.to === undefined) return;
    list.push({ from: nowMs });
    this.outages.set(host, list);
  }

  up(host: Ref, nowMs = Date.now()): void {
    const last = this.outages.get(host)?.at(-1);
    if (last && last.to === undefined) last.to = nowMs;
  }

  /** Does the host row at `tS` (covering (t − step, t]) overlap a time the host was down? */
  hostGap(host: Ref, tS: number, step: number): boolean {
    const list = this.outages.get(host);
    if (!list) return false;
    const from = (tS - step) * 1000;
    const to = tS * 1000;
    return list.some((o) => o.from < to && (o.to === undefined || o.to > from));
  }
}
