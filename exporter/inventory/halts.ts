// Unexpected halts, told from XAPI's own flag as xapi HA tells them (not guessed from sampled metrics):
// VM.start sets VM.ha_always_run on a VM whose ha_restart_priority is "restart"; VM.hard_shutdown, VM.clean_shutdown
// and VM.suspend clear it *before* the domain stops (xen-api ocaml/xapi/xapi_vm.ml); a crash or a halt from inside the
// guest leaves it set (ocaml/xapi/xapi_xenops.ml clears it after an internal shutdown only when the pool's
// ha_reboot_vm_on_internal_shutdown is false, its default being true). So a VM seen Running, then Halted with
// ha_always_run still true, stopped without anyone asking XAPI to stop it. VMs of a host that is not live are left
// out: the host workflow owns them (power_state_reset after the fence halts them too).
// A domain the hypervisor restarts by itself (actions_after_crash=restart) never shows Halted: nothing is counted.
// XAPI's messages are not used: VM_CRASHED is defined (ocaml/xapi-consts/api_messages.ml) but nothing in xapi creates it
// any more, and VM_SHUTDOWN is created after an API shutdown (ocaml/xapi/message_forwarding.ml), after the power state
// changed; ha_always_run is set before the power state changes, so one snapshot tells.
import { detach } from '../../core/strings.js';
import type { Inventory, XapiEventRecord } from './inventory.js';

export interface HaltRecord {
  /** Unexpected halts seen since the exporter started. */
  count: number;
  /** Unix ms of the last one, and the host the VM ran on. */
  lastAt?: number;
  hostUuid?: string;
  hostName?: string;
}

interface LastSeen {
  running: boolean;
  hostRef: string;
}

export class HaltTracker {
  /** VM uuid → halts; kept across full re-reads of the inventory, pruned when the VM is gone. */
  readonly halts = new Map<string, HaltRecord>();
  /** VM uuid → what it was at the previous batch. Survives a re-read, so a crash while disconnected still counts. */
  private readonly last = new Map<string, LastSeen>();
  /** Told after a batch with an unexpected halt (the exporter polls at once). */
  onHalt?: () => void;

  /** Compare the VMs this batch touched with what they were; call after the batch was applied. */
  observe(inv: Inventory, events: readonly XapiEventRecord[], nowMs: number): void {
    let halted = false;
    for (const e of events) {
      if (e.class.toLowerCase() !== 'vm') continue;
      const vm = inv.get('VM', e.ref);
      if (!vm || vm.is_a_template || vm.is_a_snapshot || vm.is_control_domain) continue;
      const prev = this.last.get(vm.uuid);
      const running = vm.power_state === 'Running' || vm.power_state === 'Paused';
      if (prev?.running && vm.power_state === 'Halted' && vm.ha_always_run === true) {
        const host = inv.get('host', prev.hostRef);
        const live = Boolean(host && inv.get('host_metrics', host.metrics)?.live);
        if (live) {
          const h = this.halts.get(vm.uuid) ?? { count: 0 };
          h.count++;
          h.lastAt = nowMs;
          h.hostUuid = host!.uuid;
          h.hostName = host!.name_label as string | undefined;
          this.halts.set(detach(vm.uuid), h);
          halted = true;
        }
      }
      this.last.set(detach(vm.uuid), { running, hostRef: running ? detach(String(vm.resident_on)) : (prev?.hostRef ?? '') });
    }
    if (halted) this.onHalt?.();
  }

  /** Forget VMs that left the pool. */
  prune(keep: (uuid: string) => boolean): void {
    for (const uuid of this.last.keys()) if (!keep(uuid)) this.last.delete(uuid);
    for (const uuid of this.halts.keys()) if (!keep(uuid)) this.halts.delete(uuid);
  }
}
