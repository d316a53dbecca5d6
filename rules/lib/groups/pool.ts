// Pool connection and the exporter's own health. The exporter alerts use Prometheus' `up`, which carries no
// pool label: they are never inhibited by a pool alert.
import { type RuleGroup, copyLabel, group, lit, sel } from '../rule.js';
import type { Values } from '../values.js';

export function poolGroup(v: Values): RuleGroup {
  const a = v.alerts;
  const m = (metric: string, ...matchers: string[]) => sel(metric, ...matchers, v.selector);
  const up = sel('up', v.exporter_job_selector);
  return group(v, 'xcp-pool-exporter', [
    {
      // XO's rule was `xcp_pool_connected == 0`, which never fires there: XO drops the series of a disconnected
      // pool. Our exporter keeps the series at 0 for a configured pool it cannot reach, so the rule works as meant.
      name: 'PoolDisconnected',
      component: 'pool',
      expr: `${m('xcp_pool_connected')} == 0`,
      summary: 'An XCP-ng pool is disconnected.',
      description:
        'xcp-sentinel cannot reach the XAPI of pool {{ $labels.pool_name }}: the pool master is down or unreachable, ' +
        'or the credentials or TLS settings are wrong. Its metrics are stale and its other alerts are inhibited.',
    },
    {
      name: 'XcpExporterDown',
      component: 'exporter',
      expr: `${up} == 0`,
      summary: 'The xcp-sentinel exporter cannot be scraped.',
      description:
        'Prometheus cannot scrape {{ $labels.instance }} (job {{ $labels.job }}). No XCP-ng metrics come from it, ' +
        'so none of its pools can raise an alert.',
    },
    {
      // `up == 0` cannot fire when there is no target at all (job deleted, service discovery broken).
      name: 'XcpExporterNotScraped',
      component: 'exporter',
      expr: `absent(${up})`,
      summary: 'Prometheus does not scrape the xcp-sentinel exporter.',
      description:
        `No target of the exporter's scrape job (${v.exporter_job_selector}) has been scraped for ` +
        `${a.XcpExporterNotScraped.for}: check the scrape configuration. No XCP-ng alert can fire.`,
    },
    {
      name: 'XcpExporterCollectorFailing',
      component: 'exporter',
      expr: `${m('xcp_exporter_collector_up')} == 0`,
      summary: 'An xcp-sentinel collector keeps failing.',
      description:
        // The exporter's own `self` collector has no pool: say so rather than "of pool ".
        'The {{ $labels.collector }} collector {{ if $labels.pool_name }}of pool {{ $labels.pool_name }}' +
        '{{ else }}of the exporter itself{{ end }} has failed every run for ' +
        `${a.XcpExporterCollectorFailing.for}; its metrics are stale. ` +
        'xcp_exporter_collector_errors_total{kind} and the exporter log say why.',
    },
    {
      // Only while the host's /rrd_updates answers: when it does not, XcpToolstackDown speaks instead.
      name: 'XcpRrdDataStale',
      component: 'exporter',
      expr: copyLabel(
        `
(time() - ${m('xcp_exporter_rrd_last_row_timestamp_seconds')}) > ${lit(a.XcpRrdDataStale.max_age_seconds)}
and on (pool_id, uuid)
${m('xcp_host_rrd_up')} == 1`,
        'host_uuid',
        'uuid',
      ),
      summary: 'RRD data of an XCP-ng host is stale.',
      description:
        'The newest RRD row of host {{ $labels.host_name }} (pool {{ $labels.pool_name }}) is ' +
        '{{ $value | humanizeDuration }} old although its /rrd_updates answers: xcp-rrdd is stuck or the host clock is off.',
    },
  ]);
}
