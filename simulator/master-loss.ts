// Pool roles and what xapi does when the pool master is lost: each host's pool.conf (master, or slave of an
// address), local sessions, emergency mode, the emergency calls (promote a member, point members at a new master)
// and the xapi restarts they cause. Each behaviour cites the xen-api file it models; simulator/FIDELITY.md
// ("Master loss") lists them and what is simplified.
import { XapiError } from '../core/errors.js';
import type { Ref, XapiValue } from './model/types.js';
import type { HostRuntime, SimulatedPool } from './pool.js';
import { resyncResidentOn } from './faults/host.js';

/** pool.conf: "master", or "slave:<master address>" (ocaml/xapi-aux/pool_role.ml). */
export type PoolRole = { kind: 'master' } | { kind: 'slave'; master: string };

/** The calls a host in emergency mode still serves, and the only ones a local session is meant for
 * (ocaml/idl/datamodel.ml `emergency_calls`, lower-cased; the ones the simulator implements). */
const EMERGENCY_CALLS = new Set([
  'pool.emergency_reset_master',
  'pool.emergency_transition_to_master',
  'pool.is_slave',
  'session.slave_local_login_with_password',
  'session.local_logout',
  'host.is_in_emergency_mode',
]);

/** How long a member's DB access waits for an unreachable master before the simulator gives up (real xapi retries
 * forever: master_connection_retry_timeout = -1, ocaml/database/db_globs.ml). */
const MASTER_WAIT_CAP_MS = 10 * 60_000;

