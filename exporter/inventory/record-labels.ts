// Label strings of inventory records, kept with the record instead of rendered again every poll: the inventory
// replaces a record when XAPI sends a change (inventory.ts, apply) and never changes one in place, so a label string
// stays right while its record and the few other things it is made of (named by the caller: the pool's name, a
// related record…) are the same. Held in a WeakMap: a replaced or deleted record takes its strings with it.

interface Kept {
  a: unknown;
  b: unknown;
  c: unknown;
  d: unknown;
  value: string;
}

/** One kind of label string per record (one instance per kind). */
export class RecordLabels {
  private readonly kept = new WeakMap<object, Kept>();

  /** The string `render` makes for `rec`, rendered again only when `rec` or one of `a`–`d` (compared with ===)
   * is not what it was made from. */
  get(rec: object, a: unknown, b: unknown, c: unknown, d: unknown, render: () => string): string {
    const k = this.kept.get(rec);
    if (k !== undefined && k.a === a && k.b === b && k.c === c && k.d === d) return k.value;
    const value = render();
    this.kept.set(rec, { a, b, c, d, value });
    return value;
  }
}
