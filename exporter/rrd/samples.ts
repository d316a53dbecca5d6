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
import { type RrdUpdate, newestValues } from './parse.js';
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
}

const GUEST_REPORT_AGE = gauge(
  'xcp_vm_guest_memory_report_age_seconds',
  "Seconds (in RRD time) since the guest agent's memory report (rrdd memory_internal_free, rewritten by a live agent about every 2 minutes) last changed; counted from the exporter's first sight of the VM",
  VM_RRD,
);

/** What addRrdSamples needs of one object, worked out at its first column. */
interface ObjectInfo {
  /** Its base labels; null: not an object we export. */
  base: string | null;
  /** A VM that is not a control domain. */
  guest: boolean;
}

/** Adds the samples; returns the `t` of the newest row (NaN for an empty window). */
export function addRrdSamples(set: MetricSink, update: RrdUpdate, ctx: RrdContext): number {
  const newest = newestValues(update, 'AVERAGE');
  const asc = [...update.rows].sort((a, b) => a.t - b.t);
  const objects = new Map<string, ObjectInfo>();
  const cpuCores = new Map<string, number[]>();
  const hasCpuUsage = new Set<string>();
  // One object for every counter read: only the column changes.
  const rateRows = { rows: asc, column: 0, step: update.step };

  for (let i = 0; i < newest.columns.length; i++) {
    const col = newest.columns[i]!;
    const mapped = ctx.catalogue.map(col.objectType, col.name);
    if (!mapped) continue;
    let object = objects.get(col.uuid);
    if (object === undefined) {
      const { objectType, uuid } = col;
      const base = ctx.labels.get(ctx.lookups, uuid, ctx.host.uuid, () => baseLabels(objectType, uuid, ctx));
      object = { base, guest: objectType === 'vm' && ctx.lookups.vmByUuid.get(uuid)?.rec.is_control_domain === false };
      objects.set(col.uuid, object);
      if (ctx.power && object.guest && base !== null) ctx.power.guest(uuid, ctx.host.uuid, base);
    }
    const { base } = object;
    if (base === null) continue;
    const { rule } = mapped;
    let value: number;
    if (rule.family.type === 'counter') {
      rateRows.column = newest.index[i]!;
      value = ctx.counters.advance(col.uuid, col.name, rateRows) * rule.scale;
    } else {
      value = newest.values[i]!;
      if (!Number.isFinite(value)) continue;
      value = rule.divisor ? value / rule.divisor : value * rule.scale;
    }
    set.add(rule.family, base, value, extraLabels(mapped, col.uuid, ctx));
    if (col.objectType === 'host') {
      if (ctx.power && col.name === 'DCMI-power-reading') ctx.power.rrdHostWatts.set(col.uuid, value);
      continue;
    }
    if (object.guest && col.name === 'memory_internal_free' && ctx.guestReports) {
      const age = ctx.guestReports.observe(col.uuid, asc, newest.index[i]!);
      if (age !== undefined) set.add(GUEST_REPORT_AGE, base, age);
    }
    if (col.objectType === 'vm') {
      if (col.name === 'cpu_usage') {
        hasCpuUsage.add(col.uuid);
        ctx.power?.cpu(col.uuid, value);
      } else if (rule.labels === 'core') (cpuCores.get(col.uuid) ?? cpuCores.set(col.uuid, []).get(col.uuid)!).push(value);
    }
  }
  // XCP-ng 8.2 has no cpu_usage source: like XO, derive it as the mean of the per-vCPU values.
  for (const [uuid, cores] of cpuCores) {
    if (hasCpuUsage.has(uuid) || !cores.length) continue;
    const usage = cores.reduce((a, b) => a + b, 0) / cores.length;
    set.add(VM_CPU_USAGE, objects.get(uuid)!.base!, usage);
    ctx.power?.cpu(uuid, usage);
  }
  return newest.t;
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

/** The labels a source adds to its object's base labels. */
function extraLabels(mapped: Mapped, uuid: string, ctx: RrdContext): string {
  if (mapped.fixedLabels !== undefined) return mapped.fixedLabels;
  const { key, rule } = mapped;
  return ctx.labels.get(ctx.lookups, uuid, mapped, () => {
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
  });
}
