// Host state and host resources.
import { type RuleGroup, copyLabel, group, lit, sel } from '../rule.js';
import type { Values } from '../values.js';

export function hostGroup(v: Values): RuleGroup {
  const a = v.alerts;
  const m = (metric: string, ...matchers: string[]) => sel(metric, ...matchers, v.selector);
  return group(v, 'xcp-host', [
    {
      // From the master's view (host_metrics.live), a series that stays present while the host is dead. Never
      // from the absence of the host's own RRD series: absent series resolve alerts. Aggregated to the identity
      // labels so that two exporters (or two jobs) scraping one pool raise one recovery, not two.
      name: 'XcpHostDown',
      component: 'host',
      notification: 'COMPUTE_HOST',
      // Not while the pool is disconnected: the master's view is stale then, and a lost master is
      // XcpPoolMasterLost's (the exporter reports a host that answers nothing as not live).
      expr: `
max by (pool_id, pool_name, host_uuid, host_name) (
  ${copyLabel(m('xcp_host_live'), 'host_uuid', 'uuid')}
) == 0
unless on (pool_id) ${m('xcp_pool_connected')} == 0`,
      summary: 'An XCP-ng host is down.',
      description:
        'The master of pool {{ $labels.pool_name }} has reported host {{ $labels.host_name }} ({{ $labels.host_uuid }}) ' +
        `as not live for ${a.XcpHostDown.for}. Its VMs are not running.`,
    },
    {
      name: 'XcpHostDisabled',
      component: 'host',
      expr: copyLabel(
        `
${m('xcp_host_enabled')} == 0
and on (pool_id, uuid)
${m('xcp_host_live')} == 1`,
        'host_uuid',
        'uuid',
      ),
      summary: 'An XCP-ng host has been disabled for long.',
      description:
        'Host {{ $labels.host_name }} (pool {{ $labels.pool_name }}) is live but has been disabled for ' +
        `${a.XcpHostDisabled.for}: no VM can start on it or migrate to it. Maintenance mode left on?`,
    },
    {
      // XO: `xcp_host_cpu_average > 0.9` for 5m; one sample under the threshold restarted the wait, so a busy host
      // alternated between pending and firing. Averaged here.
      name: 'HighHostCPU',
      component: 'host',
      expr: copyLabel(`avg_over_time(${m('xcp_host_cpu_average')}[${a.HighHostCPU.smoothing}]) > ${lit(a.HighHostCPU.threshold)}`, 'host_uuid', 'uuid'),
      summary: 'An XCP-ng host has high CPU usage.',
      description:
        'Host {{ $labels.host_name }} (pool {{ $labels.pool_name }}) has used {{ $value | humanizePercentage }} of its CPUs ' +
        `(average over ${a.HighHostCPU.smoothing}) for ${a.HighHostCPU.for}.`,
    },
    {
      // XO's expression is kept. On Xen, "used" memory is mostly what the VMs were given: this is a capacity
      // alert (no room to start or evacuate VMs to this host), hence the longer `for`.
      name: 'HighHostMemory',
      component: 'host',
      expr: copyLabel(
        `(1 - ${m('xcp_host_memory_free_bytes')} / ${m('xcp_host_memory_total_bytes')}) > ${lit(a.HighHostMemory.threshold)}`,
        'host_uuid',
        'uuid',
      ),
      summary: 'An XCP-ng host has little free memory.',
      description:
        'Host {{ $labels.host_name }} (pool {{ $labels.pool_name }}) has {{ $value | humanizePercentage }} of its memory ' +
        `in use for ${a.HighHostMemory.for}: VMs may fail to start on it or to be evacuated to it.`,
    },
    {
      // xcp-rrdd "hostload": running or runnable vCPUs per physical CPU; above 1, vCPUs wait for a CPU.
      name: 'XcpHostHighLoad',
      component: 'host',
      expr: copyLabel(`avg_over_time(${m('xcp_host_load')}[${a.XcpHostHighLoad.smoothing}]) > ${lit(a.XcpHostHighLoad.threshold)}`, 'host_uuid', 'uuid'),
      summary: 'An XCP-ng host is overloaded.',
      description:
        'Host {{ $labels.host_name }} (pool {{ $labels.pool_name }}) has had {{ $value | printf "%.2f" }} runnable vCPUs ' +
        `per physical CPU (average over ${a.XcpHostHighLoad.smoothing}) for ${a.XcpHostHighLoad.for}: VMs wait for CPU time.`,
    },
  ]);
}
