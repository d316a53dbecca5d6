// Metrics read from XAPI records (the master's view): status, liveness, residency, HA settings, storage sizes
// and guest heartbeats. These stay present while a host is dead, so alerts can rely on them.
import type { LabelOptions } from '../config.js';
import type { Inventory, Rec } from '../inventory/inventory.js';
import { RecordLabels } from '../inventory/record-labels.js';
import { HOST, type MetricSink, POOL, SR, VM, gauge } from './declare.js';
import { labelString, withLabels } from './families.js';
import { tagsLabel } from './tags.js';

const VDI = [...POOL, 'sr_uuid', 'sr_name', 'sr_type', 'vdi_uuid', 'vdi_name', 'vm_uuid', 'vm_name'];
const POOL_HA_ENABLED = gauge('xcp_pool_ha_enabled', 'XAPI pool high availability enabled (1) or not (0)', POOL);
const HOST_STATUS = gauge('xcp_host_status', 'Host status (always 1); power_state and enabled as labels, as Xen Orchestra exports it', [
  ...HOST,
  'power_state',
  'enabled',
]);
const HOST_LIVE = gauge('xcp_host_live', 'Host is live in the pool master view (host_metrics.live): 1 live, 0 dead', HOST);
const HOST_ENABLED = gauge('xcp_host_enabled', 'Host is enabled (1) or disabled for maintenance or recovery (0)', HOST);
const HOST_INFO = gauge('xcp_host_info', 'Host metadata (always 1)', [...HOST, 'address', 'version', 'is_master']);
const HOST_UPTIME_SECONDS = gauge('xcp_host_uptime_seconds', 'Seconds since the host booted', HOST);
const VM_STATUS = gauge('xcp_vm_status', 'VM status (always 1); power_state as a label, as Xen Orchestra exports it', [
  ...POOL,
  'uuid',
  'vm_name',
  'power_state',
  'tags',
]);
const VM_INFO = gauge('xcp_vm_info', 'VM metadata (always 1): HA restart priority and start order', [
  ...VM,
  'ha_restart_priority',
  'order',
  'is_control_domain',
]);
const VM_RESIDENT_HOST_LIVE = gauge('xcp_vm_resident_host_live', 'Running VM: its resident host is live (1) or dead (0) in the master view', VM);
const VM_UPTIME_SECONDS = gauge('xcp_vm_uptime_seconds', 'Seconds since the VM started', VM);
const VM_GUEST_HEARTBEAT_AGE_SECONDS = gauge(
  'xcp_vm_guest_heartbeat_age_seconds',
  "Seconds since XAPI last changed VM_guest_metrics.last_updated, which it writes only when the guest agent's static data (OS, addresses, drivers) changes: it grows without end on a healthy guest, so it is no liveness signal (see xcp_vm_guest_memory_report_age_seconds)",
  VM,
);
const HOST_RESIDENT_VMS = gauge('xcp_host_resident_vms', 'Running guest VMs resident on the host (control domain excluded)', HOST);
const SR_INFO = gauge('xcp_sr_info', 'SR metadata (always 1): with labels.tags "info", the only SR series carrying its tags', SR);
const SR_VIRTUAL_SIZE_BYTES = gauge('xcp_sr_virtual_size_bytes', 'Space allocated to VDIs on the SR (virtual_allocation), in bytes', SR);
const SR_PHYSICAL_SIZE_BYTES = gauge('xcp_sr_physical_size_bytes', 'Physical size of the SR in bytes', SR);
const SR_PHYSICAL_USAGE_BYTES = gauge('xcp_sr_physical_usage_bytes', 'Physical space used on the SR in bytes', SR);
const SR_PHYSICAL_USAGE_RATIO = gauge('xcp_sr_physical_usage_ratio', 'Physical space used on the SR as a ratio of its size', SR);
const PBD_ATTACHED = gauge('xcp_pbd_attached', 'The SR is plugged on the host (PBD.currently_attached): 1 plugged, 0 unplugged', [
  ...POOL,
  'sr_uuid',
  'sr_name',
  'sr_type',
  'host_id',
  'host_name',
]);
const VDI_VIRTUAL_SIZE_BYTES = gauge('xcp_vdi_virtual_size_bytes', 'Virtual size of the VDI in bytes', VDI);
const VDI_PHYSICAL_USAGE_BYTES = gauge('xcp_vdi_physical_usage_bytes', 'Physical space used by the VDI in bytes', VDI);

