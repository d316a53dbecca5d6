// Storage: latency seen by the hosts, SR capacity, PBDs. Local SRs carry their host (host_id → host_uuid),
// shared SRs carry none and are therefore never inhibited by one host's failure.
import { type RuleGroup, copyLabel, group, lit, sel, setLabel } from '../rule.js';
import { type Values, durationSeconds } from '../values.js';

export function storageGroup(v: Values): RuleGroup {
  const a = v.alerts;
  const m = (metric: string, ...matchers: string[]) => sel(metric, ...matchers, v.sr_selector, v.selector);
  const lat = a.HighDiskLatency;
  const latency = (dir: 'read' | 'write') => `
  (
    ${setLabel(`avg_over_time(${m(`xcp_host_disk_${dir}_latency_seconds`)}[${lat.smoothing}]) > ${lit(lat.threshold_seconds)}`, 'direction', dir)}
    and on (pool_id, uuid, sr)
    avg_over_time(${m(`xcp_host_disk_iops_${dir}`)}[${lat.smoothing}]) > ${lit(lat.min_iops)}
  )`;
  const fill = a.XcpSrFillingUp;
  return group(v, 'xcp-storage', [
    {
      // XO: `read_latency > 0.05 or write_latency > 0.05` for 2m. Fixed: (1) a `direction` label, else `or`
      // silently drops the write series whenever read is also high; (2) an IOPS floor, since an average over a
      // handful of requests is noise; (3) averaged, and a longer `for`, so it does not flap.
      name: 'HighDiskLatency',
      component: 'storage',
      expr: copyLabel(`${latency('read')}\n  or${latency('write')}\n`, 'host_uuid', 'uuid'),
      summary: 'High disk latency on an XCP-ng storage repository.',
      description:
        'Host {{ $labels.host_name }} (pool {{ $labels.pool_name }}) sees an average {{ $labels.direction }} latency of ' +
        `{{ $value | humanizeDuration }} on SR {{ $labels.sr_name }} (average over ${lat.smoothing}) for ${lat.for}.`,
    },
    {
      name: 'XcpSrFillingUp',
      component: 'storage',
      expr: copyLabel(
        `
  ${m('xcp_sr_physical_usage_ratio')} > ${lit(fill.min_ratio)}
  and
  predict_linear(${m('xcp_sr_physical_usage_bytes')}[${fill.lookback}], ${durationSeconds(fill.horizon)}) > ${m('xcp_sr_physical_size_bytes')}
`,
        'host_uuid',
        'host_id',
      ),
      summary: 'An XCP-ng storage repository is filling up.',
      description:
        'SR {{ $labels.sr_name }} (pool {{ $labels.pool_name }}) is {{ $value | humanizePercentage }} full and, at the rate of ' +
        `the last ${fill.lookback}, will be full within ${fill.horizon}.`,
    },
    {
      name: 'XcpSrAlmostFull',
      component: 'storage',
      expr: copyLabel(`${m('xcp_sr_physical_usage_ratio')} > ${lit(a.XcpSrAlmostFull.threshold)}`, 'host_uuid', 'host_id'),
      summary: 'An XCP-ng storage repository is almost full.',
      description:
        'SR {{ $labels.sr_name }} (pool {{ $labels.pool_name }}) is {{ $value | humanizePercentage }} full: ' +
        'thin-provisioned disks and snapshots will soon fail to grow.',
    },
    {
      name: 'XcpPbdUnplugged',
      component: 'storage',
      expr: copyLabel(`${m('xcp_pbd_attached')} == 0`, 'host_uuid', 'host_id'),
      summary: 'An XCP-ng storage repository is unplugged from a host.',
      description:
        'SR {{ $labels.sr_name }} is not plugged on host {{ $labels.host_name }} (pool {{ $labels.pool_name }}): VMs with disks ' +
        'on it cannot run on, start on or migrate to that host.',
    },
  ]);
}
