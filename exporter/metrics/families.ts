// Metric families as the exporter builds them once per poll: each sample is a pre-rendered label string and a
// value, so rendering is string concatenation and nothing else.

export type MetricType = 'gauge' | 'counter';

export class Family {
  readonly labels: string[] = [];
  readonly values: number[] = [];
  constructor(
    readonly name: string,
    readonly type: MetricType,
    readonly help: string,
  ) {}

  /** `labels` is the inside of the braces, already escaped (see labelString). */
  add(labels: string, value: number): void {
    this.labels.push(labels);
    this.values.push(value);
  }

  get size(): number {
    return this.values.length;
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
