// Metric families as the exporter builds them once per poll. Each sample is written straight into the family's
// byte chunks as its exposition line: nothing per sample is kept but those bytes, so a poll of half a million
// series costs little garbage, and rendering a snapshot is joining buffers.

export type MetricType = 'gauge' | 'counter';

const FIRST_CHUNK = 4096;
const MAX_CHUNK = 1 << 20;

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

export class Family {
  private readonly chunks: Buffer[] = [];
  private cur: Buffer = Buffer.allocUnsafe(0);
  private pos = 0;
  private nextSize = FIRST_CHUNK;
  size = 0;

  constructor(
    readonly name: string,
    readonly type: MetricType,
    readonly help: string,
  ) {}

  /** `labels` is the inside of the braces, already escaped (see labelString). */
  add(labels: string, value: number): void {
    const line = labels ? `${this.name}{${labels}} ${formatValue(value)}\n` : `${this.name} ${formatValue(value)}\n`;
    // A UTF-16 code unit takes at most 3 bytes in UTF-8.
    if (this.cur.length - this.pos < line.length * 3) this.grow(line.length * 3);
    this.pos += this.cur.write(line, this.pos, 'utf8');
    this.size++;
  }

  private grow(min: number): void {
    if (this.pos) this.chunks.push(this.cur.subarray(0, this.pos));
    this.cur = Buffer.allocUnsafe(Math.max(this.nextSize, min));
    this.nextSize = Math.min(this.nextSize * 2, MAX_CHUNK);
    this.pos = 0;
  }

  /** The sample lines, as written. */
  sampleBuffers(): Buffer[] {
    return this.pos ? [...this.chunks, this.cur.subarray(0, this.pos)] : this.chunks;
  }
}

export class FamilySet {
  private readonly byName = new Map<string, Family>();

  family(name: string, type: MetricType, help: string): Family {
    let f = this.byName.get(name);
    if (!f) {
      f = new Family(name, type, help);
      this.byName.set(name, f);
    } else if (f.type !== type) throw new Error(`metric ${name} declared as ${f.type} and ${type}`);
    return f;
  }

  /** Shorthand: add one sample to a family. */
  add(name: string, type: MetricType, help: string, labels: string, value: number): void {
    this.family(name, type, help).add(labels, value);
  }

  families(): Family[] {
    return [...this.byName.values()].filter((f) => f.size > 0).sort((a, b) => (a.name < b.name ? -1 : 1));
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
  let out = '';
  for (const k in labels) {
    const v = labels[k];
    if (v === undefined || v === '') continue;
    out += (out ? ',' : '') + k + '="' + escapeLabelValue(v) + '"';
  }
  return out;
}

/** Join a pre-rendered base label string with extra labels. */
export function withLabels(base: string, extra: Record<string, string | undefined>): string {
  const more = labelString(extra);
  return base && more ? `${base},${more}` : base || more;
}
