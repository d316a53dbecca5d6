// What XAPI and xenopsd do when a VM's domain crashes, and the HA flag that tells a crash from an operator's
// shutdown (see simulator/FIDELITY.md, "Crashes and shutdowns").
//
// - xenopsd VM_check_state (xen-api ocaml/xenopsd/lib/xenops_server.ml): a crashed domain gets the VM's on_crash
//   actions (VM.actions_after_crash), except that "a VM which crashes too quickly should be shutdown": within 120 s
//   of its start a `restart` becomes a shutdown. A restart is VM_reboot: a new domain, the VM stays Running.
// - VM.ha_always_run (ocaml/xapi/xapi_vm.ml): VM.start sets it when ha_restart_priority is "restart"; VM.hard_shutdown,
//   VM.clean_shutdown and VM.suspend clear it before the domain stops. A halt from inside the guest or a crash leaves it
//   set (ocaml/xapi/xapi_xenops.ml clears it after an internal shutdown only when the pool's
//   ha_reboot_vm_on_internal_shutdown is false; its default is true, ocaml/idl/datamodel_pool.ml). xapi HA restarts
//   exactly the VMs with ha_always_run && restart priority (Helpers.vm_should_always_run).
import type { XapiRecord } from './model/types.js';

/** xenopsd's minimum run time before a crash may restart the VM. */
export const CRASH_RESTART_MIN_RUN_MS = 120_000;

/** What xenopsd does with a crashed domain: `restart` in place, or `halt` (destroy, preserve, or too quick a crash). */
export function crashAction(vm: XapiRecord, metrics: XapiRecord | undefined, nowMs: number): 'restart' | 'halt' {
  const onCrash = String(vm.actions_after_crash ?? 'destroy');
  if (onCrash !== 'restart' && onCrash !== 'rename_restart') return 'halt';
  const started = Date.parse(String(metrics?.start_time ?? '').replace(/^(\d{4})(\d{2})(\d{2})T/, '$1-$2-$3T'));
  return Number.isFinite(started) && nowMs - started >= CRASH_RESTART_MIN_RUN_MS ? 'restart' : 'halt';
}

/** VM.start sets ha_always_run when the VM is protected with priority "restart". */
export function startSetsAlwaysRun(vm: XapiRecord): boolean {
  return vm.ha_restart_priority === 'restart';
}
