// rrdd publishes rates (bytes/second) for network and disk traffic; XO exports them under `_total` names as if
// they were counters. We make them true counters: each row's rate × its step is added to a running total, so
// rate(xcp_vm_network_receive_bytes_total[5m]) means what it says.

const MAX_GAP_S = 600;

interface CounterState {
  value: number;
  /** `t` of the last row integrated. */
  lastT: number;
}

export class CounterBank {
  private readonly state = new Map<string, CounterState>();

  /**
   * Advance the counter `key` with the rows of this poll (`times` ascending, `rates` aligned, NaN = no sample).
   * The first sight starts at 0. Rows older than what was integrated are skipped; a gap between the last
   * integrated row and this window (a missed poll) is filled with the oldest known rate, up to 10 minutes.
   */
  advance(key: string, times: Float64Array, rates: Float64Array, step: number): number {
    let s = this.state.get(key);
    if (!s) {
      let newest = NaN;
      for (let i = times.length - 1; i >= 0; i--) if (Number.isFinite(rates[i]!)) { newest = times[i]!; break; }
      s = { value: 0, lastT: Number.isFinite(newest) ? newest : -Infinity };
      this.state.set(key, s);
      return 0;
    }
    for (let i = 0; i < times.length; i++) {
      const t = times[i]!;
      const r = rates[i]!;
      if (t <= s.lastT || !Number.isFinite(r) || r < 0) continue;
      const gap = Number.isFinite(s.lastT) ? Math.min(t - s.lastT, MAX_GAP_S) : step;
      s.value += r * gap;
      s.lastT = t;
    }
    return s.value;
  }

  /** Forget counters of objects that are gone (a deleted VM's series must disappear). */
  prune(keep: (key: string) => boolean): void {
    for (const key of this.state.keys()) if (!keep(key)) this.state.delete(key);
  }

  get size(): number {
    return this.state.size;
  }
}
