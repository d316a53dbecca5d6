// Power: the site's UPS, read through Network UPS Tools by DRuggeri/nut_exporter (github.com/DRuggeri/nut_exporter,
// metric namespace network_ups_tools), and the hosts' own power supplies (IPMI, our exporter). The alerts that start
// the emergency shutdown (XCP_EMERGENCY_SHUTDOWN) are per pool. nut_exporter metrics used:
//   network_ups_tools_ups_status{flag="OB"}   1 while the UPS runs on battery, else 0 (NUT's ups.status flags OL, OB,
//                                             LB …; the exporter exports every known flag, 0 when not set)
//   network_ups_tools_ups_status{flag="LB"}   1 when the UPS signals low battery
//   network_ups_tools_battery_runtime         NUT battery.runtime: seconds of runtime left (add battery.runtime to
//                                             the exporter's --nut.vars_enable: it is not in its default list)
// The UPS scrape target must carry a pool_name label (static_configs labels: one target per UPS and pool).
import { type RuleGroup, group, indent, lit, sel } from '../rule.js';
import type { Values } from '../values.js';

/** The UPS series of one scrape target belong together (one UPS per target; `ups` when the scrape config sets it). */
const SAME_UPS = 'on (job, instance, ups)';

export function powerGroup(v: Values): RuleGroup {
  const a = v.alerts;
  const ups = (metric: string, ...matchers: string[]) => sel(metric, ...matchers, v.ups_selector);
  const onBattery = `${ups('network_ups_tools_ups_status', 'flag="OB"')} == 1`;
  const ipmi = (...matchers: string[]) => sel('xcp_host_ipmi_sensor_state', ...matchers, v.ipmi_selector, v.selector);
  const { sensor_regex: psuRe, type_regex: psuTypeRe } = a.XcpPsuFailed;
  // Hosts (by uuid) of each pool with at least one PSU sensor critical.
  const psuDown = `max by (pool_id, pool_name, uuid) (
  ${ipmi(`sensor=~"${psuRe}"`)} == 2
  or
  ${ipmi(`type=~"${psuTypeRe}"`)} == 2
)`;
  return group(v, 'xcp-power', [
    {
      name: 'XcpUpsOnBattery',
      component: 'power',
      expr: `max by (pool_name, instance, ups) (${onBattery})`,
      summary: 'A UPS runs on battery.',
      description:
        'UPS {{ $labels.ups }}{{ $labels.instance }} of pool {{ $labels.pool_name }} has been on battery for ' +
        `${a.XcpUpsOnBattery.for}: mains power is lost. The emergency shutdown starts when its runtime drops below ` +
        `${a.XcpUpsRuntimeLow.threshold_seconds} s (XcpUpsRuntimeLow).`,
    },
    {
      // The value is the runtime left (0 when the UPS signals low battery without a runtime): the receiver takes
      // the runtime_seconds annotation as the time budget of the shutdown.
      name: 'XcpUpsRuntimeLow',
      component: 'power',
      notification: 'XCP_EMERGENCY_SHUTDOWN',
      expr: `
min by (pool_name) (
  ${ups('network_ups_tools_battery_runtime')} < ${lit(a.XcpUpsRuntimeLow.threshold_seconds)}
  and ${SAME_UPS}
  ${onBattery}
)
or
min by (pool_name) (
  ${ups('network_ups_tools_ups_status', 'flag="LB"')} == 1
  and ${SAME_UPS}
  ${onBattery}
) * 0`,
      summary: 'A UPS on battery is about to run out: the pool is shut down.',
      description:
        'A UPS of pool {{ $labels.pool_name }} runs on battery with {{ $value }} s of runtime left (0: it signals low ' +
        'battery): its VMs are suspended and its hosts halted (emergency shutdown); they resume when the alert resolves.',
      annotations: { runtime_seconds: '{{ $value }}' },
    },
    {
      // Every host whose BMC answers has a critical PSU at once (and at least min_hosts of them): a lost feed, not one
      // failed PSU (XcpPsuFailed). Behind a UPS the PSUs keep their input: this sees the feed that bypasses it.
      name: 'XcpPoolPowerInputLost',
      component: 'power',
      notification: 'XCP_EMERGENCY_SHUTDOWN',
      expr: `
(
  count by (pool_id, pool_name) (
    ${indent(psuDown, 4)}
  ) >= ${lit(a.XcpPoolPowerInputLost.min_hosts)}
)
and on (pool_id)
(
  count by (pool_id) (
    ${indent(psuDown, 4)}
  )
  >= on (pool_id)
  count by (pool_id) (${sel('xcp_host_ipmi_up', v.selector)} == 1)
)`,
      summary: 'Every host of a pool has lost a power supply input.',
      description:
        '{{ $value }} hosts of pool {{ $labels.pool_name }} — every one whose BMC answers — report a critical power supply: a power ' +
        `feed is lost.${a.XcpPoolPowerInputLost.recovery ? ' The pool is shut down (emergency shutdown); it resumes when the alert resolves.' : ''}`,
    },
  ]);
}
