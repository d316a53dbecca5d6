// Xen Orchestra's performance alerts that the host and VM groups do not already cover: VM memory, network
// bandwidth (host, VM), VM disk IO, SR IO. XO's perf-alert plugin computes VM memory itself
// (xen-orchestra packages/xo-server-perf-alert/src/index.js); bandwidth and IO are XAPI perfmon's variables
// (xen-api python3/bin/perfmon: network_usage, disk_usage, sr_io_throughput_total_per_host), which sum the same
// rrdd sources our metrics come from. Notify only: no xcp_notification_type, so never a recovery.
import { type RuleGroup, copyLabel, group, lit, sel } from '../rule.js';
import type { Values } from '../values.js';
// vm_uuid / host_uuid as on the VM group's alerts, so that XcpHostDown inhibits them.
import { vmLabels } from './vm.js';

const VM = 'pool_id, pool_name, uuid, vm_name, host_id, host_name';

export function performanceGroup(v: Values): RuleGroup {
  const a = v.alerts;
  const m = (metric: string, ...matchers: string[]) => sel(metric, ...matchers, v.selector);
  const guest = 'is_control_domain!="true"';
  /** Bytes/s of a VM over all its devices, from two rrdd byte counters (perfmon sums the same sources). */
  const vmRate = (counters: [string, string], window: string) => counters.map((c) => `sum by (${VM}) (rate(${m(c, guest)}[${window}]))`).join('\n  + ');
  const mem = a.XcpVmHighMemory;
  const hostNet = a.XcpHostHighNetwork;
  const vmNet = a.XcpVmHighNetwork;
  const disk = a.XcpVmHighDiskIo;
  const sr = a.XcpSrHighIo;
  return group(v, 'xcp-performance', [
    {
      // XO's memoryUsage, averaged: (memory - memory_internal_free) / memory. A VM without a guest agent has no
      // memory_internal_free (XO counts it as 0 % used; here it has no series and stays silent). dom0 left out.
      name: 'XcpVmHighMemory',
      component: 'vm',
      expr: vmLabels(`
  1 - avg_over_time(${m('xcp_vm_memory_internal_free_bytes', guest)}[${mem.smoothing}])
      / avg_over_time(${m('xcp_vm_memory_bytes', guest)}[${mem.smoothing}])
  > ${lit(mem.threshold)}`),
      summary: 'A VM is short of memory.',
      description:
        'VM {{ $labels.vm_name }} on host {{ $labels.host_name }} (pool {{ $labels.pool_name }}) has had ' +
        `{{ $value | humanizePercentage }} of its memory in use, as its guest agent reports it (average over ${mem.smoothing}), for ${mem.for}.`,
    },
    {
      // rrdd's pif_aggr_rx/tx: bytes per second on all physical interfaces (bonds and VLANs not counted twice).
      name: 'XcpHostHighNetwork',
      component: 'host',
      expr: copyLabel(
        `
  avg_over_time(${m('xcp_host_network_aggregated_receive_bytes')}[${hostNet.smoothing}])
  + avg_over_time(${m('xcp_host_network_aggregated_transmit_bytes')}[${hostNet.smoothing}])
  > ${lit(hostNet.threshold_bytes_per_second)}`,
        'host_uuid',
        'uuid',
      ),
      summary: 'An XCP-ng host has sustained high network traffic.',
      description:
        'Host {{ $labels.host_name }} (pool {{ $labels.pool_name }}) has received and sent {{ $value | humanize }}B/s on its ' +
        `physical interfaces (average over ${hostNet.smoothing}) for ${hostNet.for}.`,
    },
    {
      name: 'XcpVmHighNetwork',
      component: 'vm',
      expr: vmLabels(`
(
  ${vmRate(['xcp_vm_network_receive_bytes_total', 'xcp_vm_network_transmit_bytes_total'], vmNet.smoothing)}
) > ${lit(vmNet.threshold_bytes_per_second)}`),
      summary: 'A VM has sustained high network traffic.',
      description:
        'VM {{ $labels.vm_name }} on host {{ $labels.host_name }} (pool {{ $labels.pool_name }}) has received and sent ' +
        `{{ $value | humanize }}B/s on its virtual interfaces (average over ${vmNet.smoothing}) for ${vmNet.for}.`,
    },
    {
      name: 'XcpVmHighDiskIo',
      component: 'vm',
      expr: vmLabels(`
(
  ${vmRate(['xcp_vm_disk_read_bytes_total', 'xcp_vm_disk_write_bytes_total'], disk.smoothing)}
) > ${lit(disk.threshold_bytes_per_second)}`),
      summary: 'A VM has sustained high disk throughput.',
      description:
        'VM {{ $labels.vm_name }} on host {{ $labels.host_name }} (pool {{ $labels.pool_name }}) has read and written ' +
        `{{ $value | humanize }}B/s on its disks (average over ${disk.smoothing}) for ${disk.for}.`,
    },
    {
      // Per host and SR, as XAPI's sr_io_throughput_total_per_host alarms (rrdd io_throughput_total_<sr>): the
      // host's share of a shared SR; the runbook sums it over the pool.
      name: 'XcpSrHighIo',
      component: 'storage',
      expr: copyLabel(
        `avg_over_time(${sel('xcp_host_disk_throughput_total_bytes', v.sr_selector, v.selector)}[${sr.smoothing}]) > ${lit(sr.threshold_bytes_per_second)}`,
        'host_uuid',
        'uuid',
      ),
      summary: 'A host has sustained high throughput on an XCP-ng storage repository.',
      description:
        'Host {{ $labels.host_name }} (pool {{ $labels.pool_name }}) has read and written {{ $value | humanize }}B/s on SR ' +
        `{{ $labels.sr_name }} (average over ${sr.smoothing}) for ${sr.for}.`,
    },
  ]);
}
