// The simulated pool at run time: the XAPI database plus what XAPI does to it (power operations, liveness,
// guest heartbeats) and the faults a test or an operator injects.
import { XapiError } from '../core/errors.js';
import { type BuildOptions, DEFAULT_SIZE, type PoolSize, buildPool, recomputeHostMemory } from './model/build.js';
import { crashAction, startSetsAlwaysRun } from './crash.js';
import { GuestAgents } from './guest-agent.js';
import { PoolRoles } from './master-loss.js';
import type { ObjectStore } from './model/store.js';
import { RrdGaps } from './rrd/gaps.js';
import { NULL_REF, type PowerState, type Ref, type XapiRecord, xapiDate } from './model/types.js';
import type { RrdShape } from './rrd/render.js';
import { GroundTruth } from './truth.js';
import { DbBackups } from './db-backup.js';

export interface SimOptions {
  name: string;
  size: PoolSize;
  seed: number;
  firstAddress: string;
  username: string;
  password: string;
  /** XAPI waits 5 s before answering a failed login. */
  authFailureDelayMs: number;
  /** How long a host that stopped answering stays `live` in the master's view (XAPI: host_assumed_dead_interval). */
  hostDeadAfterMs: number;
  /**
   * How often a healthy guest agent rewrites data/meminfo_free, which rrdd serves as memory_internal_free (xe-daemon:
   * 120 s). VM_guest_metrics.last_updated does not follow it: xapi writes it only when the agent's data changes
   * (simulator/guest-agent.ts).
   */
  guestHeartbeatMs: number;
  /** How long VM.start / hard_reboot take. */
  vmBootMs: number;
  /** JSON generation of /rrd_updates (XML is always available through the Accept header). */
  rrdShape: RrdShape;
  /** After a role change, how long until xapi exits (xapi: Constants.fuse_time, 10 s) and how long it takes to start. */
  xapiFuseMs: number;
  xapiStartMs: number;
  /** What a host-to-host call costs when the peer hangs (pool.recover_slaves on a dead member). */
  remoteTimeoutMs: number;
  /** host.shutdown returns at once; the host halts this much later (xapi_host.ml: Thread.delay 10.). */
  hostShutdownDelayMs: number;
  /** The master pushes its database to one member per interval (pool_db_backup.ml: pool_db_sync_interval, 300 s). */
  dbBackupIntervalMs: number;
  /** From a restarted xapi answering calls to its VM resync (xapi.ml: master contact, dbsync and storage come first). */
  xapiResyncMs: number;
}

export const DEFAULT_SIM_OPTIONS: SimOptions = {
  name: 'sim-pool',
  size: DEFAULT_SIZE,
  seed: 42,
  firstAddress: '127.0.0.2',
  username: 'root',
  password: 'simulated',
  authFailureDelayMs: 5000,
  hostDeadAfterMs: 30_000,
  guestHeartbeatMs: 120_000,
  vmBootMs: 200,
  rrdShape: 'current',
  xapiFuseMs: 10_000,
  xapiStartMs: 5_000,
  remoteTimeoutMs: 10_000,
  hostShutdownDelayMs: 10_000,
  dbBackupIntervalMs: 300_000,
  xapiResyncMs: 1_000,
};

export interface HostRuntime {
  ref: Ref;
  index: number;
  address: string;
  /** The BMC's view: chassis power. */
  powered: boolean;
  /** Powered but hung (kernel panic, hardware fault): answers nothing. */
  crashed: boolean;
  /** Running (its domains too) but cut off: neither the master nor anyone else reaches it (faults/host.ts). */
  partitioned: boolean;
  /** xapi (and stunnel) running. */
  toolstackUp: boolean;
  /** Extra delay before each HTTP answer. */
  slowMs: number;
  /** Answer /rrd_updates with a broken body. */
  malformed: boolean;
  lastHeartbeat: number;
}

export type UnansweredMode = 'refuse' | 'hang';

