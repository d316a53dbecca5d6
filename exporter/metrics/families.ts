// Metric families as the exporter builds them once per poll: each sample is its labels string (shared pieces,
// never copied) and its value. The snapshot writes them out as exposition lines once; see render.ts.
import type { ChunkWriter } from './chunks.js';

export type MetricType = 'gauge' | 'counter';

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

export class Family {
  private readonly labels: string[];
  private readonly extras: string[];
  /** Off the JS heap, and sized once when the family's size in the previous poll is known (see FamilySet). */
  private values: Float64Array;
  private count = 0;

  /** `capacity`: how many samples to make room for at once (the family's size in the previous poll). */
  constructor(
    readonly name: string,
    readonly type: MetricType,
    readonly help: string,
    capacity = 0,
  ) {
    this.labels = new Array(capacity);
    this.extras = new Array(capacity);
    this.values = new Float64Array(Math.max(capacity, 8));
  }

  get size(): number {
    return this.count;
  }

  /**
   * `labels` is the inside of the braces, already escaped (see labelString); `extra` more of them, kept apart so
   * that one `labels` string is shared by all the series of an object instead of copied into each.
   */
  add(labels: string, value: number, extra = ''): void {
    const i = this.count;
    if (i === this.values.length) {
      const bigger = new Float64Array(i * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.labels[i] = labels;
    this.extras[i] = extra;
    this.values[i] = value;
    this.count = i + 1;
  }

  /** The sample lines, in the order added, written piece by piece: no string per line. */
  writeSamples(out: ChunkWriter): void {
    const name = Buffer.from(this.name);
    const { labels, extras, values } = this;
    for (let i = 0; i < this.count; i++) {
      const block = labels[i]!;
      const extra = extras[i]!;
      out.reserve(name.length + 3 * (block.length + extra.length) + 32);
      out.putBytes(name);
      if (block || extra) {
        out.putByte(0x7b); // {
        if (block) out.putString(block);
        if (block && extra) out.putByte(0x2c); // ,
        if (extra) out.putString(extra);
        out.putByte(0x7d); // }
      }
      out.putByte(0x20);
      out.putValue(values[i]!);
      out.putByte(0x0a);
    }
  }
}

export class FamilySet {
  private readonly byName = new Map<string, Family>();

  /** `previous`: each family's size in the previous poll (its `sizes()`), so that its arrays are made once, not grown. */
  constructor(private readonly previous?: ReadonlyMap<string, number>) {}

  family(name: string, type: MetricType, help: string): Family {
    let f = this.byName.get(name);
    if (!f) {
      const before = this.previous?.get(name) ?? 0;
      f = new Family(name, type, help, before + (before >> 5)); // a little room for VMs arriving
      this.byName.set(name, f);
    } else if (f.type !== type) throw new Error(`metric ${name} declared as ${f.type} and ${type}`);
    return f;
  }

  /** Shorthand: add one sample to a family. */
  add(name: string, type: MetricType, help: string, labels: string, value: number, extra = ''): void {
    this.family(name, type, help).add(labels, value, extra);
  }

  families(): Family[] {
    return [...this.byName.values()].filter((f) => f.size > 0).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** Each family's size: the next poll's `previous`. */
  sizes(): Map<string, number> {
    return new Map([...this.byName].map(([name, f]) => [name, f.size]));
  }

  get seriesCount(): number {
    let n = 0;
    for (const f of this.byName.values()) n += f.size;
    return n;
  }
}

const NEEDS_ESCAPE = /[\\"\n]/;

export function escapeLabelValue(v: string): string {
  return NEEDS_ESCAPE.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v;
}

/** `k="v",…` with empty values omitted (as XO does). Keys must already be valid label names. */
export function labelString(labels: Record<string, string | undefined>): string {
  // Joined, not concatenated: a flat string, not a tree of pieces, is what gets kept and copied into each line.
  const parts: string[] = [];
  for (const k in labels) {
    const v = labels[k];
    if (v !== undefined && v !== '') parts.push(`${k}="${escapeLabelValue(v)}"`);
  }
  return parts.join(',');
}

/** Join a pre-rendered base label string with extra labels. */
export function withLabels(base: string, extra: Record<string, string | undefined>): string {
  const more = labelString(extra);
  return base && more ? `${base},${more}` : base || more;
}
