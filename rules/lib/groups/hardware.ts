// Hardware: SMART (per disk, `device`) and IPMI (per BMC sensor, `sensor`). The BMC's own sensor states
// (thresholds set by the vendor) are preferred to hard-coded values; fans and PSUs have their own alerts and are
// left out of the generic "sensor critical" one so that one fault raises one alert.
import { type RuleGroup, copyLabel, group, indent, lit, sel, setLabel } from '../rule.js';
import type { Values } from '../values.js';

const HOST_SENSOR = 'pool_id, pool_name, host_uuid, host_name, sensor';

export function hardwareGroup(v: Values): RuleGroup {
  const a = v.alerts;
  const disk = (metric: string, ...matchers: string[]) => sel(metric, ...matchers, v.disk_selector, v.selector);
  const ipmi = (metric: string, ...matchers: string[]) => sel(metric, ...matchers, v.ipmi_selector, v.selector);
  const hostUuid = (expr: string) => copyLabel(expr, 'host_uuid', 'uuid');
  const win = a.XcpDiskSectorsGrowing.window;
  // A gauge that can also go down (pending sectors are remapped or rewritten): "higher than its minimum over the
  // window" fires on growth and clears one window after the growth stops. increase() would read a drop as a
  // counter reset and report growth.
  const growing = (metric: string, attribute: string) => setLabel(`${disk(metric)} > min_over_time(${disk(metric)}[${win}])`, 'attribute', attribute);
  const { type_regex: fanRe } = a.XcpFanFailed;
  const { sensor_regex: psuRe, type_regex: psuTypeRe } = a.XcpPsuFailed;
  const fanType = `type=~"${fanRe}"`;
  const psuSensor = `sensor=~"${psuRe}"`;
  const psuType = `type=~"${psuTypeRe}"`;
  const notFanOrPsu = [`type!~"${fanRe}"`, `type!~"${psuTypeRe}"`, `sensor!~"${psuRe}"`];
  return group(v, 'xcp-hardware', [
    {
      name: 'XcpDiskSmartUnhealthy',
      component: 'hardware',
      expr: hostUuid(`${disk('xcp_host_disk_smart_healthy')} == 0`),
      summary: 'A disk fails its SMART health check.',
      description:
        'Disk {{ $labels.device }} of host {{ $labels.host_name }} (pool {{ $labels.pool_name }}) reports SMART health FAILED: ' +
        'it is failing or about to. Replace it.',
    },
    {
      name: 'XcpDiskSectorsGrowing',
      component: 'hardware',
      expr: hostUuid(`
  ${growing('xcp_host_disk_reallocated_sectors', 'reallocated_sectors')}
  or
  ${growing('xcp_host_disk_pending_sectors', 'pending_sectors')}
`),
      summary: 'A disk keeps losing sectors.',
      description:
        'The {{ $labels.attribute }} count of disk {{ $labels.device }} on host {{ $labels.host_name }} (pool {{ $labels.pool_name }}) ' +
        `has grown within ${win} and is now {{ $value }}.`,
    },
    {
      name: 'XcpNvmeWearHigh',
      component: 'hardware',
      expr: hostUuid(`${disk('xcp_host_disk_nvme_percentage_used_ratio')} >= ${lit(a.XcpNvmeWearHigh.threshold)}`),
      summary: 'An NVMe drive is wearing out.',
      description:
        'NVMe drive {{ $labels.device }} of host {{ $labels.host_name }} (pool {{ $labels.pool_name }}) has used ' +
        '{{ $value | humanizePercentage }} of its rated endurance.',
    },
    {
      name: 'XcpDiskTemperatureHigh',
      component: 'hardware',
      expr: hostUuid(
        `avg_over_time(${disk('xcp_host_disk_temperature_celsius')}[${a.XcpDiskTemperatureHigh.smoothing}]) > ${lit(a.XcpDiskTemperatureHigh.threshold_celsius)}`,
      ),
      summary: 'A disk is hot.',
      description:
        'Disk {{ $labels.device }} of host {{ $labels.host_name }} (pool {{ $labels.pool_name }}) has been at ' +
        `{{ $value | printf "%.0f" }} °C (average over ${a.XcpDiskTemperatureHigh.smoothing}) for ${a.XcpDiskTemperatureHigh.for}.`,
    },
    {
      name: 'XcpIpmiSensorCritical',
      component: 'hardware',
      expr: hostUuid(`${ipmi('xcp_host_ipmi_sensor_state', ...notFanOrPsu)} == 2`),
      summary: 'A BMC sensor is in critical state.',
      description:
        'Sensor {{ $labels.sensor }} ({{ $labels.type }}) of host {{ $labels.host_name }} (pool {{ $labels.pool_name }}) is ' +
        'critical according to the BMC.',
    },
    {
      name: 'XcpFanFailed',
      component: 'hardware',
      expr: `
max by (${HOST_SENSOR}) (
  ${indent(
    hostUuid(`
    ${ipmi('xcp_host_ipmi_fan_speed_rpm')} <= ${lit(a.XcpFanFailed.min_rpm)}
    or
    ${ipmi('xcp_host_ipmi_sensor_state', fanType)} == 2
  `),
    2,
  )}
)`,
      summary: 'A fan has failed.',
      description:
        'Fan {{ $labels.sensor }} of host {{ $labels.host_name }} (pool {{ $labels.pool_name }}) has stopped or is critical ' + 'according to the BMC.',
    },
    {
      name: 'XcpPsuFailed',
      component: 'hardware',
      expr: `
max by (${HOST_SENSOR}) (
  ${indent(
    hostUuid(`
    ${ipmi('xcp_host_ipmi_sensor_state', psuSensor)} == 2
    or
    ${ipmi('xcp_host_ipmi_sensor_state', psuType)} == 2
  `),
    2,
  )}
)`,
      summary: 'A power supply has failed.',
      description:
        'Power supply sensor {{ $labels.sensor }} of host {{ $labels.host_name }} (pool {{ $labels.pool_name }}) is critical: ' +
        'the host has lost power redundancy or is about to lose power.',
    },
    {
      name: 'XcpInletTemperatureHigh',
      component: 'hardware',
      expr: hostUuid(
        `${ipmi('xcp_host_ipmi_temperature_celsius', `sensor=~"${a.XcpInletTemperatureHigh.sensor_regex}"`)} > ${lit(a.XcpInletTemperatureHigh.threshold_celsius)}`,
      ),
      summary: 'The air entering a host is too hot.',
      description:
        'Inlet sensor {{ $labels.sensor }} of host {{ $labels.host_name }} (pool {{ $labels.pool_name }}) reads ' +
        `{{ $value | printf "%.0f" }} °C for ${a.XcpInletTemperatureHigh.for}: check the room's cooling and airflow.`,
    },
  ]);
}
