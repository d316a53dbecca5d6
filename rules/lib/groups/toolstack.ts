// The toolstack (xapi, xcp-rrdd) of a live host. /rrd_updates is served by the host's own xapi, so a host whose
// handler does not answer while the master still sees it live has a stuck or dead toolstack.
import { type RuleGroup, copyLabel, group, indent, sel } from '../rule.js';
import type { Values } from '../values.js';

export function toolstackGroup(v: Values): RuleGroup {
  const a = v.alerts;
  const m = (metric: string, ...matchers: string[]) => sel(metric, ...matchers, v.selector);
  return group(v, 'xcp-toolstack', [
    {
      // The last `and`: at least one host of the pool answers, i.e. the exporter can reach the pool's RRD
      // handlers at all. When none answers, the fault is on the exporter's side (XcpExporterCollectorFailing).
      name: 'XcpToolstackDown',
      component: 'toolstack',
      notification: 'COMPUTE_PROCESS',
      labels: { process_name: 'xapi' },
      expr: `
max by (pool_id, pool_name, host_uuid, host_name) (
  ${indent(
    copyLabel(
      `
      ${m('xcp_host_rrd_up')} == 0
      and on (pool_id, uuid) ${m('xcp_host_live')} == 1
      and on (pool_id) (max by (pool_id) (${m('xcp_host_rrd_up')}) == 1)`,
      'host_uuid',
      'uuid',
    ),
    2,
  )}
)`,
      summary: 'The toolstack of a live XCP-ng host does not answer.',
      description:
        'The master of pool {{ $labels.pool_name }} sees host {{ $labels.host_name }} ({{ $labels.host_uuid }}) as live, but ' +
        `the host's own XAPI (/rrd_updates) has not answered for ${a.XcpToolstackDown.for}.`,
    },
  ]);
}
