// How an rrdd data source becomes an xcp_* metric: Xen Orchestra's OpenMetrics catalogue (reference §1.6), same
// names, labels and units, with XO's bugs fixed (memory_reclaimed* are bytes already; rates exported under
// `_total` names are integrated into true counters), plus the toolstack's own sources.

import { detach } from '../../core/strings.js';
import { type FamilyDef, HOST_RRD, VM_RRD, counter, gauge } from '../metrics/declare.js';
import { labelString } from '../metrics/families.js';

/** Which extra labels a source carries, from the part of its name the rule captured. */
export type LabelKind = 'none' | 'core' | 'pif' | 'sr' | 'vif' | 'vbd_disk' | 'source_rrd';

export interface MetricRule {
  family: FamilyDef;
  /** Multiply the rrdd value by this (KiB → bytes, MiB/s → B/s). */
  scale: number;
  /** Or divide by this (µs → s: dividing keeps 400 µs exactly 0.0004 s). */
  divisor?: number;
  labels: LabelKind;
}

interface PatternRule extends MetricRule {
  re: RegExp;
}

export interface Mapped {
  rule: MetricRule;
  /** What the rule captured: core number, device, SR prefix… */
  key: string;
  /** The extra labels when they depend on nothing but the source name (core, device…), rendered once. */
  fixedLabels?: string;
}

/** The label names each kind adds to XO's host or VM RRD labels. */
const KIND_LABELS: Record<LabelKind, readonly string[]> = {
  none: [],
  core: ['core'],
  pif: ['interface', 'network_name'],
  sr: ['sr', 'sr_uuid', 'sr_name', 'sr_type'],
  vif: ['vif', 'network_name'],
  vbd_disk: ['device', 'vdi_name', 'sr_name', 'sr_type'],
  source_rrd: ['source'],
};
const labelsOf = (metric: string, kind: LabelKind) => [...(metric.startsWith('xcp_vm_') ? VM_RRD : HOST_RRD), ...KIND_LABELS[kind]];
const g = (metric: string, help: string, scale = 1, labels: LabelKind = 'none'): MetricRule => ({
  family: gauge(metric, help, labelsOf(metric, labels)),
  scale,
  labels,
});
/** A latency in µs, exported in seconds. */
const us = (metric: string, help: string, labels: LabelKind): MetricRule => ({ ...g(metric, help, 1, labels), divisor: 1e6 });
const c = (metric: string, help: string, scale = 1, labels: LabelKind = 'none'): MetricRule => ({
  family: counter(metric, help, labelsOf(metric, labels)),
  scale,
  labels,
});
/** Host power from rrdd (source="rrd") or from IPMI (the hardware collector: source="dcmi" or "psu"). */
export const HOST_POWER = gauge('xcp_host_power_consumption_watts', 'Host power consumption in watts', [...HOST_RRD, 'source']);
/** From rrdd's cpu_usage, or the mean of the vCPUs' where rrdd has none (XCP-ng 8.2). */
export const VM_CPU_USAGE = gauge('xcp_vm_cpu_usage', 'VM CPU usage across vCPUs (ratio 0-1)', VM_RRD);
const KiB = 1024;
const MiB = 1024 * 1024;

