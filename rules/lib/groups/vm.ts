// VM state and VM resources. VM alerts carry vm_uuid/vm_name and the host they run (or last ran) on as
// host_uuid/host_name, so that a host-down alert can inhibit them.
import { type RuleGroup, copyLabel, group, indent, lit, sel } from '../rule.js';
import type { Values } from '../values.js';

/** `uuid` → `vm_uuid`, `host_id` → `host_uuid`. */
const vmLabels = (expr: string) => copyLabel(copyLabel(expr, 'vm_uuid', 'uuid'), 'host_uuid', 'host_id');
const VM_IDENTITY = 'pool_id, pool_name, vm_uuid, vm_name, host_uuid, host_name';

export function vmGroup(v: Values): RuleGroup {
  const a = v.alerts;
  const m = (metric: string, ...matchers: string[]) => sel(metric, ...matchers, v.selector);
  const protectedVms = m('xcp_vm_info', v.protected_vm_selector);
  const lookback = a.XcpVmHaltedUnexpectedly.lookback;
  return group(v, 'xcp-vm', [
    {
      // "Unexpected" = the VM is halted now, it is protected (it should run), and it was running within the
      // lookback: a transition, not a VM that has been off for days. The newest xcp_vm_uptime_seconds series
      // (one per resident host) gives the host it last ran on, so the alert carries that host and is inhibited
      // by that host's XcpHostDown (the host workflow restarts those VMs). See the runbook for why.
      name: 'XcpVmHaltedUnexpectedly',
      component: 'vm',
      notification: 'COMPUTE_INSTANCE',
      // The receiver starts a halted VM; told "heartbeat", it would only reboot a running one.
      labels: { xcp_instance_event: 'crashed' },
      expr: `
max by (${VM_IDENTITY}) (
  ${indent(vmLabels(`
    ${m('xcp_vm_status', 'power_state=~"(?i)halted"')}
    * on (pool_id, uuid) group_left ()
      max by (pool_id, uuid) (${protectedVms})
    * on (pool_id, uuid) group_left (host_id, host_name)
      (0 * topk by (pool_id, uuid) (1, max_over_time(timestamp(${m('xcp_vm_uptime_seconds')})[${lookback}:1m])) + 1)
  `), 2)}
)`,
      summary: 'A protected VM halted unexpectedly.',
      description:
        'VM {{ $labels.vm_name }} ({{ $labels.vm_uuid }}, pool {{ $labels.pool_name }}) should run (protected) but has been ' +
        `halted for ${a.XcpVmHaltedUnexpectedly.for}; it last ran on host {{ $labels.host_name }}.`,
    },
    {
      // Only protected VMs: a dead guest agent in an unprotected VM is not worth a hard reboot. VMs on a dead
      // host are the host workflow's (their agent is silent too).
      name: 'XcpVmGuestHeartbeatLost',
      component: 'vm',
      notification: 'COMPUTE_INSTANCE',
      // A hung guest: the receiver hard-reboots it if it still runs, and leaves it alone if it was shut down since.
      labels: { xcp_instance_event: 'heartbeat' },
      expr: `
max by (${VM_IDENTITY}) (
  ${indent(vmLabels(`
    ${m('xcp_vm_guest_heartbeat_age_seconds')} > ${lit(a.XcpVmGuestHeartbeatLost.max_age_seconds)}
    and on (pool_id, uuid) ${protectedVms}
    and on (pool_id, uuid) ${m('xcp_vm_status', 'power_state=~"(?i)running"')}
    unless on (pool_id, uuid) ${m('xcp_vm_resident_host_live')} == 0
  `), 2)}
)`,
      summary: 'The guest agent of a protected VM stopped reporting.',
      description:
        'VM {{ $labels.vm_name }} ({{ $labels.vm_uuid }}) on host {{ $labels.host_name }} (pool {{ $labels.pool_name }}) is running ' +
        'but its guest agent last reported {{ $value | humanizeDuration }} ago: the guest is hung or crashed.',
    },
    {
      // XO: `xcp_vm_cpu_usage > 0.95` for 10m, which included dom0 (a host matter) and restarted on every dip.
      name: 'VMHighCPU',
      component: 'vm',
      expr: vmLabels(
        `avg_over_time(${m('xcp_vm_cpu_usage', 'is_control_domain!="true"')}[${a.VMHighCPU.smoothing}]) > ${lit(a.VMHighCPU.threshold)}`,
      ),
      summary: 'A VM has sustained high CPU usage.',
      description:
        'VM {{ $labels.vm_name }} on host {{ $labels.host_name }} (pool {{ $labels.pool_name }}) has used ' +
        `{{ $value | humanizePercentage }} of its vCPUs (average over ${a.VMHighCPU.smoothing}) for ${a.VMHighCPU.for}.`,
    },
    {
      // The escalation of a host failure: the host workflow should have moved these VMs by now. Deliberately not
      // inhibited by XcpHostDown (see alertmanager.example.yml). dom0 of the dead host is excluded: it cannot move.
      name: 'XcpVmOnDeadHost',
      component: 'vm',
      expr: vmLabels(`
  ${m('xcp_vm_resident_host_live')} == 0
  unless on (pool_id, uuid) ${m('xcp_vm_info', 'is_control_domain="true"')}
`),
      summary: 'A VM is still resident on a dead host.',
      description:
        'VM {{ $labels.vm_name }} ({{ $labels.vm_uuid }}) has been resident on dead host {{ $labels.host_name }} ' +
        `(pool {{ $labels.pool_name }}) for ${a.XcpVmOnDeadHost.for}: it is down and has not been restarted elsewhere.`,
    },
  ]);
}

