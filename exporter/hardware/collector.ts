// The IPMI and SMART collectors of one pool. Each runs in the background on its own interval (default 60 s and
// 300 s), never overlapping itself, and keeps its latest per-host results in memory; the pool's poll only reads
// them (hardware/metrics.ts), so /metrics never waits on a BMC or a disk. Hosts are worked on at most
// `concurrency` at a time, IPMI and SMART together.
//
// Disks are remembered per host: a disk seen before that is missing from the host's list, or cannot be read,
// or whose host cannot be reached, is reported with `xcp_host_disk_smart_up 0` — it does not silently vanish.
// It is forgotten after FORGET_AFTER_CYCLES SMART cycles without being listed, or when its host leaves the pool.
//
// A disk in standby (`--nocheck=standby`: smartctl did not wake it) is up, and keeps the values of its last
// reading while it sleeps: it was not failing then, and sleeping does not make it fail or heal. A disk first
// seen asleep has no values until it is read awake.
import { errorKind } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { CollectorHealth } from '../collector/status.js';
import type { HardwareConfig } from './config.js';
import { Every, Semaphore } from './schedule.js';
import type { SmartDisk } from './smart/parse.js';
import { type HardwareHost, type HardwareTransport, HardwareUnavailable, type IpmiReading, type SmartReading } from './transport.js';

/** SMART cycles a disk may go unlisted before it is forgotten (1 hour at the default 300 s). */
export const FORGET_AFTER_CYCLES = 12;
/** Retry delay while the pool's inventory has not been read yet. */
const WAIT_FOR_INVENTORY_MS = 1000;
/** stop() waits this long for a running cycle; a plugin call cannot be aborted. */
const STOP_WAIT_MS = 5000;

export type HardwareKind = 'ipmi' | 'smart';

export interface HostIpmiState {
  up: boolean;
  /** The last reading, when up. */
  reading?: IpmiReading;
  /** Why it is down. */
  reason?: string;
  /** Down because the host cannot give IPMI at all (no BMC, no plugin): not an error. */
  unavailable: boolean;
  at: number;
}

export interface DiskState {
  /** The `device` label: the device name, plus `:type` for disks behind a controller (`/dev/bus/0:megaraid,1`). */
  device: string;
  /** The last readable reading: values while up, identity (xcp_host_disk_info) always. */
  disk?: SmartDisk;
  up: boolean;
  standby: boolean;
  /** Why it is down. */
  error?: string;
  lastSeenCycle: number;
}

export interface HostSmartState {
  /** The host's disk list could be read in the last cycle. */
  up: boolean;
  reason?: string;
  unavailable: boolean;
  disks: Map<string, DiskState>;
  at: number;
}

/** Many disks share `/dev/bus/0` behind a MegaRAID controller; the type (`megaraid,1`) tells them apart. */
export function deviceLabel(name: string, type: string | null): string {
  return type?.includes(',') ? `${name}:${type}` : name;
}

export interface HardwareCollectorOptions {
  config: HardwareConfig;
  transport: HardwareTransport;
  health: CollectorHealth;
  logger: Logger;
  /** The pool's hosts now; undefined while its inventory has never been read. */
  hosts: () => HardwareHost[] | undefined;
}

export class HardwareCollector {
  readonly ipmi = new Map<string, HostIpmiState>();
  readonly smart = new Map<string, HostSmartState>();
  /** Completed cycles, for tests and logs. */
  readonly cycles = { ipmi: 0, smart: 0 };
  private readonly limiter: Semaphore;
  private readonly loops: Every[] = [];
  /** What was last logged per host and subject, so a lasting problem is logged once, not every cycle. */
  private readonly logged = new Map<string, string>();
  private stopping = false;

  constructor(private readonly o: HardwareCollectorOptions) {
    this.limiter = new Semaphore(o.transport.concurrency);
  }

  get transport(): HardwareTransport {
    return this.o.transport;
  }

