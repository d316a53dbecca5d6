// The unexpected halts the inventory watcher saw (exporter/inventory/halts.ts), as a counter per guest VM (0 until
// the first, so that increase() sees the first one) and the time of the last one with the host the VM ran on, which
// is what the XcpVmHaltedUnexpectedly rule needs to fire on the first crash without sampling the power state.
import type { HaltTracker } from '../inventory/halts.js';
import type { Inventory } from '../inventory/inventory.js';
import { RecordLabels } from '../inventory/record-labels.js';
import { type MetricSink, POOL, counter, gauge } from './declare.js';
import { labelString } from './families.js';

const HALTS = counter(
  'xcp_vm_unexpected_halts_total',
  'Halts of the VM that nobody asked XAPI for (crash, or a halt from inside the guest: Halted with VM.ha_always_run still set), seen since the exporter started',
  [...POOL, 'uuid', 'vm_name'],
);
const LAST_HALT = gauge(
  'xcp_vm_last_unexpected_halt_timestamp_seconds',
  'Unix time of the last unexpected halt of the VM seen since the exporter started; host_id/host_name: the host it ran on',
  [...POOL, 'uuid', 'vm_name', 'host_id', 'host_name'],
);

/** Each VM's labels, kept with its record (record-labels.ts). */
const VM_LABELS = new RecordLabels();

export function addHaltMetrics(set: MetricSink, halts: HaltTracker, inv: Inventory, poolName: string): void {
  const poolId = inv.pool?.uuid;
  const { vmByUuid } = inv.lookups();
  halts.prune((uuid) => vmByUuid.has(uuid));
  for (const [uuid, { rec: vm }] of vmByUuid) {
    if (vm.is_a_template || vm.is_a_snapshot || vm.is_control_domain) continue;
    const labels = VM_LABELS.get(vm, poolId, poolName, undefined, undefined, () =>
      labelString({ pool_id: poolId, pool_name: poolName, uuid, vm_name: vm.name_label as string }),
    );
    const h = halts.halts.get(uuid);
    set.add(HALTS, labels, h?.count ?? 0);
    if (h?.lastAt)
      set.add(
        LAST_HALT,
        labelString({ pool_id: poolId, pool_name: poolName, uuid, vm_name: vm.name_label as string, host_id: h.hostUuid, host_name: h.hostName }),
        h.lastAt / 1000,
      );
  }
}
