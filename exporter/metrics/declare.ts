// The one way the exporter declares a metric family: `gauge(name, help, labels)` or `counter(…)`, once, in the
// module that produces it, and samples added as `sink.add(FAMILY, labels, value)`. A declaration is checked when
// its module loads (Prometheus naming: `_total` only and always on counters; valid label names), and a name
// declared twice must be declared alike — one home for each family. `declaredFamilies()` lists them for tests.
import type { FamilySet, MetricType } from './families.js';

export interface FamilyDef {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  /** The label names its series may carry (those with an empty value are left out of a series). */
  readonly labels: readonly string[];
}

/** Where a collector writes its samples (exporter/collector/registry.ts closes it at the collector's deadline). */
export interface MetricSink {
  /** `labels`: the inside of the braces, escaped (labelString); `extra`: more of them, kept apart (see Family.add). */
  add(family: FamilyDef, labels: string, value: number, extra?: string): void;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const declared = new Map<string, FamilyDef>();

function declare(type: MetricType, name: string, help: string, labels: readonly string[]): FamilyDef {
  if (!NAME.test(name)) throw new Error(`metric family ${JSON.stringify(name)}: not a valid name`);
  if ((type === 'counter') !== name.endsWith('_total')) throw new Error(`metric family ${name}: only counters, and every counter, end in _total`);
  const bad = labels.find((l) => !LABEL.test(l) || l.startsWith('__'));
  if (bad !== undefined) throw new Error(`metric family ${name}: ${JSON.stringify(bad)} is not a valid label name`);
  const def: FamilyDef = { name, type, help, labels: [...new Set(labels)] };
  const before = declared.get(name);
  if (!before) {
    declared.set(name, def);
    return def;
  }
  if (before.type !== def.type || before.help !== def.help || before.labels.join() !== def.labels.join())
    throw new Error(`metric family ${name} declared twice, differently: import the one declaration instead`);
  return before;
}

export const gauge = (name: string, help: string, labels: readonly string[]): FamilyDef => declare('gauge', name, help, labels);
export const counter = (name: string, help: string, labels: readonly string[]): FamilyDef => declare('counter', name, help, labels);

/** A family declared by a library (prom-client's process metrics, label names its own): not ours to check, not in
 * declaredFamilies(). */
export const foreignFamily = (name: string, type: MetricType, help: string): FamilyDef => ({ name, type, help, labels: [] });

/** Every family declared so far (by the modules loaded). */
export function declaredFamilies(): ReadonlyMap<string, FamilyDef> {
  return declared;
}

/** A sink straight into `set` (the registry's closes at the deadline; tests and tools use this one). */
export function sinkInto(set: FamilySet): MetricSink {
  return { add: (f, labels, value, extra) => set.add(f.name, f.type, f.help, labels, value, extra) };
}

// The label sets of docs/METRICS.md. `tags` appears with `exporter.labels.tags: all` (and on *_info with `info`).
export const POOL = ['pool_id', 'pool_name'] as const;
export const HOST = [...POOL, 'uuid', 'host_name', 'tags'] as const;
/** XO's RRD host series: HOST + type="host". */
export const HOST_RRD = [...HOST, 'type'] as const;
export const VM = [...POOL, 'uuid', 'vm_name', 'host_id', 'host_name', 'tags'] as const;
/** XO's RRD VM series: VM + type="vm", is_control_domain. */
export const VM_RRD = [...VM, 'type', 'is_control_domain'] as const;
/** Local SRs also carry the host they are on. */
export const SR = [...POOL, 'sr_uuid', 'sr_name', 'sr_type', 'content_type', 'host_id', 'host_name', 'tags'] as const;
/** The exporter's own collectors: no pool_name for the exporter-wide ones (self). */
export const EXP = ['pool_name', 'collector'] as const;