export class SimulatedPool {
  readonly store: ObjectStore;
  readonly poolRef: Ref;
  readonly hosts: HostRuntime[] = [];
  readonly sessions = new Map<Ref, { user: string; originator: string; created: number }>();
  /** What each host's hypervisor actually runs (truth.ts). */
  readonly truth: GroundTruth;
  /** The guest agents; `frozenHeartbeats`: VMs whose agent stopped (the VM still runs), since when (ms). */
  readonly agents: GuestAgents;
  readonly frozenHeartbeats: Map<Ref, number>;
  /** When each host was down: its RRD rows for that time are NaN. */
  readonly rrdGaps = new RrdGaps();
  /** pool.conf of each host, local sessions, emergency mode (master loss). */
  readonly roles: PoolRoles;
  /** The members' copies of the database (db-backup.ts): what a promoted member starts from. */
  readonly dbBackups: DbBackups;
  /** Set by the server: a host's xapi stopped or started on its own (a restart after a role change). */
  onWireChange?: () => void;
  private timers: NodeJS.Timeout[] = [];

  constructor(readonly options: SimOptions) {
    const build: BuildOptions = { ...options.size, name: options.name, seed: options.seed, firstAddress: options.firstAddress, now: Date.now() };
    const { store, poolRef } = buildPool(build);
    this.store = store;
    this.poolRef = poolRef;
    this.agents = new GuestAgents(options.guestHeartbeatMs);
    this.frozenHeartbeats = this.agents.frozen;
    let i = 0;
    for (const [ref, rec] of store.table('host')) {
      this.hosts.push({
        ref,
        index: i++,
        address: rec.address as string,
        powered: true,
        crashed: false,
        partitioned: false,
        toolstackUp: true,
        slowMs: 0,
        malformed: false,
        lastHeartbeat: Date.now(),
      });
    }
    this.truth = new GroundTruth(this.hosts.map((h) => h.ref));
    for (const [ref, vm] of store.table('VM'))
      if (!vm.is_control_domain && (vm.power_state === 'Running' || vm.power_state === 'Paused')) this.truth.start(ref, vm.resident_on as Ref);
    this.roles = new PoolRoles(this);
    this.dbBackups = new DbBackups(this);
  }

  start(): void {
    this.timers.push(setInterval(() => this.tickLiveness(), 500));
    for (const t of this.timers) t.unref();
    this.dbBackups.start(this.options.dbBackupIntervalMs);
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.roles.stop();
    this.dbBackups.stop();
    this.store.wakeAll();
  }

  get master(): HostRuntime {
    const masterRef = this.store.get('pool', this.poolRef)!.master as Ref;
    return this.hostByRef(masterRef)!;
  }

  hostByRef(ref: Ref): HostRuntime | undefined {
    return this.hosts.find((h) => h.ref === ref);
  }

  hostByAddress(address: string): HostRuntime | undefined {
    return this.hosts.find((h) => h.address === address);
  }

  /** Find a host by name_label, uuid or ref. */
  findHost(key: string): HostRuntime | undefined {
    for (const h of this.hosts) {
      const rec = this.store.get('host', h.ref)!;
      if (h.ref === key || rec.uuid === key || rec.name_label === key || h.address === key) return h;
    }
    return undefined;
  }

  findVm(key: string): Ref | undefined {
    for (const [ref, rec] of this.store.table('VM')) if (ref === key || rec.uuid === key || rec.name_label === key) return ref;
    return undefined;
  }

  /** Does the host's XAPI answer HTTP at all? */
  answers(h: HostRuntime): boolean {
    return h.powered && !h.crashed && !h.partitioned && h.toolstackUp && !this.roles.isRestarting(h);
  }

  wireChanged(): void {
    this.onWireChange?.();
  }

  /** `h` starts as master: the pool record names it, it is live, and every other host gets a fresh heartbeat
   * deadline — a dead old master stays live in this view until then (ocaml/xapi/dbsync_master.ml, db_gc.ml). */
  takeOverDatabase(h: HostRuntime): void {
    const now = Date.now();
    this.store.mod('pool', this.poolRef, { master: h.ref });
    for (const o of this.hosts) o.lastHeartbeat = now;
    this.store.mod('host_metrics', this.store.get('host', h.ref)!.metrics as Ref, { live: true });
  }