const HOST_EXACT: Record<string, MetricRule> = {
  loadavg: g('xcp_host_load_average', 'Host load average (1 minute)'),
  memory_free_kib: g('xcp_host_memory_free_bytes', 'Free host memory in bytes', KiB),
  memory_total_kib: g('xcp_host_memory_total_bytes', 'Total host memory in bytes', KiB),
  cpu_avg: g('xcp_host_cpu_average', 'Average host CPU usage across cores (ratio 0-1)'),
  pif_aggr_rx: g('xcp_host_network_aggregated_receive_bytes', 'Host network receive rate over all interfaces (bytes/second)'),
  pif_aggr_tx: g('xcp_host_network_aggregated_transmit_bytes', 'Host network transmit rate over all interfaces (bytes/second)'),
  // source="rrd": the hardware collector adds the same family from IPMI (source="dcmi" or "psu").
  'DCMI-power-reading': { family: HOST_POWER, scale: 1, labels: 'source_rrd' },
  hostload: g('xcp_host_load', 'Host load per physical CPU'),
  // rrdd reports these in bytes already (rrdp_squeezed.ml units "B"); XO multiplies by 1024 by mistake.
  memory_reclaimed: g('xcp_host_memory_reclaimed_bytes', 'Host memory reclaimed from guests by squeezed, in bytes'),
  memory_reclaimed_max: g('xcp_host_memory_reclaimed_max_bytes', 'Host memory that squeezed could reclaim from guests, in bytes'),
  running_vcpus: g('xcp_host_running_vcpus', 'Number of running vCPUs on the host'),
  xapi_memory_usage_kib: g('xcp_host_xapi_memory_usage_bytes', 'Memory allocated by the xapi daemon, in bytes', KiB),
  xapi_live_memory_kib: g('xcp_host_xapi_live_memory_bytes', 'Live memory used by the xapi daemon, in bytes', KiB),
  xapi_free_memory_kib: g('xcp_host_xapi_free_memory_bytes', 'Free memory available to the xapi daemon, in bytes', KiB),
  xapi_allocation_kib: c('xcp_host_xapi_allocation_bytes_total', 'Memory allocations made by the xapi daemon, in bytes', KiB),
  xapi_open_fds: g('xcp_host_xapi_open_fds', 'File descriptors held open by xapi'),
  pool_task_count: g('xcp_host_xapi_tasks', 'XAPI tasks on the host'),
  pool_session_count: g('xcp_host_xapi_sessions', 'XAPI sessions on the host'),
  pool_total_session_count: c('xcp_host_xapi_sessions_created_total', 'XAPI sessions created on the host'),
};

const HOST_PATTERNS: PatternRule[] = [
  { re: /^cpu(\d+)$/, ...g('xcp_host_cpu_core_usage', 'Host CPU usage per core (ratio 0-1)', 1, 'core') },
  { re: /^pif_(.+)_rx$/, ...c('xcp_host_network_receive_bytes_total', 'Bytes received by the host per interface', 1, 'pif') },
  { re: /^pif_(.+)_tx$/, ...c('xcp_host_network_transmit_bytes_total', 'Bytes transmitted by the host per interface', 1, 'pif') },
  { re: /^iops_read_([0-9a-f]{8})$/, ...g('xcp_host_disk_iops_read', 'Read requests per second per SR', 1, 'sr') },
  { re: /^iops_write_([0-9a-f]{8})$/, ...g('xcp_host_disk_iops_write', 'Write requests per second per SR', 1, 'sr') },
  // XO exports this as a gauge under a `_total` name; as for traffic, we keep the name and make it a true counter.
  { re: /^iops_total_([0-9a-f]{8})$/, ...c('xcp_host_disk_iops_total', 'I/O requests per SR (a counter: rate() gives IOPS)', 1, 'sr') },
  { re: /^io_throughput_read_([0-9a-f]{8})$/, ...g('xcp_host_disk_throughput_read_bytes', 'Read throughput per SR (bytes/second)', MiB, 'sr') },
  { re: /^io_throughput_write_([0-9a-f]{8})$/, ...g('xcp_host_disk_throughput_write_bytes', 'Write throughput per SR (bytes/second)', MiB, 'sr') },
  { re: /^io_throughput_total_([0-9a-f]{8})$/, ...g('xcp_host_disk_throughput_total_bytes', 'Total throughput per SR (bytes/second)', MiB, 'sr') },
  { re: /^read_latency_([0-9a-f]{8})$/, ...us('xcp_host_disk_read_latency_seconds', 'Read latency per SR in seconds', 'sr') },
  { re: /^write_latency_([0-9a-f]{8})$/, ...us('xcp_host_disk_write_latency_seconds', 'Write latency per SR in seconds', 'sr') },
  { re: /^latency_([0-9a-f]{8})$/, ...us('xcp_host_disk_latency_seconds', 'I/O latency per SR in seconds', 'sr') },
  { re: /^iowait_([0-9a-f]{8})$/, ...g('xcp_host_disk_iowait', 'Time spent waiting for I/O per SR (seconds/second)', 1, 'sr') },
];

