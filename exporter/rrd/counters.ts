// rrdd publishes rates (bytes/second) for network and disk traffic; XO exports them under `_total` names as if
// they were counters. We make them true counters: each row's rate × its step is added to a running total, so
// rate(xcp_vm_network_receive_bytes_total[5m]) means what it says.
import { detach } from '../../core/strings.js';

const MAX_GAP_S = 600;

interface CounterState {
  value: number;
  /** `t` of the last row integrated. */
  lastT: number;
}

/** Rows of one poll, oldest first, and which column to read. */
export interface RateRows {
  rows: readonly { t: number; values: Float64Array }[];
  column: number;
}

export class CounterBank {
  /** object uuid → source name → state: no key strings built per sample. */
  private readonly state = new Map<string, Map<string, CounterState>>();

  /**
   * Advance the counter of (`uuid`, `source`) with this poll's rows (`rows` ascending by t; NaN = no sample).
   * The first sight starts at 0. Rows older than what was integrated are skipped; a gap between the last
   * integrated row and this window (a missed poll, or a window shorter than the poll interval) is filled with the
   * oldest known rate of the window, up to 10 minutes.
   */
  advance(uuid: string, source: string, { rows, column }: RateRows): number {
    let byName = this.state.get(uuid);
    if (!byName) this.state.set(detach(uuid), (byName = new Map()));
    let s = byName.get(source);
    if (!s) {
      let newest = -Infinity;
      for (let i = rows.length - 1; i >= 0; i--)
        if (Number.isFinite(rows[i]!.values[column]!)) {
          newest = rows[i]!.t;
          break;
        }
      byName.set(detach(source), { value: 0, lastT: newest });
      return 0;
    }
    for (let i = 0; i < rows.length; i++) {
      const t = rows[i]!.t;
      const r = rows[i]!.values[column]!;
      if (t <= s.lastT || !Number.isFinite(r) || r < 0) continue;
      s.value += r * (Number.isFinite(s.lastT) ? Math.min(t - s.lastT, MAX_GAP_S) : 0);
      s.lastT = t;
    }
    return s.value;
  }

  /** Forget counters of objects that are gone (a deleted VM's series must disappear). */
  prune(keep: (uuid: string) => boolean): void {
    for (const uuid of this.state.keys()) if (!keep(uuid)) this.state.delete(uuid);
  }
}