  /** How a non-answering host behaves on the wire: a dead box blackholes, a dead toolstack refuses. */
  unansweredMode(h: HostRuntime): UnansweredMode {
    return h.powered && !h.crashed && !h.partitioned ? 'refuse' : 'hang';
  }

  isLive(hostRef: Ref): boolean {
    const host = this.store.get('host', hostRef);
    return Boolean(host && this.store.get('host_metrics', host.metrics as Ref)?.live);
  }

  // ---- sessions ----------------------------------------------------------------------------------------

  async login(user: string, password: string, originator: string, on: HostRuntime): Promise<Ref> {
    const redirect = this.roles.hostIsSlave(on, 'session.login_with_password');
    if (redirect) throw redirect;
    if (user !== this.options.username || password !== this.options.password) {
      await new Promise((r) => setTimeout(r, this.options.authFailureDelayMs));
      throw new XapiError('SESSION_AUTHENTICATION_FAILED', [user, 'Authentication failure'], 'session.login_with_password');
    }
    const ref = `OpaqueRef:${crypto.randomUUID()}`;
    this.sessions.set(ref, { user, originator, created: Date.now() });
    return ref;
  }

  checkSession(ref: unknown, method: string, on?: HostRuntime): void {
    if (on && this.roles.isLocalSession(on, ref)) return;
    if (typeof ref !== 'string' || !this.sessions.has(ref)) throw new XapiError('SESSION_INVALID', [String(ref)], method);
  }

  expireSessions(): number {
    const n = this.sessions.size;
    this.sessions.clear();
    return n;
  }

  // ---- liveness and heartbeats --------------------------------------------------------------------------

  private tickLiveness(): void {
    const now = Date.now();
    // The master computes liveness: while it does not answer, its database does not change.
    const master = this.master;
    if (!this.answers(master) || !this.roles.isMaster(master)) return;
    for (const h of this.hosts) {
      // A dead toolstack alone keeps the host in the live set (its heartbeat daemon still runs); a hung or
      // powered-off host is declared dead after hostDeadAfterMs. Only hosts whose pool.conf names this master
      // heartbeat to it; a partitioned host's heartbeats do not reach it.
      if (h === master || (h.powered && !h.crashed && !h.partitioned && this.roles.heartbeats(h))) h.lastHeartbeat = now;
      const live = now - h.lastHeartbeat <= this.options.hostDeadAfterMs;
      const metricsRef = this.store.get('host', h.ref)!.metrics as Ref;
      this.store.mod('host_metrics', metricsRef, { live });
      if (live) this.store.touch('host_metrics', metricsRef, { last_updated: xapiDate(now) });
    }
  }

  // Guest heartbeats: no timer. A healthy agent's data/meminfo_free reaches the RRDs (simulator/guest-agent.ts);
  // VM_guest_metrics.last_updated moves only when a new domain's agent first reports (start, reboot: place() and
  // vmHardReboot()), as xapi_guest_agent.ml writes it only when the agent's static data changed.

  // ---- VM power operations, with XAPI's errors ----------------------------------------------------------

  vm(ref: Ref, method: string): XapiRecord {
    const vm = this.store.get('VM', ref);
    if (!vm) throw new XapiError('HANDLE_INVALID', ['VM', String(ref)], method);
    if (vm.is_a_template) throw new XapiError('VM_IS_TEMPLATE', [ref, 'start'], method);
    return vm;
  }

  private host(ref: Ref, method: string): XapiRecord {
    const host = this.store.get('host', ref);
    if (!host) throw new XapiError('HANDLE_INVALID', ['host', String(ref)], method);
    return host;
  }

  private expectPower(ref: Ref, vm: XapiRecord, expected: PowerState[], method: string): void {
    const actual = vm.power_state as PowerState;
    if (!expected.includes(actual)) throw new XapiError('VM_BAD_POWER_STATE', [ref, expected[0]!.toLowerCase(), actual.toLowerCase()], method);
  }

  private freeMemory(hostRef: Ref): number {
    const host = this.store.get('host', hostRef)!;
    return this.store.get('host_metrics', host.metrics as Ref)!.memory_free as number;
  }

