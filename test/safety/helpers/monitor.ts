// The safety monitor: samples the simulator's ground truth (simulator/truth.ts) about four times a second while a
// scenario runs, independently of the receiver, and counts violations of the three recovery invariants:
//  (a) twice      — VMs ever running on two hosts at once: seen in a sample (domains on two powered hosts), or
//                   recorded by the simulator at the moment a domain started while another still ran (so a window
//                   shorter than the sampling period is not missed);
//  (b) healthyOff — healthy hosts powered off: a power-off of a host the scenario did not fail, or of a host that was
//                   up (powered, not hung, not partitioned) when its BMC was asked to power it off;
//  (c) leftDown   — at the end, once the notification settled: VMs that ran when the fault was injected — on the
//                   failed host or any other (a recovery, or xapi's own resync, can also stop VMs of healthy hosts) —
//                   were not paused or shut down on purpose, and run on no host.
import type { Ref } from '../../../simulator/model/types.js';
import type { HostRuntime, SimulatedPool } from '../../../simulator/pool.js';

export interface Counts {
  twice: number;
  healthyOff: number;
  leftDown: number;
}

export interface Violations {
  /** VM name → the hosts it ran on at once, first time seen. */
  twice: Map<string, string[]>;
  healthyOff: string[];
  leftDown: string[];
}

export class SafetyMonitor {
  samples = 0;
  private timer?: NodeJS.Timeout;
  private seenPowerOffs = 0;
  private seenOverlaps = 0;
  /** Hosts the scenario failed on purpose: powering these off is a fence, not a violation (unless they were up). */
  private readonly failed = new Set<Ref>();
  /** VMs that ran anywhere when a fault was injected, and must run somewhere at the end. */
  private readonly mustRun = new Set<Ref>();
  private readonly onPurpose = new Set<Ref>();
  readonly violations: Violations = { twice: new Map(), healthyOff: [], leftDown: [] };

  constructor(
    private readonly pool: SimulatedPool,
    private readonly everyMs = 250,
  ) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.everyMs);
  }

  /** Stop sampling (one last sample first) and count what is left down. */
  stop(): Counts {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
    for (const vm of this.mustRun) if (!this.onPurpose.has(vm) && this.pool.truth.hostsRunning(vm).length === 0) this.violations.leftDown.push(this.vmName(vm));
    return this.counts();
  }

  counts(): Counts {
    return { twice: this.violations.twice.size, healthyOff: this.violations.healthyOff.length, leftDown: this.violations.leftDown.length };
  }

  /**
   * The scenario injects a fault on `host`: the VMs it runs now, and those of every other host, must run somewhere at
   * the end; returns the ones `host` runs. With `mayFence`
   * (a hung, partitioned or powered-off host — not a healthy host behind a partitioned monitoring) a power-off of it
   * while it is down is the expected fence.
   */
  fault(host: HostRuntime, { mayFence = true } = {}): Ref[] {
    if (mayFence) this.failed.add(host.ref);
    for (const h of this.pool.hosts) for (const vm of this.pool.truth.domainsOn(h.ref)) this.mustRun.add(vm);
    return this.pool.truth.domainsOn(host.ref);
  }

  /** A VM the scenario paused or shut down on purpose: not expected to run. */
  purposefullyStopped(vm: Ref): void {
    this.onPurpose.add(vm);
  }

  sample(): void {
    const { truth } = this.pool;
    this.samples++;
    for (const [ref] of this.pool.store.table('VM')) {
      const hosts = truth.hostsRunning(ref);
      if (hosts.length > 1) this.twiceSeen(ref, hosts);
    }
    for (; this.seenOverlaps < truth.overlaps.length; this.seenOverlaps++) {
      const o = truth.overlaps[this.seenOverlaps]!;
      this.twiceSeen(o.vm, o.hosts);
    }
    for (; this.seenPowerOffs < truth.powerOffs.length; this.seenPowerOffs++) {
      const p = truth.powerOffs[this.seenPowerOffs]!;
      const why = !this.failed.has(p.host)
        ? 'a host the scenario did not fail'
        : p.upWhenRequested
          ? 'up and reachable when the power-off was asked'
          : undefined;
      if (why) this.violations.healthyOff.push(`${this.hostName(p.host)} (${why})`);
    }
  }

  private twiceSeen(vm: Ref, hosts: Ref[]): void {
    const name = this.vmName(vm);
    if (!this.violations.twice.has(name))
      this.violations.twice.set(
        name,
        hosts.map((h) => this.hostName(h)),
      );
  }

  private vmName(vm: Ref): string {
    return String(this.pool.store.get('VM', vm)?.name_label ?? vm);
  }

  private hostName(host: Ref): string {
    return String(this.pool.store.get('host', host)?.name_label ?? host);
  }
}
