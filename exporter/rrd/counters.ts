// rrdd publishes rates (bytes/second) for network and disk traffic; XO exports them under `_total` names as if
// they were counters. We make them true counters: each row rrdd serves adds its rate × the time it covers, once, so
// rate(xcp_vm_network_receive_bytes_total[5m]) means what it says and agrees with the RRD to the byte.
import { detach } from '../../core/strings.js';

/** Rows of one poll, oldest first, which column to read, and the archive's step (seconds per row). */
export interface RateRows {
  rows: readonly { t: number; values: Float64Array }[];
  column: number;
  step: number;
}

/**
 * Every counter's state in typed arrays, one slot per (object, source): its value, the `t` of the newest row
 * integrated (or seen, on first sight), whether it has advanced once (the first sight only notes where it starts),
 * and a generation bumped when `prune` frees the slot — whoever kept a (slot, generation) of a pruned counter asks
 * the bank again (`holds`). About 21 bytes per counter beside its map entry; an object per counter with its two
 * boxed doubles was ~60.
 */
export class CounterBank {
  /** object uuid → source name → slot: no key strings built per sample. */
  private readonly state = new Map<string, Map<string, number>>();
  /** Source names, one string per text (the same few on every VM). */
  private readonly names = new Map<string, string>();
  private value = new Float64Array(0);
  private lastT = new Float64Array(0);
  private seen = new Uint8Array(0);
  private generation = new Uint32Array(0);
  private readonly free: number[] = [];
  private used = 0;

  /** The slot of (`uuid`, `source`), made unseen on first ask; it stays the one until `prune` drops its object. */
  counter(uuid: string, source: string): number {
    let byName = this.state.get(uuid);
    if (!byName) this.state.set(detach(uuid), (byName = new Map()));
    let slot = byName.get(source);
    if (slot === undefined) {
      slot = this.free.pop() ?? this.grow();
      this.value[slot] = 0;
      this.lastT[slot] = -Infinity;
      this.seen[slot] = 0;
      let name = this.names.get(source);
      if (name === undefined) this.names.set((name = detach(source)), name);
      byName.set(name, slot);
    }
    return slot;
  }

  /** The generation of `slot` now: keep it beside the slot. */
  generationOf(slot: number): number {
    return this.generation[slot]!;
  }

  /** Whether a kept (slot, generation) is still its counter's (not pruned since). */
  holds(slot: number, generation: number): boolean {
    return slot >= 0 && this.generation[slot] === generation;
  }

  /**
   * Advance a counter (a slot from `counter`; mapping plans keep them, so there is no lookup per poll) with this
   * poll's rows (`rows` ascending by t; NaN = no sample); returns its value. The first sight starts at 0 after the
   * window's newest row. Each later row adds rate × the seconds it covers that no earlier row did: min(step, t − last
   * t), so a row of a coarser archive overlapping rows already counted adds only its new part. A NaN row, or a row
   * rrdd does not serve (host down, VM halted), adds nothing: a gap shows as no increase, never as an invented rate
   * × gap.
   */
  advance(slot: number, { rows, column, step }: RateRows): number {
    if (!this.seen[slot]) {
      this.seen[slot] = 1;
      this.lastT[slot] = rows.length ? rows[rows.length - 1]!.t : -Infinity;
      return 0;
    }
    let value = this.value[slot]!;
    let lastT = this.lastT[slot]!;
    for (let i = 0; i < rows.length; i++) {
      const t = rows[i]!.t;
      if (t <= lastT) continue;
      const r = rows[i]!.values[column]!;
      if (Number.isFinite(r) && r >= 0) value += r * (Number.isFinite(lastT) ? Math.min(step, t - lastT) : step);
      lastT = t;
    }
    this.value[slot] = value;
    this.lastT[slot] = lastT;
    return value;
  }

  /** Forget counters of objects that are gone (a deleted VM's series must disappear). */
  prune(keep: (uuid: string) => boolean): void {
    // forEach, not for…of entries: no [key, value] pair made per object, every poll.
    this.state.forEach((byName, uuid) => {
      if (keep(uuid)) return;
      byName.forEach((slot) => {
        this.generation[slot]!++;
        this.free.push(slot);
      });
      this.state.delete(uuid);
    });
  }

  private grow(): number {
    if (this.used === this.value.length) {
      const n = Math.max(1024, this.used * 2);
      const value = new Float64Array(n);
      const lastT = new Float64Array(n);
      const seen = new Uint8Array(n);
      const generation = new Uint32Array(n);
      value.set(this.value);
      lastT.set(this.lastT);
      seen.set(this.seen);
      generation.set(this.generation);
      this.value = value;
      this.lastT = lastT;
      this.seen = seen;
      this.generation = generation;
    }
    return this.used++;
  }
}
