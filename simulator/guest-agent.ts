// The guest agent inside each simulated VM, as XAPI and rrdd see it (see simulator/FIDELITY.md, "Guest agent").
//
// - xe-guest-utilities' xe-daemon (xenserver/xe-guest-utilities xe-daemon/xe-daemon.go) loops every 60 s and runs
//   CollectMemory every second loop (120 s); its CachedXenStore writes a key only when the value differs. So
//   `data/meminfo_free` (KiB) is rewritten about every 120 s on a live guest (free memory moves), and never again once
//   the agent or the guest hangs.
// - rrdd's squeezed plugin (xen-api ocaml/xcp-rrdd/bin/rrdp-squeezed/rrdp_squeezed.ml) watches that key and serves its
//   last value as the VM's `memory_internal_free` (KiB) every 5 s: a hung guest shows a constant, not a gap.
// - xapi (ocaml/xapi/xapi_guest_agent.ml, `all`) writes VM_guest_metrics.last_updated only when the agent's
//   *static* data changed (OS, PV drivers, networks, control keys, services); memory is deliberately left out ("we're
//   ignoring the memory updates ... putting them into an RRD instead") and ocaml/xapi/xapi_xenops.ml ignores
//   data/meminfo_free, data/updated and data/update_cnt. Its cache is per domid, so a new domain (start, reboot)
//   writes last_updated once, when its agent first reports. A healthy guest whose OS and addresses do not change
//   keeps the same last_updated for ever.
import type { Ref } from './model/types.js';

export class GuestAgents {
  /** VMs whose agent stopped (the VM still runs), with the time (ms) it stopped: data/meminfo_free freezes. */
  readonly frozen = new Map<Ref, number>();

  constructor(
    /** How often the agent rewrites data/meminfo_free (xe-daemon: every 120 s). */
    readonly memoryIntervalMs: number,
  ) {}

  freeze(vm: Ref, now = Date.now()): void {
    if (!this.frozen.has(vm)) this.frozen.set(vm, now);
  }

  thaw(vm: Ref): void {
    this.frozen.delete(vm);
  }

  isFrozen(vm: Ref): boolean {
    return this.frozen.has(vm);
  }

  /**
   * The time (s) of the agent's last data/meminfo_free write at or before `tS`: writes fall every memoryIntervalMs
   * from a per-VM phase, and stop when the agent froze. rrdd serves the value of that write.
   */
  lastMemoryWrite(vm: Ref, phase: number, tS: number): number {
    const frozenAt = this.frozen.get(vm);
    const t = frozenAt === undefined ? tS : Math.min(tS, frozenAt / 1000);
    const period = this.memoryIntervalMs / 1000;
    const offset = phase * period;
    return Math.floor((t - offset) / period) * period + offset;
  }
}
