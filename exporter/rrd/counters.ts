// rrdd publishes rates (bytes/second) for network and disk traffic; XO exports them under `_total` names as if
// they were counters. We make them true counters: each row rrdd serves adds its rate × the time it covers, once, so
// rate(xcp_vm_network_receive_bytes_total[5m]) means what it says and agrees with the RRD to the byte.
import { detach } from '../../core/strings.js';

export interface CounterState {
  value: number;
  /** `t` of the newest row integrated (or seen, on first sight). */
  lastT: number;
  /** Advanced at least once (the first sight only notes where it starts). */
  seen: boolean;
  /** Dropped by `prune`: whoever kept it asks the bank again. */
  gone: boolean;
}

/** Rows of one poll, oldest first, which column to read, and the archive's step (seconds per row). */
export interface RateRows {
  rows: readonly { t: number; values: Float64Array }[];
  column: number;
  step: number;
}

export class CounterBank {
  /** object uuid → source name → state: no key strings built per sample. */
  private readonly state = new Map<string, Map<string, CounterState>>();

  /** The state of (`uuid`, `source`), made unseen on first ask; it stays the one until `prune` drops its object. */
  counter(uuid: string, source: string): CounterState {
    let byName = this.state.get(uuid);
    if (!byName) this.state.set(detach(uuid), (byName = new Map()));
    let s = byName.get(source);
    if (!s) byName.set(detach(source), (s = { value: 0, lastT: -Infinity, seen: false, gone: false }));
    return s;
  }

  /**
   * Advance a counter (a state from `counter`; mapping plans keep them, so there is no lookup per poll) with this
   * poll's rows (`rows` ascending by t; NaN = no sample); returns its value. The first sight starts at 0 after the
   * window's newest row. Each later row adds rate × the seconds it covers that no earlier row did: min(step, t − last
   * t), so a row of a coarser archive overlapping rows already counted adds only its new part. A NaN row, or a row
   * rrdd does not serve (host down, VM halted), adds nothing: a gap shows as no increase, never as an invented rate
   * × gap.
   */
  advance(s: CounterState, { rows, column, step }: RateRows): number {
    if (!s.seen) {
      s.seen = true;
      s.lastT = rows.length ? rows[rows.length - 1]!.t : -Infinity;
      return 0;
    }
    for (let i = 0; i < rows.length; i++) {
      const t = rows[i]!.t;
      if (t <= s.lastT) continue;
      const r = rows[i]!.values[column]!;
      if (Number.isFinite(r) && r >= 0) s.value += r * (Number.isFinite(s.lastT) ? Math.min(step, t - s.lastT) : step);
      s.lastT = t;
    }
    return s.value;
  }

  /** Forget counters of objects that are gone (a deleted VM's series must disappear). */
  prune(keep: (uuid: string) => boolean): void {
    for (const [uuid, byName] of this.state) {
      if (keep(uuid)) continue;
      for (const s of byName.values()) s.gone = true;
      this.state.delete(uuid);
    }
  }
}
