// VM.suspend / VM.resume / VM.resume_on and host.shutdown for the simulated pool (the emergency shutdown's calls),
// with xapi's checks in xapi's order. Sources (xen-api, ocaml/xapi/):
// - xapi_vm_lifecycle.ml allowed_power_states: suspend needs Running, resume/resume_on need Suspended
//   (VM_BAD_POWER_STATE otherwise); check_operation_error: a VM with PCI devices attached (not NVidia SR-IOV) cannot
//   suspend (VM_HAS_PCI_ATTACHED), nor one with a vGPU of a type that does not support suspend (VM_HAS_VGPU).
// - helpers.ml choose_suspend_sr: VM.suspend_SR, else pool.suspend_image_SR, else host.suspend_image_sr of the host
//   the VM runs on; none → VM_NO_SUSPEND_SR (raised by xapi_xenops.ml suspend before the memory image is written).
// - xapi_vm.ml suspend: ha_always_run := false; resume: ha_always_run := true again for ha_restart_priority "restart".
// - xapi_vm_lifecycle.ml force_state_reset: a Suspended VM is resident nowhere.
// - message_forwarding.ml VM.resume: forward_to_suitable_host (xapi picks a host that can run it, like VM.start);
//   VM.resume_on: reserve_memory_for_vm on the given host, then do_op_on that host.
// - xapi_host.ml shutdown_and_reboot_common: prechecks (assert_host_disabled → HOST_NOT_DISABLED), the call returns,
//   and `/sbin/shutdown -h now` runs 10 s later in a background thread. It does NOT refuse running VMs (only
//   assert_bacon_mode, used by local storage caching, does): what still runs dies with the host.
import { randomUUID } from 'node:crypto';
import { XapiError } from '../core/errors.js';
import { NULL_REF, type Ref, type XapiRecord } from './model/types.js';
import type { HostRuntime, SimulatedPool } from './pool.js';

/** What makes a VM refuse suspension, as xapi finds it in the VM's record (the simulator's fault injection). */
export const SUSPEND_FAULTS = ['pci', 'vgpu', 'none'] as const;
export type SuspendFault = (typeof SUSPEND_FAULTS)[number];

const refs = (v: unknown): Ref[] => (Array.isArray(v) ? (v as Ref[]).filter((r) => r && r !== NULL_REF) : []);
const validSr = (pool: SimulatedPool, ref: unknown): boolean => typeof ref === 'string' && ref !== NULL_REF && pool.store.get('SR', ref) !== undefined;

/** Give `vm` a PCI device (passthrough) or a vGPU without suspend support, or take them away. */
export function setSuspendFault(pool: SimulatedPool, vmRef: Ref, fault: SuspendFault): void {
  pool.vm(vmRef, 'sim.suspend_fault');
  pool.store.mod('VM', vmRef, {
    attached_PCIs: fault === 'pci' ? [`OpaqueRef:sim-pci-${randomUUID()}`] : [],
    VGPUs: fault === 'vgpu' ? [`OpaqueRef:sim-vgpu-${randomUUID()}`] : [],
  });
}

function assertPower(vmRef: Ref, vm: XapiRecord, expected: string, method: string): void {
  if (vm.power_state !== expected) throw new XapiError('VM_BAD_POWER_STATE', [vmRef, expected.toLowerCase(), String(vm.power_state).toLowerCase()], method);
}

export async function vmSuspend(pool: SimulatedPool, vmRef: Ref, method: string): Promise<void> {
  const vm = pool.vm(vmRef, method);
  assertPower(vmRef, vm, 'Running', method);
  if (refs(vm.attached_PCIs).length) throw new XapiError('VM_HAS_PCI_ATTACHED', [vmRef], method);
  if (refs(vm.VGPUs).length) throw new XapiError('VM_HAS_VGPU', [vmRef], method);
  const hostRef = vm.resident_on as Ref;
  const host = pool.hostByRef(hostRef);
  if (!host || !pool.answers(host)) throw new XapiError('HOST_OFFLINE', [hostRef], method);
  const poolRec = pool.store.get('pool', pool.poolRef)!;
  const hostRec = pool.store.get('host', hostRef)!;
  if (!validSr(pool, vm.suspend_SR) && !validSr(pool, poolRec.suspend_image_SR) && !validSr(pool, hostRec.suspend_image_sr))
    throw new XapiError('VM_NO_SUSPEND_SR', [vmRef], method);
  pool.store.mod('VM', vmRef, { ha_always_run: false });
  // Writing the memory image takes time; a hard shutdown meanwhile wins (xapi cancels the suspend task).
  await new Promise((r) => setTimeout(r, pool.options.vmBootMs));
  const now = pool.store.get('VM', vmRef)!;
  if (now.power_state !== 'Running' || now.resident_on !== hostRef || !pool.answers(host))
    throw new XapiError('VM_BAD_POWER_STATE', [vmRef, 'running', String(now.power_state).toLowerCase()], method);
  pool.truth.suspend(vmRef, hostRef);
  pool.place(vmRef, null, 'Suspended');
  pool.store.mod('VM', vmRef, { suspend_VDI: `OpaqueRef:sim-suspend-image-${randomUUID()}` });
}

/** VM.resume (hostRef null: xapi picks a host, affinity first) or VM.resume_on; start_paused leaves it Paused. */
export async function vmResume(pool: SimulatedPool, vmRef: Ref, hostRef: Ref | null, startPaused: boolean, method: string): Promise<void> {
  const vm = pool.vm(vmRef, method);
  assertPower(vmRef, vm, 'Suspended', method);
  const target = pool.hostFor(vmRef, hostRef, method);
  if (vm.ha_restart_priority === 'restart') pool.store.mod('VM', vmRef, { ha_always_run: true });
  pool.place(vmRef, target, startPaused ? 'Paused' : 'Running');
  pool.truth.resume(vmRef, target);
  pool.store.mod('VM', vmRef, { suspend_VDI: NULL_REF });
  await new Promise((r) => setTimeout(r, pool.options.vmBootMs));
}

/** host.shutdown: refused unless disabled; the host goes down `hostShutdownDelayMs` after the call returns. */
export function hostShutdown(pool: SimulatedPool, hostRef: Ref, method: string): void {
  const rec = pool.store.get('host', hostRef);
  if (!rec) throw new XapiError('HANDLE_INVALID', ['host', hostRef], method);
  const h = pool.hostByRef(hostRef)!;
  // do_op_on: forwarded to the host itself.
  if (!pool.answers(h)) throw new XapiError('HOST_OFFLINE', [hostRef], method);
  if (rec.enabled) throw new XapiError('HOST_NOT_DISABLED', [], method);
  const timer = setTimeout(() => halted(pool, h), pool.options.hostShutdownDelayMs);
  timer.unref();
}

/** The host has halted: its domains are gone (what still ran died with it); the database is left as a power-off leaves it. */
function halted(pool: SimulatedPool, h: HostRuntime): void {
  if (!h.powered) return;
  h.powered = false;
  pool.truth.clear(h.ref);
  pool.rrdGaps.down(h.ref);
  for (const vmRef of pool.store.get('host', h.ref)!.resident_VMs as Ref[]) pool.agents.freeze(vmRef);
  pool.wireChanged();
}