const VM_EXACT: Record<string, MetricRule> = {
  memory: g('xcp_vm_memory_bytes', 'Memory assigned to the VM in bytes'),
  memory_internal_free: g('xcp_vm_memory_internal_free_bytes', 'Free memory inside the VM as its guest agent reports it, in bytes', KiB),
  memory_target: g('xcp_vm_memory_target_bytes', 'Memory target of the VM (balloon) in bytes'),
  cpu_usage: { family: VM_CPU_USAGE, scale: 1, labels: 'none' },
  runstate_fullrun: g('xcp_vm_runstate_fullrun', 'Fraction of time all vCPUs were running'),
  runstate_full_contention: g('xcp_vm_runstate_full_contention', 'Fraction of time all vCPUs were runnable but waiting'),
  runstate_partial_run: g('xcp_vm_runstate_partial_run', 'Fraction of time some vCPUs were running'),
  runstate_partial_contention: g('xcp_vm_runstate_partial_contention', 'Fraction of time some vCPUs were runnable but waiting'),
  runstate_concurrency_hazard: g('xcp_vm_runstate_concurrency_hazard', 'Fraction of time some vCPUs ran while others waited'),
  runstate_blocked: g('xcp_vm_runstate_blocked', 'Fraction of time all vCPUs were blocked or offline'),
};

const VBD = '([a-z]+[a-z0-9]*)';
const VM_PATTERNS: PatternRule[] = [
  { re: /^cpu(\d+)$/, ...g('xcp_vm_cpu_core_usage', 'VM CPU usage per vCPU (ratio 0-1)', 1, 'core') },
  { re: /^vif_(\d+)_rx$/, ...c('xcp_vm_network_receive_bytes_total', 'Bytes received by the VM per interface', 1, 'vif') },
  { re: /^vif_(\d+)_tx$/, ...c('xcp_vm_network_transmit_bytes_total', 'Bytes transmitted by the VM per interface', 1, 'vif') },
  { re: /^vif_(\d+)_rx_errors$/, ...c('xcp_vm_network_receive_errors_total', 'Receive errors per VM interface', 1, 'vif') },
  { re: /^vif_(\d+)_tx_errors$/, ...c('xcp_vm_network_transmit_errors_total', 'Transmit errors per VM interface', 1, 'vif') },
  // XO only accepts xvd + one letter; any device name rrdd reports (xvdaa, hda) is kept here.
  { re: new RegExp(`^vbd_${VBD}_read$`), ...c('xcp_vm_disk_read_bytes_total', 'Bytes read by the VM per disk', 1, 'vbd_disk') },
  { re: new RegExp(`^vbd_${VBD}_write$`), ...c('xcp_vm_disk_write_bytes_total', 'Bytes written by the VM per disk', 1, 'vbd_disk') },
  { re: new RegExp(`^vbd_${VBD}_iops_read$`), ...g('xcp_vm_disk_iops_read', 'Read requests per second per VM disk', 1, 'vbd_disk') },
  { re: new RegExp(`^vbd_${VBD}_iops_write$`), ...g('xcp_vm_disk_iops_write', 'Write requests per second per VM disk', 1, 'vbd_disk') },
  { re: new RegExp(`^vbd_${VBD}_iops_total$`), ...c('xcp_vm_disk_iops_total', 'I/O requests per VM disk (a counter: rate() gives IOPS)', 1, 'vbd_disk') },
  { re: new RegExp(`^vbd_${VBD}_read_latency$`), ...us('xcp_vm_disk_read_latency_seconds', 'Read latency per VM disk in seconds', 'vbd_disk') },
  { re: new RegExp(`^vbd_${VBD}_write_latency$`), ...us('xcp_vm_disk_write_latency_seconds', 'Write latency per VM disk in seconds', 'vbd_disk') },
  { re: new RegExp(`^vbd_${VBD}_latency$`), ...us('xcp_vm_disk_latency_seconds', 'I/O latency per VM disk in seconds', 'vbd_disk') },
  {
    re: new RegExp(`^vbd_${VBD}_io_throughput_read$`),
    ...g('xcp_vm_disk_throughput_read_bytes', 'Read throughput per VM disk (bytes/second)', MiB, 'vbd_disk'),
  },
  {
    re: new RegExp(`^vbd_${VBD}_io_throughput_write$`),
    ...g('xcp_vm_disk_throughput_write_bytes', 'Write throughput per VM disk (bytes/second)', MiB, 'vbd_disk'),
  },
  {
    re: new RegExp(`^vbd_${VBD}_io_throughput_total$`),
    ...g('xcp_vm_disk_throughput_total_bytes', 'Total throughput per VM disk (bytes/second)', MiB, 'vbd_disk'),
  },
  { re: new RegExp(`^vbd_${VBD}_iowait$`), ...g('xcp_vm_disk_iowait', 'Time spent waiting for I/O per VM disk (seconds/second)', 1, 'vbd_disk') },
  { re: new RegExp(`^vbd_${VBD}_inflight$`), ...g('xcp_vm_disk_inflight', 'I/O requests in flight per VM disk', 1, 'vbd_disk') },
  { re: new RegExp(`^vbd_${VBD}_avgqu_sz$`), ...g('xcp_vm_disk_queue_size', 'Average I/O queue size per VM disk', 1, 'vbd_disk') },
];