  /** Can `vm` start on `hostRef`? Throws the XAPI error that says why not. */
  assertCanStartOn(vmRef: Ref, hostRef: Ref, method: string): void {
    const host = this.host(hostRef, method);
    const rt = this.hostByRef(hostRef)!;
    if (!this.isLive(hostRef) || !this.answers(rt)) throw new XapiError('HOST_OFFLINE', [hostRef], method);
    if (!host.enabled) throw new XapiError('HOST_DISABLED', [hostRef], method);
    const need = this.store.get('VM', vmRef)!.memory_static_max as number;
    const free = this.freeMemory(hostRef);
    if (need > free) throw new XapiError('HOST_NOT_ENOUGH_FREE_MEMORY', [String(need), String(free)], method);
  }

  /** Where a VM starts (or resumes): `hostRef` if it can run it, else the first host that can, affinity first. */
  hostFor(vmRef: Ref, hostRef: Ref | null, method: string): Ref {
    if (hostRef) {
      this.assertCanStartOn(vmRef, hostRef, method);
      return hostRef;
    }
    const vm = this.store.get('VM', vmRef)!;
    const candidates = [vm.affinity as Ref, ...this.hosts.map((h) => h.ref)].filter((r) => r && r !== NULL_REF);
    const target = candidates.find((r) => {
      try {
        this.assertCanStartOn(vmRef, r, method);
        return true;
      } catch {
        return false;
      }
    });
    if (!target) throw new XapiError('NO_HOSTS_AVAILABLE', [], method);
    return target;
  }

  async vmStart(vmRef: Ref, hostRef: Ref | null, method: string): Promise<void> {
    const vm = this.vm(vmRef, method);
    this.expectPower(vmRef, vm, ['Halted'], method);
    const target = this.hostFor(vmRef, hostRef, method);
    // Reserve the host at once, as XAPI does, so concurrent starts see the memory as taken.
    if (startSetsAlwaysRun(vm)) this.store.mod('VM', vmRef, { ha_always_run: true });
    this.place(vmRef, target, 'Running');
    this.truth.start(vmRef, target);
    await new Promise((r) => setTimeout(r, this.options.vmBootMs));
  }

  async vmHardReboot(vmRef: Ref, method: string): Promise<void> {
    const vm = this.vm(vmRef, method);
    this.expectPower(vmRef, vm, ['Running', 'Paused'], method);
    const host = this.hostByRef(vm.resident_on as Ref);
    if (!host || !this.answers(host)) throw new XapiError('HOST_OFFLINE', [vm.resident_on as Ref], method);
    this.frozenHeartbeats.delete(vmRef);
    this.store.mod('VM', vmRef, { power_state: 'Running' });
    this.store.mod('VM_metrics', vm.metrics as Ref, { start_time: xapiDate(Date.now()) });
    await new Promise((r) => setTimeout(r, this.options.vmBootMs));
    this.store.mod('VM_guest_metrics', vm.guest_metrics as Ref, { last_updated: xapiDate(Date.now()) });
  }

  vmShutdown(vmRef: Ref, method: string): void {
    const vm = this.vm(vmRef, method);
    this.expectPower(vmRef, vm, ['Running', 'Paused'], method);
    const host = this.hostByRef(vm.resident_on as Ref);
    if (!host || !this.answers(host)) throw new XapiError('HOST_OFFLINE', [vm.resident_on as Ref], method);
    this.truth.stop(vmRef, host.ref);
    // xapi_vm.ml hard_shutdown / clean_shutdown: an API shutdown clears ha_always_run before the domain stops.
    this.store.mod('VM', vmRef, { ha_always_run: false });
    this.place(vmRef, null, 'Halted');
  }

  vmPause(vmRef: Ref, method: string): void {
    const vm = this.vm(vmRef, method);
    this.expectPower(vmRef, vm, ['Running'], method);
    this.store.mod('VM', vmRef, { power_state: 'Paused' });
  }

  vmUnpause(vmRef: Ref, method: string): void {
    const vm = this.vm(vmRef, method);
    this.expectPower(vmRef, vm, ['Paused'], method);
    this.store.mod('VM', vmRef, { power_state: 'Running' });
  }

