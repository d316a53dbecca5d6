// What physically runs, as opposed to what XAPI's database says: per host, the VM domains its hypervisor runs.
// The two views differ exactly where recovery can go wrong: a hung or partitioned host keeps running its domains
// while the master's database (after VM.power_state_reset) says Halted, and a VM started elsewhere then runs twice.
// The safety matrix (test/safety/) samples this view; in the simulated XAPI only two things read it, as on a real
// host: the VM resync when xapi starts (xenopsd's list of domains, faults/host.ts resyncResidentOn) and each host's
// /rrd_updates (rrdd lists the domains it runs, rrd/updates.ts).
import { randomUUID } from 'node:crypto';
import type { Ref } from './model/types.js';

/** The host's state when a power-off was asked of its BMC (or, without a BMC, when it landed). */
export interface PowerOffRecord {
  host: Ref;
  /** When the BMC got the command. */
  requestedAt: number;
  /** When the chassis power went off. */
  landedAt: number;
  /** Powered, not hung, not partitioned when the command was asked: a running, reachable box. */
  upWhenRequested: boolean;
  /** host_metrics.live in the master's view when the command was asked. */
  liveWhenRequested: boolean;
}

/** A domain started while the same VM's domain still ran on another (powered) host. */
export interface OverlapRecord {
  vm: Ref;
  hosts: [Ref, Ref];
  at: number;
}

/** One command as the simulated BMC received it. */
export interface BmcCall {
  host: Ref;
  command: 'power-off' | 'power-status';
  at: number;
}

export interface HostState {
  powered: boolean;
  up: boolean;
  live: boolean;
}

export class GroundTruth {
  private readonly domains = new Map<Ref, Set<Ref>>();
  private readonly pendingPowerOffs = new Map<Ref, Omit<PowerOffRecord, 'landedAt'>>();
  readonly powerOffs: PowerOffRecord[] = [];
  readonly overlaps: OverlapRecord[] = [];
  readonly bmcCalls: BmcCall[] = [];
  /** Each VM's guest run: a new one when a domain boots, the same one after a resume (its memory image). */
  private readonly guestRuns = new Map<Ref, string>();
  /** Memory images of suspended VMs: the guest run they hold. */
  private readonly images = new Map<Ref, string>();
  /** Changes whenever a domain starts or ends anywhere: caches of what runs where key on it. */
  generation = 0;

  constructor(hosts: Ref[]) {
    for (const h of hosts) this.domains.set(h, new Set());
  }

  /** A domain of `vm` now runs on `host` (VM.start / start_on, or found running at build time). */
  start(vm: Ref, host: Ref, now = Date.now()): void {
    this.addDomain(vm, host, now);
    this.guestRuns.set(vm, randomUUID());
    this.images.delete(vm);
  }

  /** VM.suspend: the domain is gone, its memory image keeps the guest run. */
  suspend(vm: Ref, host: Ref): void {
    this.stop(vm, host);
    this.images.set(vm, this.guestRuns.get(vm) ?? randomUUID());
  }

  /** VM.resume: a domain on `host` continues the guest run of the memory image (a new one if there was none). */
  resume(vm: Ref, host: Ref, now = Date.now()): void {
    this.addDomain(vm, host, now);
    this.guestRuns.set(vm, this.images.get(vm) ?? randomUUID());
    this.images.delete(vm);
  }

  /** The guest run of `vm`'s last domain: equal before a suspend and after its resume, new after a boot. */
  guestRun(vm: Ref): string | undefined {
    return this.guestRuns.get(vm);
  }

  private addDomain(vm: Ref, host: Ref, now: number): void {
    for (const other of this.hostsRunning(vm)) if (other !== host) this.overlaps.push({ vm, hosts: [other, host], at: now });
    this.domains.get(host)?.add(vm);
    this.generation++;
  }

  /** The domain of `vm` on `host` is gone (hard/clean shutdown, crash to Halted, resync kill). */
  stop(vm: Ref, host: Ref): void {
    if (this.domains.get(host)?.delete(vm)) this.generation++;
  }

  /** The host lost power or rebooted: every domain on it is gone. */
  clear(host: Ref): void {
    this.domains.get(host)?.clear();
    this.generation++;
  }

  domainsOn(host: Ref): Ref[] {
    return [...(this.domains.get(host) ?? [])];
  }

  hostsRunning(vm: Ref): Ref[] {
    return [...this.domains].filter(([, set]) => set.has(vm)).map(([h]) => h);
  }

  runs(vm: Ref, host: Ref): boolean {
    return this.domains.get(host)?.has(vm) ?? false;
  }

  /** The BMC accepted a power-off: the host's state now is what the command was decided on. */
  powerOffRequested(host: Ref, state: HostState, now = Date.now()): void {
    this.pendingPowerOffs.set(host, { host, requestedAt: now, upWhenRequested: state.up, liveWhenRequested: state.live });
  }

  /** The chassis power went off; `state` is the host's state just before (used when no BMC request preceded). */
  poweredOff(host: Ref, state: HostState, now = Date.now()): void {
    const requested = this.pendingPowerOffs.get(host) ?? { host, requestedAt: now, upWhenRequested: state.up, liveWhenRequested: state.live };
    this.pendingPowerOffs.delete(host);
    if (!state.powered) return;
    this.powerOffs.push({ ...requested, landedAt: now });
    this.clear(host);
  }
}