export class PoolRoles {
  /** The role the running xapi acts on: read from pool.conf once, at start (Pool_role caches it). */
  private readonly roles = new Map<Ref, PoolRole>();
  /** pool.conf written since the running xapi started: applied at its next start. */
  private readonly onDisk = new Map<Ref, PoolRole>();
  /** Local sessions per host (ocaml/xapi/xapi_local_session.ml: an in-memory table on that host only). */
  private readonly local = new Map<Ref, Set<string>>();
  /** Hosts in slave emergency mode, with the error they answer (ocaml/xapi/xapi.ml server_run_in_emergency_mode). */
  private readonly emergency = new Map<Ref, XapiError>();
  /** Hosts whose xapi is restarting (between exit and the next start): connections are reset. */
  private readonly restarting = new Set<Ref>();
  private timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly pool: SimulatedPool) {
    const master = pool.master;
    for (const h of pool.hosts) this.roles.set(h.ref, h === master ? { kind: 'master' } : { kind: 'slave', master: master.address });
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  roleOf(h: HostRuntime): PoolRole {
    return this.roles.get(h.ref)!;
  }

  isMaster(h: HostRuntime): boolean {
    return this.roleOf(h).kind === 'master';
  }

  /** The hosts acting as master now (answering, running as master): more than one after a failover gone wrong. */
  masters(): HostRuntime[] {
    return this.pool.hosts.filter((h) => this.isMaster(h) && this.pool.answers(h));
  }

  isRestarting(h: HostRuntime): boolean {
    return this.restarting.has(h.ref);
  }

  inEmergencyMode(h: HostRuntime): boolean {
    return this.emergencyError(h) !== undefined;
  }

  /** HOST_IS_SLAVE names the address in the member's pool.conf, whether or not that host is alive
   * (ocaml/xapi/xapi_session.ml login_with_password: Pool_role.get_master_address ()). */
  hostIsSlave(h: HostRuntime, method: string): XapiError | undefined {
    const role = this.roleOf(h);
    return role.kind === 'slave' ? new XapiError('HOST_IS_SLAVE', [role.master], method) : undefined;
  }

  /** Does `h` reach a host that answers as master at the address of its pool.conf? */
  reachesMaster(h: HostRuntime): boolean {
    const role = this.roleOf(h);
    if (role.kind === 'master') return true;
    const m = this.pool.hostByAddress(role.master);
    return Boolean(m && m !== h && this.pool.answers(m) && this.isMaster(m));
  }

  /**
   * A member's database access goes to its master (ocaml/xapi/context.ml: Db_ref.Remote on slaves) and, while the
   * master does not answer, retries without end (ocaml/database/master_connection.ml). Session checks of pool
   * sessions (ocaml/xapi/session_check.ml) and of HTTP handlers such as /rrd_updates (ocaml/xapi/xapi_http.ml
   * validate_session) read the database, so they stall until the master answers again.
   */
  async waitForMaster(h: HostRuntime, method: string): Promise<void> {
    const deadline = Date.now() + MASTER_WAIT_CAP_MS;
    while (!this.reachesMaster(h)) {
      if (this.stopped || !this.pool.answers(h) || Date.now() > deadline)
        throw new XapiError('INTERNAL_ERROR', ['the simulator stopped waiting for the master'], method);
      await new Promise((r) => setTimeout(r, 100).unref());
    }
  }

  /** Does this host heartbeat to the master whose database is the store? (ocaml/xapi/db_gc.ml tickle_heartbeat) */
  heartbeats(h: HostRuntime): boolean {
    const role = this.roleOf(h);
    return role.kind === 'slave' && role.master === this.pool.master.address && !this.inEmergencyMode(h);
  }

  // ---- sessions ---------------------------------------------------------------------------------------------

  isLocalSession(h: HostRuntime, session: unknown): boolean {
    return typeof session === 'string' && Boolean(this.local.get(h.ref)?.has(session));
  }

  /** session.slave_local_login_with_password: local superuser only, no role check, valid on this host only
   * (ocaml/xapi/xapi_session.ml; ocaml/idl/datamodel.ml "only good for use on this host"). */
  localLogin(h: HostRuntime, user: string, password: string, method: string): Ref {
    if (user !== this.pool.options.username || password !== this.pool.options.password)
      throw new XapiError('SESSION_AUTHENTICATION_FAILED', [user, 'Authentication failure'], method);
    const ref = `OpaqueRef:${crypto.randomUUID()}`;
    let set = this.local.get(h.ref);
    if (!set) this.local.set(h.ref, (set = new Set()));
    set.add(ref);
    return ref;
  }

  // ---- emergency mode ---------------------------------------------------------------------------------------

  /** The error a host in emergency mode answers to every other call (ocaml/xapi/api_server.ml callback1).
   * A slave leaves emergency mode once it talks to its master (ocaml/xapi/xapi.ml: retried every 5 s). */
  emergencyError(h: HostRuntime): XapiError | undefined {
    const err = this.emergency.get(h.ref);
    if (err && this.reachesMaster(h)) {
      this.emergency.delete(h.ref);
      this.pool.dbBackups.backupTo(h);
      this.resyncLater(h);
      return undefined;
    }
    return err;
  }

  /**
   * The part of dispatch that depends on roles, run before anything else. Returns the answer of a call it
   * handled, or undefined to go on with the normal dispatch (after `serveAsMember`).
   */
  async dispatch(h: HostRuntime, method: string, params: unknown[]): Promise<XapiValue | undefined> {
    const name = method.toLowerCase();
    const emergencyCall = EMERGENCY_CALLS.has(name);
    const emergencyErr = this.emergencyError(h);
    if (emergencyErr && !emergencyCall) throw new XapiError(emergencyErr.code, emergencyErr.params, method);
    if (!emergencyCall) return undefined;
    if (name === 'session.slave_local_login_with_password') {
      if (typeof params[0] !== 'string' || typeof params[1] !== 'string') throw new XapiError('FIELD_TYPE_ERROR', [method], method);
      return this.localLogin(h, params[0], params[1], method);
    }
    const session = params[0];
    // Emergency calls are made with a local session; a pool session is good only on the master itself (elsewhere
    // checking it would need the master's database).
    const poolSessionOnMaster = typeof session === 'string' && this.pool.sessions.has(session) && this.isMaster(h);
    if (!this.isLocalSession(h, session) && !poolSessionOnMaster) throw new XapiError('SESSION_INVALID', [String(session)], method);
    switch (name) {
      case 'session.local_logout':
        this.local.get(h.ref)?.delete(session as string);
        return '';
      case 'pool.is_slave':
        return !this.isMaster(h);
      case 'host.is_in_emergency_mode':
        return this.inEmergencyMode(h);
      case 'pool.emergency_transition_to_master':
        this.assertHaOff(method);
        this.transitionToMaster(h);
        return '';
      case 'pool.emergency_reset_master': {
        this.assertHaOff(method);
        if (typeof params[1] !== 'string') throw new XapiError('FIELD_TYPE_ERROR', ['master_address'], method);
        this.resetMaster(h, params[1]);
        return '';
      }
    }
    throw new XapiError('MESSAGE_METHOD_UNKNOWN', [method], method);
  }

  /** A non-emergency call reached host `h`: a member needs its master's database first; then a pool session on a
   * member is redirected (HOST_IS_SLAVE with the master's address from the database, ocaml/xapi/session_check.ml),
   * a local session is served. Returns normally when `h` should serve the call. */
  async serveAsMember(h: HostRuntime, session: unknown, method: string): Promise<void> {
    if (this.isMaster(h)) return;
    await this.waitForMaster(h, method);
    if (this.isLocalSession(h, session)) return;
    throw new XapiError('HOST_IS_SLAVE', [this.pool.master.address], method);
  }

  private assertHaOff(method: string): void {
    if (this.haArmed()) throw new XapiError('HA_IS_ENABLED', [], method);
  }

  /** xapi checks its local database's ha_armed flag (ocaml/xapi/xapi_pool.ml); the pool record says the same. */
  private haArmed(): boolean {
    return Boolean(this.pool.store.get('pool', this.pool.poolRef)!.ha_enabled);
  }

  // ---- transitions ------------------------------------------------------------------------------------------

  /** pool.emergency_transition_to_master: pool.conf := master, then xapi restarts (Xapi_fuse, 10 s) and comes up
   * as master (ocaml/xapi/xapi_pool.ml, ocaml/xapi/xapi_pool_transition.ml become_master). */
  private transitionToMaster(h: HostRuntime): void {
    this.onDisk.set(h.ref, { kind: 'master' });
    this.restartXapi(h);
  }

  /** pool.emergency_reset_master: pool.conf := slave of `address` and xapi restarts, unless it already points
   * there (ocaml/xapi/xapi_pool_transition.ml become_another_masters_slave). Works on an old master too. */
  resetMaster(h: HostRuntime, address: string): void {
    const role = this.roleOf(h);
    if (role.kind === 'slave' && role.master === address) return;
    this.onDisk.set(h.ref, { kind: 'slave', master: address });
    this.restartXapi(h);
  }

  /**
   * pool.recover_slaves, on the master: emergency_reset_master(my address) on every other host in the database,
   * each over a fresh local session; a host that fails is skipped. Returns the hosts that were reset
   * (ocaml/xapi/xapi_pool.ml recover_slaves; ocaml/idl/datamodel_pool.ml: "list of hosts whose master address
   * were successfully reset"), newest first as xapi builds it (`recovered_hosts := hostref :: !recovered_hosts`).
   * A host that hangs costs the caller `remoteTimeoutMs`. With HA armed each remote emergency_reset_master refuses
   * (HA_IS_ENABLED, caught like any failure): nothing is reset and the answer is empty.
   */
  async recoverSlaves(h: HostRuntime, method: string): Promise<Ref[]> {
    const redirect = this.hostIsSlave(h, method);
    if (redirect) throw redirect;
    const recovered: Ref[] = [];
    for (const other of this.pool.hosts) {
      if (other === h) continue;
      if (!this.pool.answers(other)) {
        if (this.pool.unansweredMode(other) === 'hang') await new Promise((r) => setTimeout(r, this.pool.options.remoteTimeoutMs));
        continue;
      }
      if (this.haArmed()) continue;
      this.resetMaster(other, h.address);
      recovered.unshift(other.ref);
    }
    return recovered;
  }

  /** xapi exits and starts again after the fuse (ocaml/xapi/xapi_fuse.ml, ocaml/xapi-consts/constants.ml
   * fuse_time = 10 s); in between, connections are reset. */
  restartXapi(h: HostRuntime): void {
    const { xapiFuseMs, xapiStartMs } = this.pool.options;
    this.later(xapiFuseMs, () => {
      this.restarting.add(h.ref);
      this.pool.wireChanged();
      this.later(xapiStartMs, () => {
        this.restarting.delete(h.ref);
        this.xapiStarted(h);
        this.pool.wireChanged();
      });
    });
  }

  /**
   * xapi starts on `h` (boot, toolstack restart, after a transition). A master first asks every other host in its
   * database whether it is a slave; if one says it is a master, this host becomes its slave and restarts — but a
   * host that does not answer is skipped ("just a sanity check, not a guarantee": ocaml/xapi/xapi.ml
   * check_no_other_masters). Then it takes the pool (ocaml/xapi/dbsync_master.ml: pool.master := itself, live).
   * A slave that cannot reach its master runs in emergency mode (ocaml/xapi/xapi.ml).
   */
  xapiStarted(h: HostRuntime): void {
    if (!this.pool.answers(h)) return;
    this.local.delete(h.ref);
    this.emergency.delete(h.ref);
    const wasSlave = this.roleOf(h).kind === 'slave';
    const written = this.onDisk.get(h.ref);
    if (written) this.roles.set(h.ref, written);
    this.onDisk.delete(h.ref);
    const role = this.roleOf(h);
    if (role.kind === 'master') {
      const other = this.pool.hosts.find((o) => o !== h && this.pool.answers(o) && this.isMaster(o));
      if (other) {
        this.roles.set(h.ref, { kind: 'slave', master: other.address });
        this.xapiStarted(h);
        return;
      }
      // A promoted member runs on its own copy of the database (db-backup.ts).
      if (wasSlave) this.pool.dbBackups.rollBack(h);
      this.pool.takeOverDatabase(h);
      this.resyncLater(h);
      return;
    }
    if (!this.reachesMaster(h)) {
      this.emergency.set(h.ref, new XapiError('INTERNAL_ERROR', [`cannot contact the pool master at ${role.master}`], 'xapi startup'));
      return;
    }
    this.pool.dbBackups.backupTo(h);
    this.resyncLater(h);
  }

  /**
   * Every xapi start ends with its VM resync (ocaml/xapi/xapi.ml "resynchronising VM state" →
   * xapi_xenops.ml on_xapi_restart → resync_resident_on: faults/host.ts resyncResidentOn), well after the host
   * answers calls again ("bringing up management interface" comes first; a member then contacts its master, runs
   * dbsync and initialises storage): `xapiResyncMs` later here. A host that no longer answers or reaches its master
   * by then resyncs at its next start.
   */
  private resyncLater(h: HostRuntime): void {
    this.later(this.pool.options.xapiResyncMs, () => {
      if (this.pool.answers(h) && !this.restarting.has(h.ref) && this.reachesMaster(h)) resyncResidentOn(this.pool, h);
    });
  }

  private later(ms: number, f: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) f();
    }, ms);
    t.unref();
    this.timers.add(t);
  }
}