  /** DB-only reset to Halted: the domain, wherever it runs, is not touched. As xen-api ocaml/xapi/xapi_vm.ml
   * power_state_reset: refused for a control domain; for a Running/Paused VM resident on the master when xenopsd
   * still runs it (DOMAIN_EXISTS), or resident on another host that is alive (Xapi_host.is_host_alive: live in the
   * database and answering the master — HOST_IS_LIVE). A host that is marked live but does not answer counts as dead. */
  vmPowerStateReset(vmRef: Ref, method: string): void {
    const vm = this.vm(vmRef, method);
    if (vm.is_control_domain) throw new XapiError('CANNOT_RESET_CONTROL_DOMAIN', [vmRef], method);
    const hostRef = vm.resident_on as Ref;
    const host = this.hostByRef(hostRef);
    if ((vm.power_state === 'Running' || vm.power_state === 'Paused') && host) {
      if (host.ref === this.master.ref) {
        if (this.truth.runs(vmRef, hostRef)) throw new XapiError('DOMAIN_EXISTS', [vmRef], method);
      } else if (this.isLive(hostRef) && this.answers(host)) throw new XapiError('HOST_IS_LIVE', [hostRef], method);
    }
    this.place(vmRef, null, 'Halted');
  }

  /** Move a VM's residency and power state, keeping host.resident_VMs, metrics and free memory consistent. */
  place(vmRef: Ref, hostRef: Ref | null, power: PowerState): void {
    const vm = this.store.get('VM', vmRef)!;
    const old = vm.resident_on as Ref;
    if (old && old !== NULL_REF) {
      const oldHost = this.store.get('host', old);
      if (oldHost) this.store.mod('host', old, { resident_VMs: (oldHost.resident_VMs as Ref[]).filter((r) => r !== vmRef) });
    }
    if (hostRef) {
      const host = this.store.get('host', hostRef)!;
      this.store.mod('host', hostRef, { resident_VMs: [...(host.resident_VMs as Ref[]), vmRef] });
    }
    const running = power === 'Running' || power === 'Paused';
    this.store.mod('VM', vmRef, {
      power_state: power,
      resident_on: hostRef ?? NULL_REF,
      domid: running ? 100 + Math.floor(Math.random() * 900) : -1,
      memory_target: running ? (vm.memory_static_max as number) : 0,
    });
    this.store.mod('VM_metrics', vm.metrics as Ref, {
      start_time: xapiDate(running ? Date.now() : 0),
      memory_actual: running ? (vm.memory_static_max as number) : 0,
      VCPUs_number: running ? (vm.VCPUs_at_startup as number) : 0,
    });
    for (const vbd of vm.VBDs as Ref[]) this.store.mod('VBD', vbd, { currently_attached: running });
    for (const vif of vm.VIFs as Ref[]) this.store.mod('VIF', vif, { currently_attached: running });
    if (running) {
      this.frozenHeartbeats.delete(vmRef);
      if (vm.guest_metrics !== NULL_REF) this.store.mod('VM_guest_metrics', vm.guest_metrics as Ref, { last_updated: xapiDate(Date.now()) });
    }
    recomputeHostMemory(this.store);
  }

  hostDisable(hostRef: Ref, method: string): void {
    this.host(hostRef, method);
    const rt = this.hostByRef(hostRef)!;
    // host.disable is forwarded to the host itself: a host that does not answer cannot be disabled.
    if (!this.answers(rt)) throw new XapiError('HOST_OFFLINE', [hostRef], method);
    this.store.mod('host', hostRef, { enabled: false });
  }

  hostEnable(hostRef: Ref, method: string): void {
    this.host(hostRef, method);
    const rt = this.hostByRef(hostRef)!;
    if (!this.answers(rt)) throw new XapiError('HOST_OFFLINE', [hostRef], method);
    this.store.mod('host', hostRef, { enabled: true });
  }

  // ---- faults -------------------------------------------------------------------------------------------

