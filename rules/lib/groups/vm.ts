// VM state and VM resources. VM alerts carry vm_uuid/vm_name and the host they run (or last ran) on as
// host_uuid/host_name, so that a host-down alert can inhibit them.
import { type RuleGroup, copyLabel, group, indent, lit, sel } from '../rule.js';
import { type Values, durationSeconds } from '../values.js';

/** `uuid` → `vm_uuid`, `host_id` → `host_uuid`. */
export const vmLabels = (expr: string) => copyLabel(copyLabel(expr, 'vm_uuid', 'uuid'), 'host_uuid', 'host_id');
const VM_IDENTITY = 'pool_id, pool_name, vm_uuid, vm_name, host_uuid, host_name';

export function vmGroup(v: Values): RuleGroup {
  const a = v.alerts;
  const m = (metric: string, ...matchers: string[]) => sel(metric, ...matchers, v.selector);
  const protectedVms = m('xcp_vm_info', v.protected_vm_selector);
  const lookback = a.XcpVmHaltedUnexpectedly.lookback;
  return group(v, 'xcp-vm', [
    {
      // "Unexpected" is XAPI's own word for it: the exporter saw the VM go Halted while VM.ha_always_run was still set
      // (a crash or a halt from inside the guest; an API shutdown clears the flag first, see
      // exporter/inventory/halts.ts), on a live host. The halt's timestamp carries the host it ran on, so the
      // alert is inhibited by that host's XcpHostDown. No sampling of the power state: it fires on the first crash.
      name: 'XcpVmHaltedUnexpectedly',
      component: 'vm',
      notification: 'COMPUTE_INSTANCE',
      // The receiver starts a halted VM; told "heartbeat", it would only reboot a running one.
      labels: { xcp_instance_event: 'crashed' },
      expr: `
max by (${VM_IDENTITY}) (
  ${indent(
    vmLabels(`
    ${m('xcp_vm_last_unexpected_halt_timestamp_seconds')} > time() - ${lit(durationSeconds(lookback))}
    and on (pool_id, uuid) ${m('xcp_vm_status', 'power_state=~"(?i)halted"')}
    and on (pool_id, uuid) ${protectedVms}
  `),
    2,
  )}
)`,
      summary: 'A protected VM halted unexpectedly.',
      description:
        'VM {{ $labels.vm_name }} ({{ $labels.vm_uuid }}, pool {{ $labels.pool_name }}) should run (protected) but halted without ' +
        'anyone asking XAPI to stop it (a crash, or a shutdown from inside the guest); it ran on host {{ $labels.host_name }}.',
    },
    {
      // What it measures: rrdd's memory_internal_free of the VM, which the guest agent rewrites about every 2 minutes
      // while the guest lives, has not changed for max_age_seconds. VM_guest_metrics.last_updated is no heartbeat
      // (xapi writes it only when the agent's static data changes). Only protected VMs; VMs on a dead host are the
      // host workflow's. Notify only by default (`recovery: false`): the signal is not yet proven on real pools.
      name: 'XcpVmGuestHeartbeatLost',
      component: 'vm',
      notification: 'COMPUTE_INSTANCE',
      // A hung guest: with recovery enabled, the receiver hard-reboots it after checking the VM's RRD itself.
      labels: { xcp_instance_event: 'heartbeat' },
      expr: `
max by (${VM_IDENTITY}) (
  ${indent(
    vmLabels(`
    ${m('xcp_vm_guest_memory_report_age_seconds')} > ${lit(a.XcpVmGuestHeartbeatLost.max_age_seconds)}
    and on (pool_id, uuid) ${protectedVms}
    and on (pool_id, uuid) ${m('xcp_vm_status', 'power_state=~"(?i)running"')}
    unless on (pool_id, uuid) ${m('xcp_vm_resident_host_live')} == 0
  `),
    2,
  )}
)`,
      summary: 'The guest agent of a protected VM stopped reporting.',
      description:
        'VM {{ $labels.vm_name }} ({{ $labels.vm_uuid }}) on host {{ $labels.host_name }} (pool {{ $labels.pool_name }}) is running ' +
        'but the memory report of its guest agent (rrdd memory_internal_free, rewritten about every 2 minutes by a live agent) ' +
        'has not changed for {{ $value | humanizeDuration }}: the guest or its agent is hung.',
    },
    {
      // XO: `xcp_vm_cpu_usage > 0.95` for 10m, which included dom0 (a host matter) and restarted on every dip.
      name: 'VMHighCPU',
      component: 'vm',
      expr: vmLabels(`avg_over_time(${m('xcp_vm_cpu_usage', 'is_control_domain!="true"')}[${a.VMHighCPU.smoothing}]) > ${lit(a.VMHighCPU.threshold)}`),
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