  start(): void {
    const { ipmi, smart } = this.o.config;
    if (ipmi.enabled) this.loops.push(new Every(ipmi.intervalMs, () => this.ipmiCycle(), WAIT_FOR_INVENTORY_MS));
    if (smart.enabled) this.loops.push(new Every(smart.intervalMs, () => this.smartCycle(), WAIT_FOR_INVENTORY_MS));
    for (const loop of this.loops) loop.start();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const loop of this.loops) loop.halt();
    // Closing SSH connections fails the commands in flight, so the running cycles end now.
    await this.o.transport.close();
    await Promise.all(this.loops.map((l) => l.idle(STOP_WAIT_MS)));
  }

  /** Log `message` for `key` only when it (or its `reason` field) changed since the last time (null: the
   * problem is gone, said once). */
  private logOnce(key: string, message: string | null, fields: Record<string, unknown>, level: 'warn' | 'info' = 'warn'): void {
    const before = this.logged.get(key);
    const seen = message === null ? null : `${message}\n${String(fields.reason ?? '')}`;
    if (message === null) {
      if (before !== undefined) {
        this.logged.delete(key);
        this.o.logger.info(`${key.slice(key.indexOf('/') + 1)} readable again`, fields);
      }
      return;
    }
    if (before === seen) return;
    this.logged.set(key, seen!);
    this.o.logger[level](message, fields);
  }

  /** The hosts to work on, after dropping the state of hosts that left the pool. */
  private async hostsNow(): Promise<HardwareHost[] | undefined> {
    const hosts = this.o.hosts();
    if (!hosts) return undefined;
    const uuids = new Set(hosts.map((h) => h.uuid));
    for (const map of [this.ipmi, this.smart]) for (const uuid of map.keys()) if (!uuids.has(uuid)) map.delete(uuid);
    for (const key of this.logged.keys()) if (!uuids.has(key.slice(0, key.indexOf('/')))) this.logged.delete(key);
    await this.o.transport.retain(hosts);
    return hosts;
  }

  private async each<T>(hosts: HardwareHost[], fn: (h: HardwareHost) => Promise<T>): Promise<PromiseSettledResult<T>[]> {
    return Promise.allSettled(hosts.map((h) => this.limiter.run(() => fn(h))));
  }

  /** Collector health from the hosts' outcomes: up when any host that has the hardware answered. */
  private report(kind: HardwareKind, failures: unknown[], attempted: number, started: number): void {
    const duration = (performance.now() - started) / 1000;
    if (failures.length > 0 && failures.length === attempted) {
      for (const err of failures.slice(0, -1)) this.o.health.count(kind, err);
      this.o.health.failure(kind, failures.at(-1), duration);
    } else {
      for (const err of failures) this.o.health.count(kind, err);
      this.o.health.success(kind, duration);
    }
    this.cycles[kind]++;
  }

  async ipmiCycle(): Promise<boolean> {
    const hosts = await this.hostsNow();
    if (!hosts) return false;
    const started = performance.now();
    const results = await this.each(hosts, (h) => this.o.transport.ipmi(h));
    if (this.stopping) return true;
    const failures: unknown[] = [];
    let unavailable = 0;
    results.forEach((r, i) => {
      const host = hosts[i]!;
      const fields = { host: host.name, address: host.address };
      const key = `${host.uuid}/IPMI`;
      const at = Date.now();
      if (r.status === 'fulfilled') {
        this.ipmi.set(host.uuid, { up: true, reading: r.value, unavailable: false, at });
        for (const err of r.value.errors) this.o.health.count('ipmi', err);
        this.logOnce(key, null, fields);
        if (r.value.warnings.length)
          this.logOnce(
            `${host.uuid}/IPMI listing`,
            'IPMI listing has lines that are not sensors',
            { ...fields, warnings: r.value.warnings.slice(0, 5) },
            'info',
          );
        return;
      }
      const err = r.reason as Error;
      const isUnavailable = err instanceof HardwareUnavailable;
      if (isUnavailable) unavailable++;
      else failures.push(err);
      this.ipmi.set(host.uuid, { up: false, reason: err.message, unavailable: isUnavailable, at });
      this.logOnce(
        key,
        isUnavailable ? 'no IPMI on this host' : 'IPMI not collected',
        { ...fields, reason: err.message, kind: isUnavailable ? undefined : errorKind(err) },
        isUnavailable ? 'info' : 'warn',
      );
    });
    this.report('ipmi', failures, hosts.length - unavailable, started);
    return true;
  }

  async smartCycle(): Promise<boolean> {
    const hosts = await this.hostsNow();
    if (!hosts) return false;
    const started = performance.now();
    const cycle = this.cycles.smart + 1;
    const results = await this.each(hosts, (h) => this.o.transport.smart(h));
    if (this.stopping) return true;
    const failures: unknown[] = [];
    let unavailable = 0;
    results.forEach((r, i) => {
      const host = hosts[i]!;
      const fields = { host: host.name, address: host.address };
      const state: HostSmartState = this.smart.get(host.uuid) ?? { up: false, unavailable: false, disks: new Map(), at: 0 };
      this.smart.set(host.uuid, state);
      state.at = Date.now();
      if (r.status === 'fulfilled') {
        state.up = true;
        state.reason = undefined;
        state.unavailable = false;
        this.applyDisks(host, state, r.value, cycle);
        for (const err of r.value.errors) this.o.health.count('smart', err);
        this.logOnce(`${host.uuid}/SMART`, null, fields);
      } else {
        const err = r.reason as Error;
        const isUnavailable = err instanceof HardwareUnavailable;
        if (isUnavailable) unavailable++;
        else failures.push(err);
        state.up = false;
        state.reason = err.message;
        state.unavailable = isUnavailable;
        for (const d of state.disks.values()) Object.assign(d, { up: false, standby: false, error: `host not readable: ${err.message}` });
        this.logOnce(
          `${host.uuid}/SMART`,
          isUnavailable ? 'no SMART on this host' : 'SMART not collected',
          { ...fields, reason: err.message, kind: isUnavailable ? undefined : errorKind(err) },
          isUnavailable ? 'info' : 'warn',
        );
      }
      for (const [device, d] of state.disks) if (cycle - d.lastSeenCycle >= FORGET_AFTER_CYCLES) state.disks.delete(device);
    });
    this.report('smart', failures, hosts.length - unavailable, started);
    return true;
  }

  private applyDisks(host: HardwareHost, state: HostSmartState, reading: SmartReading, cycle: number): void {
    const seen = new Set<string>();
    for (const disk of reading.disks) {
      const device = deviceLabel(disk.device ?? 'unknown', disk.deviceType);
      if (seen.has(device)) continue;
      seen.add(device);
      const d: DiskState = state.disks.get(device) ?? { device, up: false, standby: false, lastSeenCycle: cycle };
      state.disks.set(device, d);
      d.lastSeenCycle = cycle;
      const fields = { host: host.name, device };
      if (disk.inStandby) {
        Object.assign(d, { up: true, standby: true, error: undefined });
      } else if (disk.error) {
        Object.assign(d, { up: false, standby: false, error: disk.error });
        // Identity from a failed read is better than none, never better than an earlier one.
        d.disk ??= disk;
      } else {
        Object.assign(d, { up: true, standby: false, error: undefined, disk });
      }
      this.logOnce(`${host.uuid}/disk ${device}`, d.error ? 'disk not readable' : null, { ...fields, reason: d.error });
    }
    for (const d of state.disks.values()) {
      if (seen.has(d.device)) continue;
      Object.assign(d, { up: false, standby: false, error: 'no longer listed by the host' });
      this.logOnce(`${host.uuid}/disk ${d.device}`, 'disk no longer listed', { host: host.name, device: d.device });
    }
    if (reading.warnings.length)
      this.logOnce(`${host.uuid}/SMART scan`, 'SMART device scan refused entries', { host: host.name, warnings: reading.warnings.slice(0, 5) });
  }
}
