// Turn one host's parsed /rrd_updates into samples of the XO catalogue, labelled from the inventory.
import type { LabelOptions } from '../config.js';
import type { Derived, Rec } from '../inventory/inventory.js';
import { type MetricSink, VM_RRD, gauge } from '../metrics/declare.js';
import { labelString } from '../metrics/families.js';
import { tagsLabel } from '../metrics/tags.js';
import { type Catalogue, type Mapped, VM_CPU_USAGE } from './catalogue.js';
import type { CounterBank } from './counters.js';
import type { GuestReports } from './guest-reports.js';
import type { LabelCache } from './label-cache.js';
import { Legend } from '../../core/rrd/legend.js';
import { type RrdUpdate, type RrdWindow, newestFinite, newestFirst } from '../../core/rrd/parse.js';
import type { PowerInputs } from './vm-power.js';

export interface RrdContext {
  catalogue: Catalogue;
  counters: CounterBank;
  /** When each guest's memory report last changed: the guest agent's liveness (see guest-reports.ts). */
  guestReports?: GuestReports;
  labels: LabelCache;
  lookups: Derived;
  poolId: string;
  poolName: string;
  /** The host the RRD was fetched from (each host serves its own RRDs and its resident VMs'). */
  host: Rec;
  /** The `tags` label mode (default `all`). */
  tags?: LabelOptions['tags'];
  /** Host power and guest CPU seen, for the per-VM power estimate. */
  power?: PowerInputs;
  /** Mapping plans kept between polls (without: planned for this call alone). */
  plans?: SamplePlans;
}

const GUEST_REPORT_AGE = gauge(
  'xcp_vm_guest_memory_report_age_seconds',
  "Seconds (in RRD time) since the guest agent's memory report (rrdd memory_internal_free, rewritten by a live agent about every 2 minutes) last changed; counted from the exporter's first sight of the VM",
  VM_RRD,
);

/** Adds the samples; returns the `t` of the newest row (NaN for an empty window). */
export function addRrdSamples(set: MetricSink, update: RrdUpdate | RrdWindow, ctx: RrdContext): number {
  const legend = 'legend' in update ? update.legend : Legend.of(update.columns);
  const plan = ctx.plans ? ctx.plans.get(legend, ctx) : new SamplePlan(legend, ctx);
  const newest = newestFirst(update.rows);
  const asc = [...update.rows].sort((a, b) => a.t - b.t);
  // One object for every counter read: only the column changes.
  const rateRows = { rows: asc, column: 0, step: update.step };
  const { objects, column, mapped, objectOf, extra, special, counterOf, counterSlot, counterGeneration } = plan;
  if (ctx.power) for (const o of plan.guests) ctx.power.guest(o.uuid, ctx.host.uuid, o.base);
  // Per object, this poll: the vCPU values (for cpu_usage where rrdd has none), in the order XO averages them.
  const cores = new Float64Array(objects.length);
  const coreCount = new Int32Array(objects.length);
  const coreOrder: number[] = [];
  const hasCpuUsage = new Uint8Array(objects.length);

  for (let k = 0; k < column.length; k++) {
    const j = column[k]!;
    const { rule } = mapped[k]!;
    const oi = objectOf[k]!;
    const object = objects[oi]!;
    let value: number;
    if (rule.family.type === 'counter') {
      rateRows.column = j;
      const c = counterOf[k]!;
      let slot = counterSlot[c]!;
      if (!ctx.counters.holds(slot, counterGeneration[c]!)) {
        counterSlot[c] = slot = ctx.counters.counter(object.uuid, legend.names[j]!);
        counterGeneration[c] = ctx.counters.generationOf(slot);
      }
      value = ctx.counters.advance(slot, rateRows) * rule.scale;
    } else {
      const r = newestFinite(newest, j);
      if (r < 0) continue;
      value = newest[r]!.values[j]!;
      value = rule.divisor ? value / rule.divisor : value * rule.scale;
    }
    set.add(rule.family, object.base, value, extra[k]);
    switch (special[k]) {
      case HOST_POWER_READING:
        ctx.power?.rrdHostWatts.set(object.uuid, value);
        break;
      case GUEST_MEMORY_REPORT:
        if (ctx.guestReports) {
          const age = ctx.guestReports.observe(object.uuid, asc, j);
          if (age !== undefined) set.add(GUEST_REPORT_AGE, object.base, age);
        }
        break;
      case VM_CPU:
        hasCpuUsage[oi] = 1;
        ctx.power?.cpu(object.uuid, value);
        break;
      case VM_CORE:
        if (coreCount[oi]++ === 0) coreOrder.push(oi);
        cores[oi]! += value;
    }
  }
  // XCP-ng 8.2 has no cpu_usage source: like XO, derive it as the mean of the per-vCPU values.
  for (const oi of coreOrder) {
    if (hasCpuUsage[oi]) continue;
    const usage = cores[oi]! / coreCount[oi]!;
    set.add(VM_CPU_USAGE, objects[oi]!.base, usage);
    ctx.power?.cpu(objects[oi]!.uuid, usage);
  }
  return newest.length ? newest[0]!.t : NaN;
}