/** Looks names up once and remembers: the same few hundred names repeat across every VM and host. */
export class Catalogue {
  private readonly cache = new Map<string, Map<string, Mapped | null>>();

  map(objectType: string, name: string): Mapped | null {
    let byName = this.cache.get(objectType);
    if (!byName) this.cache.set(detach(objectType), (byName = new Map()));
    let hit = byName.get(name);
    if (hit === undefined) {
      hit = lookup(objectType, name);
      byName.set(detach(name), hit);
    }
    return hit;
  }
}

function lookup(objectType: string, name: string): Mapped | null {
  const [exact, patterns] = objectType === 'host' ? [HOST_EXACT, HOST_PATTERNS] : objectType === 'vm' ? [VM_EXACT, VM_PATTERNS] : [undefined, undefined];
  if (!exact || !patterns) return null;
  if (Object.hasOwn(exact, name)) return withFixedLabels(exact[name]!, '');
  for (const p of patterns) {
    const m = p.re.exec(name);
    if (m) return withFixedLabels(p, m[1]!);
  }
  return null;
}

/** The extra labels of the kinds that depend on nothing but what the rule captured. */
const FIXED_LABELS: Partial<Record<LabelKind, (key: string) => Record<string, string>>> = {
  none: () => ({}),
  core: (key) => ({ core: key }),
  source_rrd: () => ({ source: 'rrd' }),
};

function withFixedLabels(rule: MetricRule, key: string): Mapped {
  const fixed = FIXED_LABELS[rule.labels];
  return fixed ? { rule, key, fixedLabels: labelString(fixed(key)) } : { rule, key };
}

/** Every metric the catalogue can produce, for documentation and tests. */
export function catalogueMetrics(): MetricRule[] {
  return [...Object.values(HOST_EXACT), ...HOST_PATTERNS, ...Object.values(VM_EXACT), ...VM_PATTERNS];
}