/** XAPI dates: `20260101T12:00:00Z` (also with dashes or fractional seconds). Returns ms, NaN if unset. */
export function parseXapiDate(v: unknown): number {
  // What /^(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?Z?$/ accepts, read by character codes: two
  // dates per VM and poll, no match arrays.
  if (typeof v !== 'string') return NaN;
  const year = digitsAt(v, 0, 4);
  let i = v.charCodeAt(4) === 45 /* - */ ? 5 : 4;
  const month = digitsAt(v, i, 2);
  i = v.charCodeAt(i + 2) === 45 ? i + 3 : i + 2;
  const day = digitsAt(v, i, 2);
  if (v.charCodeAt(i + 2) !== 84 /* T */ || v.charCodeAt(i + 5) !== 58 /* : */ || v.charCodeAt(i + 8) !== 58) return NaN;
  const hour = digitsAt(v, i + 3, 2);
  const minute = digitsAt(v, i + 6, 2);
  const second = digitsAt(v, i + 9, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return NaN;
  i += 11;
  if (v.charCodeAt(i) === 46 /* . */) {
    const from = ++i;
    while (digitsAt(v, i, 1) >= 0) i++;
    if (i === from) return NaN;
  }
  if (v.charCodeAt(i) === 90 /* Z */) i++;
  if (i !== v.length) return NaN;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  return ms <= 0 ? NaN : ms;
}

/** The decimal number of the `n` ASCII digits at `s[i]`; -1 when any is not a digit (or is past the end). */
function digitsAt(s: string, i: number, n: number): number {
  let x = 0;
  for (let k = i; k < i + n; k++) {
    const c = s.charCodeAt(k) - 48;
    if (!(c >= 0 && c <= 9)) return -1;
    x = x * 10 + c;
  }
  return x;
}

// Each poll labels every object the same as the last unless its record changed: kept per record (record-labels.ts).
const HOST_LABELS = new RecordLabels();
const HOST_STATUS_LABELS = new RecordLabels();
const HOST_INFO_LABELS = new RecordLabels();
const VM_LABELS = new RecordLabels();
const VM_STATUS_LABELS = new RecordLabels();
const VM_INFO_LABELS = new RecordLabels();
const SR_LABELS = new RecordLabels();
const SR_INFO_LABELS = new RecordLabels();
const PBD_LABELS = new RecordLabels();
const VDI_LABELS = new RecordLabels();

const isGuest = (vm: Rec) => !vm.is_a_template && !vm.is_a_snapshot && !vm.is_control_domain;
const running = (vm: Rec) => vm.power_state === 'Running' || vm.power_state === 'Paused';

/** `unreachable(uuid)`: while the master is away, true for a host whose own XAPI does not answer either — it is not
 * reported live from the master's stale view. */
export function addInventoryMetrics(
  set: MetricSink,
  inv: Inventory,
  poolName: string,
  nowMs: number,
  unreachable?: (uuid: string) => boolean,
  tags: LabelOptions['tags'] = 'all',
): void {
  const pool = inv.pool;
  const poolId = pool?.uuid;
  const poolLabels = labelString({ pool_id: poolId, pool_name: poolName });
  const masterRef = pool?.master;
  if (pool) set.add(POOL_HA_ENABLED, poolLabels, pool.ha_enabled ? 1 : 0);

  const hostLabels = new Map<string, string>();
  const hostLive = new Map<string, boolean>();
  for (const [ref, host] of inv.all('host')) {
    const labels = HOST_LABELS.get(host, poolId, poolName, tags, undefined, () =>
      labelString({
        pool_id: poolId,
        pool_name: poolName,
        uuid: host.uuid,
        host_name: host.name_label as string,
        tags: tagsLabel(host, tags, false),
      }),
    );
    hostLabels.set(ref, labels);
    const live = Boolean(inv.get('host_metrics', host.metrics)?.live) && !unreachable?.(host.uuid);
    hostLive.set(ref, live);
    set.add(
      HOST_STATUS,
      HOST_STATUS_LABELS.get(host, labels, live, undefined, undefined, () =>
        withLabels(labels, { power_state: live ? 'Running' : 'Halted', enabled: String(Boolean(host.enabled)) }),
      ),
      1,
    );
    set.add(HOST_LIVE, labels, live ? 1 : 0);
    set.add(HOST_ENABLED, labels, host.enabled ? 1 : 0);
    const version = (host.software_version as Record<string, string> | undefined)?.product_version;
    set.add(
      HOST_INFO,
      HOST_INFO_LABELS.get(host, labels, ref === masterRef, tags, undefined, () =>
        withLabels(labels, {
          address: host.address as string,
          version,
          is_master: String(ref === masterRef),
          tags: tags === 'info' ? tagsLabel(host, tags, true) : undefined,
        }),
      ),
      1,
    );
    const boot = Number((host.other_config as Record<string, string> | undefined)?.boot_time);
    if (live && boot > 0) set.add(HOST_UPTIME_SECONDS, labels, Math.max(0, nowMs / 1000 - boot));
  }

  const residents = new Map<string, number>();
  for (const vm of inv.records('VM')) {
    if (!isGuest(vm)) continue;
    const hostRef = vm.resident_on as string;
    const host = inv.get('host', hostRef);
    const name = vm.name_label as string;
    set.add(
      VM_STATUS,
      VM_STATUS_LABELS.get(vm, poolId, poolName, tags, undefined, () =>
        labelString({
          pool_id: poolId,
          uuid: vm.uuid,
          power_state: vm.power_state as string,
          pool_name: poolName,
          vm_name: name,
          tags: tagsLabel(vm, tags, false),
        }),
      ),
      1,
    );
    const labels = VM_LABELS.get(vm, host, poolId, poolName, tags, () =>
      labelString({
        pool_id: poolId,
        pool_name: poolName,
        uuid: vm.uuid,
        vm_name: name,
        host_id: host?.uuid,
        host_name: host?.name_label as string | undefined,
        tags: tagsLabel(vm, tags, false),
      }),
    );
    // The VM's labels and the info's own, kept apart (Family.add's `extra`): the VM's string is not copied into a
    // third one per VM (~230 bytes each, 2.3 MB at 10,000 VMs); the lines are the same.
    set.add(
      VM_INFO,
      labels,
      1,
      VM_INFO_LABELS.get(vm, tags, undefined, undefined, undefined, () =>
        labelString({
          ha_restart_priority: (vm.ha_restart_priority as string) || 'none',
          order: String(vm.order ?? 0),
          is_control_domain: 'false',
          tags: tags === 'info' ? tagsLabel(vm, tags, true) : undefined,
        }),
      ),
    );
    if (!running(vm)) continue;
    residents.set(hostRef, (residents.get(hostRef) ?? 0) + 1);
    set.add(VM_RESIDENT_HOST_LIVE, labels, hostLive.get(hostRef) ? 1 : 0);
    const started = parseXapiDate(inv.get('VM_metrics', vm.metrics)?.start_time);
    if (started) set.add(VM_UPTIME_SECONDS, labels, Math.max(0, (nowMs - started) / 1000));
    const heartbeat = parseXapiDate(inv.get('VM_guest_metrics', vm.guest_metrics)?.last_updated);
    if (heartbeat) set.add(VM_GUEST_HEARTBEAT_AGE_SECONDS, labels, Math.max(0, (nowMs - heartbeat) / 1000));
  }
  for (const [ref, labels] of hostLabels) set.add(HOST_RESIDENT_VMS, labels, residents.get(ref) ?? 0);

  addStorageMetrics(set, inv, poolId, poolName, tags);
}

function addStorageMetrics(set: MetricSink, inv: Inventory, poolId: string | undefined, poolName: string, tags: LabelOptions['tags']): void {
  for (const sr of inv.records('SR')) {
    const local = !sr.shared ? inv.get('host', inv.get('PBD', (sr.PBDs as string[] | undefined)?.[0])?.host) : undefined;
    const labels = SR_LABELS.get(sr, local, poolId, poolName, tags, () =>
      labelString({
        pool_id: poolId,
        sr_uuid: sr.uuid,
        sr_name: sr.name_label as string,
        pool_name: poolName,
        content_type: sr.content_type as string,
        sr_type: sr.type as string,
        host_id: local?.uuid,
        host_name: local?.name_label as string | undefined,
        tags: tagsLabel(sr, tags, false),
      }),
    );
    const info =
      tags === 'info' ? SR_INFO_LABELS.get(sr, labels, undefined, undefined, undefined, () => withLabels(labels, { tags: tagsLabel(sr, tags, true) })) : labels;
    set.add(SR_INFO, info, 1);
    const size = Number(sr.physical_size);
    const used = Number(sr.physical_utilisation);
    set.add(SR_VIRTUAL_SIZE_BYTES, labels, Number(sr.virtual_allocation));
    set.add(SR_PHYSICAL_SIZE_BYTES, labels, size);
    set.add(SR_PHYSICAL_USAGE_BYTES, labels, used);
    if (size > 0) set.add(SR_PHYSICAL_USAGE_RATIO, labels, used / size);
  }
  for (const pbd of inv.records('PBD')) {
    const sr = inv.get('SR', pbd.SR);
    const host = inv.get('host', pbd.host);
    if (!sr || !host) continue;
    const labels = PBD_LABELS.get(pbd, sr, host, poolId, poolName, () =>
      labelString({
        pool_id: poolId,
        pool_name: poolName,
        sr_uuid: sr.uuid,
        sr_name: sr.name_label as string,
        sr_type: sr.type as string,
        host_id: host.uuid,
        host_name: host.name_label as string,
      }),
    );
    set.add(PBD_ATTACHED, labels, pbd.currently_attached ? 1 : 0);
  }
  for (const vdi of inv.records('VDI')) {
    if (vdi.is_a_snapshot) continue;
    const sr = inv.get('SR', vdi.SR);
    const vm = inv.get('VM', inv.get('VBD', (vdi.VBDs as string[] | undefined)?.[0])?.VM);
    const labels = VDI_LABELS.get(vdi, sr, vm, poolId, poolName, () =>
      labelString({
        pool_id: poolId,
        sr_uuid: sr?.uuid,
        sr_name: sr?.name_label as string | undefined,
        vdi_uuid: vdi.uuid,
        vdi_name: vdi.name_label as string,
        pool_name: poolName,
        sr_type: sr?.type as string | undefined,
        vm_uuid: vm?.uuid,
        vm_name: vm?.name_label as string | undefined,
      }),
    );
    set.add(VDI_VIRTUAL_SIZE_BYTES, labels, Number(vdi.virtual_size));
    set.add(VDI_PHYSICAL_USAGE_BYTES, labels, Number(vdi.physical_utilisation));
  }
}
