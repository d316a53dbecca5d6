// Pool master loss. Without XAPI HA a pool whose master is gone has no management API: nothing can be started.
// The exporter probes every member at its own address (xcp_host_toolstack_up: a member's HOST_IS_SLAVE counts) and
// says whether the master answers (xcp_pool_master_reachable). These alerts are exempt from PoolDisconnected's
// inhibition (rules/alertmanager.example.yml): they are what that disconnection means.
import { type RuleGroup, copyLabel, group, indent, sel } from '../rule.js';
import type { Values } from '../values.js';

export function masterGroup(v: Values): RuleGroup {
  const a = v.alerts;
  const m = (metric: string, ...matchers: string[]) => sel(metric, ...matchers, v.selector);
  // The pool's master answers nothing while at least one member's XAPI answers, and no member's /rrd_updates
  // answers: members check sessions in the master's database, so one that serves RRD still reaches the master —
  // then only the exporter lost it (a partition), and promoting a member would make two masters.
  const masterGoneMembersUp = `
${m('xcp_pool_master_reachable')} == 0
and on (pool_id) (max by (pool_id) (${m('xcp_host_toolstack_up')}) == 1)
unless on (pool_id) (max by (pool_id) (${m('xcp_host_rrd_up')}) == 1)`;
  return group(v, 'xcp-pool-master', [
    {
      // The recovery alert of a master loss: COMPUTE_HOST for the lost master, told apart by xcp_failure. The
      // master-failover workflow (fence, promote one member, recover_slaves, restart the VMs) needs the master's
      // identity, which the receiver must confirm from XAPI (the members' HOST_IS_SLAVE names its address).
      name: 'XcpPoolMasterLost',
      component: 'pool',
      notification: 'COMPUTE_HOST',
      labels: { xcp_failure: 'pool_master' },
      expr: `
max by (pool_id, pool_name, host_uuid, host_name) (
  ${indent(
    copyLabel(
      `
      ${m('xcp_host_toolstack_up')} == 0
      and on (pool_id, uuid) ${m('xcp_host_info', 'is_master="true"')}
      and on (pool_id) (${indent(masterGoneMembersUp, 6)})`,
      'host_uuid',
      'uuid',
    ),
    2,
  )}
)`,
      summary: 'The master of an XCP-ng pool does not answer while its members do.',
      description:
        'The XAPI of {{ $labels.host_name }} ({{ $labels.host_uuid }}), master of pool {{ $labels.pool_name }}, has not answered ' +
        `for ${a.XcpPoolMasterLost.for} while other hosts of the pool answer and none of them still reaches it. ` +
        'Without a master nothing in the pool can be started or moved.',
    },
    {
      // Two hosts accept logins as master: an old master that came back without seeing the new one (it checks for
      // other masters only when xapi starts, and skips hosts that do not answer then). Each has its own database
      // and may start the same VM.
      name: 'XcpPoolMasterConflict',
      component: 'pool',
      expr: `max by (pool_id, pool_name) (${m('xcp_pool_masters')}) > 1`,
      summary: 'Two hosts of an XCP-ng pool act as master.',
      description:
        'In pool {{ $labels.pool_name }}, {{ $value }} hosts have accepted logins as pool master for ' +
        `${a.XcpPoolMasterConflict.for}. Each has its own database and may start the same VMs: demote one now (see the runbook).`,
    },
    {
      name: 'XcpPoolMasterNotRecovered',
      component: 'pool',
      expr: `
max by (pool_id, pool_name) (
  ${indent(masterGoneMembersUp, 2)}
)`,
      summary: 'An XCP-ng pool has had no master for long.',
      description:
        `Pool {{ $labels.pool_name }} has had no answering master for ${a.XcpPoolMasterNotRecovered.for} although members ` +
        'answer: the automatic failover did not happen or did not finish. A person must promote a member (see the runbook).',
    },
  ]);
}