/** Plans kept between polls, one per legend (a host's, while it does not change) and inventory. */
export class SamplePlans {
  private readonly byLegend = new WeakMap<Legend, SamplePlan>();

  get(legend: Legend, ctx: RrdContext): SamplePlan {
    let plan = this.byLegend.get(legend);
    if (!plan?.fits(ctx)) this.byLegend.set(legend, (plan = new SamplePlan(legend, ctx)));
    return plan;
  }
}

/** What a column does besides its own sample. */
const HOST_POWER_READING = 1;
const GUEST_MEMORY_REPORT = 2;
const VM_CPU = 3;
const VM_CORE = 4;

interface PlannedObject {
  uuid: string;
  base: string;
  /** A VM that is not a control domain. */
  guest: boolean;
}

/**
 * Which columns of a legend become samples, of which family, with which labels: worked out once per legend and
 * inventory rather than per poll, kept as parallel arrays (a few bytes per column). Columns of objects we do not
 * export (SRs…) and sources outside the catalogue are left out.
 */
class SamplePlan {
  private readonly made: Pick<RrdContext, 'lookups' | 'host' | 'poolId' | 'poolName' | 'tags' | 'catalogue' | 'labels' | 'counters'>;
  readonly objects: PlannedObject[] = [];
  /** Guests in the order of their first sample (the VM power estimate's order). */
  readonly guests: PlannedObject[] = [];
  /** Per planned sample: its column in the legend, catalogue entry, object, extra labels, special role. */
  readonly column: Int32Array;
  readonly mapped: Mapped[] = [];
  readonly objectOf: Int32Array;
  readonly extra: string[] = [];
  readonly special: Uint8Array;
  /** Per planned sample of a counter family, where its counter's slot in the bank and the slot's generation are
   * kept (found at its first poll; -1 before). */
  readonly counterOf: Int32Array;
  readonly counterSlot: Int32Array;
  readonly counterGeneration: Uint32Array;