  /** The host hangs (powered, not answering); its VMs stay Running in the database, as in XAPI without HA. */
  failHost(h: HostRuntime): void {
    h.crashed = true;
    this.rrdGaps.down(h.ref);
    for (const vmRef of this.store.get('host', h.ref)!.resident_VMs as Ref[]) this.agents.freeze(vmRef);
  }

  /** The BMC powers the host off (fencing). */
  powerOff(h: HostRuntime): void {
    this.truth.poweredOff(h.ref, { powered: h.powered, up: h.powered && !h.crashed && !h.partitioned, live: this.isLive(h.ref) });
    h.powered = false;
    this.rrdGaps.down(h.ref);
    for (const vmRef of this.store.get('host', h.ref)!.resident_VMs as Ref[]) this.agents.freeze(vmRef);
  }

  /** Power on / reset: the host boots, XAPI resyncs — VMs it still lists as resident are Halted now. */
  powerOn(h: HostRuntime): void {
    const xapiWasDown = !this.answers(h);
    const wasDown = !h.powered || h.crashed;
    h.powered = true;
    h.crashed = false;
    h.toolstackUp = true;
    h.lastHeartbeat = Date.now();
    if (xapiWasDown) this.roles.xapiStarted(h);
    if (!wasDown) return;
    // A reset of a hung box ends its domains as a power-off does (the BMC reset is a cold boot).
    this.truth.clear(h.ref);
    this.rrdGaps.up(h.ref);
    // Cut off from the master, the booted host cannot resync yet: faults/host.ts heal() does it on reconnection.
    if (h.partitioned) return;
    const host = this.store.get('host', h.ref)!;
    for (const vmRef of [...(host.resident_VMs as Ref[])]) {
      const vm = this.store.get('VM', vmRef)!;
      if (!vm.is_control_domain) this.place(vmRef, null, 'Halted');
    }
    this.store.mod('host', h.ref, { enabled: true, other_config: { ...(host.other_config as object), boot_time: String(Math.floor(Date.now() / 1000)) } });
  }

  killToolstack(h: HostRuntime): void {
    h.toolstackUp = false;
  }

  /** xe-toolstack-restart: xapi comes back; a host disabled with auto_enable re-enables itself. */
  restartToolstack(h: HostRuntime): void {
    if (!h.powered || h.crashed) throw new Error(`host ${h.address} is down`);
    h.toolstackUp = true;
    this.roles.xapiStarted(h);
    const host = this.store.get('host', h.ref)!;
    this.store.mod('host', h.ref, {
      enabled: true,
      other_config: { ...(host.other_config as object), agent_start_time: String(Math.floor(Date.now() / 1000)) },
    });
  }

  /**
   * `halt`: the VM's domain crashes and xenopsd applies its actions_after_crash (restarted in place, or Halted —
   * simulator/crash.ts); `heartbeat`: it runs but the guest agent stopped reporting.
   */
  crashVm(vmRef: Ref, mode: 'halt' | 'heartbeat'): void {
    const vm = this.vm(vmRef, 'sim.crash_vm');
    if (vm.power_state !== 'Running') throw new Error(`VM ${vm.name_label} is ${vm.power_state}, not Running`);
    if (mode === 'heartbeat') this.agents.freeze(vmRef);
    else if (crashAction(vm, this.store.get('VM_metrics', vm.metrics as Ref), Date.now()) === 'restart') this.rebootInPlace(vmRef);
    else {
      this.truth.stop(vmRef, vm.resident_on as Ref);
      this.place(vmRef, null, 'Halted');
    }
  }

  /** A new domain on the same host (xenopsd VM_reboot): power_state stays Running, start_time and domid change. */
  private rebootInPlace(vmRef: Ref): void {
    const vm = this.store.get('VM', vmRef)!;
    this.agents.thaw(vmRef);
    this.store.mod('VM', vmRef, { domid: 100 + Math.floor(Math.random() * 900) });
    this.store.mod('VM_metrics', vm.metrics as Ref, { start_time: xapiDate(Date.now()) });
    if (vm.guest_metrics !== NULL_REF) this.store.mod('VM_guest_metrics', vm.guest_metrics as Ref, { last_updated: xapiDate(Date.now()) });
  }
}