  constructor(legend: Legend, ctx: RrdContext) {
    const { lookups, host, poolId, poolName, tags, catalogue, labels, counters } = ctx;
    this.made = { lookups, host, poolId, poolName, tags, catalogue, labels, counters };
    const column: number[] = [];
    const objectOf: number[] = [];
    const special: number[] = [];
    const counterOf: number[] = [];
    let counterCount = 0;
    const byUuid = new Map<string, number | null>();
    for (let j = 0; j < legend.length; j++) {
      const { cf, objectType, uuid } = legend.groups[legend.groupOf[j]!]!;
      if (cf !== 'AVERAGE') continue;
      const name = legend.names[j]!;
      const mapped = catalogue.map(objectType, name);
      if (!mapped) continue;
      // Keyed by uuid: the first column seen decides what the object is.
      let oi = byUuid.get(uuid);
      if (oi === undefined) {
        const base = labels.get(lookups, uuid, host.uuid, () => baseLabels(objectType, uuid, ctx));
        oi = base === null ? null : this.objects.length;
        byUuid.set(uuid, oi);
        if (base !== null) {
          const guest = objectType === 'vm' && lookups.vmByUuid.get(uuid)?.rec.is_control_domain === false;
          this.objects.push({ uuid, base, guest });
          if (guest) this.guests.push(this.objects[oi!]!);
        }
      }
      if (oi === null) continue;
      column.push(j);
      this.mapped.push(mapped);
      objectOf.push(oi);
      this.extra.push(labels.shared(lookups, extraLabels(mapped, uuid, ctx)));
      let role = 0;
      if (objectType === 'host') role = name === 'DCMI-power-reading' ? HOST_POWER_READING : 0;
      else if (this.objects[oi]!.guest && name === 'memory_internal_free') role = GUEST_MEMORY_REPORT;
      else if (objectType === 'vm') role = name === 'cpu_usage' ? VM_CPU : mapped.rule.labels === 'core' ? VM_CORE : 0;
      special.push(role);
      counterOf.push(mapped.rule.family.type === 'counter' ? counterCount++ : -1);
    }
    this.column = Int32Array.from(column);
    this.objectOf = Int32Array.from(objectOf);
    this.special = Uint8Array.from(special);
    this.counterOf = Int32Array.from(counterOf);
    this.counterSlot = new Int32Array(counterCount).fill(-1);
    this.counterGeneration = new Uint32Array(counterCount);
  }

  /** Made for this context's inventory, host and label settings. */
  fits(ctx: RrdContext): boolean {
    const m = this.made;
    return (
      m.lookups === ctx.lookups &&
      m.host === ctx.host &&
      m.poolId === ctx.poolId &&
      m.poolName === ctx.poolName &&
      m.tags === ctx.tags &&
      m.catalogue === ctx.catalogue &&
      m.labels === ctx.labels &&
      m.counters === ctx.counters
    );
  }
}

/** XO's label order: pool_id, uuid, type, [host_id], pool_name, host_name|vm_name, is_control_domain. */
function baseLabels(objectType: string, uuid: string, ctx: RrdContext): string | null {
  const host = ctx.host;
  if (objectType === 'host') {
    const h = ctx.lookups.hostByUuid.get(uuid)?.rec ?? (host.uuid === uuid ? host : undefined);
    return labelString({
      pool_id: ctx.poolId,
      uuid,
      type: 'host',
      pool_name: ctx.poolName,
      host_name: h?.name_label as string | undefined,
      tags: tagsLabel(h, ctx.tags ?? 'all', false),
    });
  }
  if (objectType === 'vm') {
    const vm = ctx.lookups.vmByUuid.get(uuid)?.rec;
    return labelString({
      pool_id: ctx.poolId,
      uuid,
      type: 'vm',
      host_id: host.uuid,
      pool_name: ctx.poolName,
      host_name: host.name_label as string,
      vm_name: vm?.name_label as string | undefined,
      is_control_domain: vm ? String(Boolean(vm.is_control_domain)) : undefined,
      tags: tagsLabel(vm, ctx.tags ?? 'all', false),
    });
  }
  return null;
}

/** The labels a source adds to its object's base labels (kept by the plan). */
function extraLabels(mapped: Mapped, uuid: string, ctx: RrdContext): string {
  if (mapped.fixedLabels !== undefined) return mapped.fixedLabels;
  const { key, rule } = mapped;
  switch (rule.labels) {
    case 'pif':
      return labelString({ interface: key, network_name: ctx.lookups.hostNetworks.get(`${uuid}/${key}`) });
    case 'sr': {
      const sr = ctx.lookups.srByPrefix.get(key);
      return labelString({ sr: key, sr_uuid: sr?.uuid, sr_name: sr?.name_label as string | undefined, sr_type: sr?.type as string | undefined });
    }
    case 'vif':
      return labelString({ vif: key, network_name: ctx.lookups.vmNetworks.get(`${uuid}/${key}`) });
    case 'vbd_disk': {
      const d = ctx.lookups.vmDisks.get(`${uuid}/${key}`);
      return labelString({ device: key, vdi_name: d?.vdiName, sr_name: d?.srName, sr_type: d?.srType });
    }
    default:
      throw new Error(`labels ${rule.labels} should be fixed`);
  }
}
