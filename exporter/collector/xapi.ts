// The `xapi` collector of one pool: is the master there (a cheap call, then the inventory in sync), do the members'
// toolstacks answer (a login at each host's own address, asked while the master is), follow a promoted member, and
// the pool's records as the inventory watcher keeps them (xcp_pool_*, hosts, VMs, SRs, halts). Always on: the other
// collectors of the pool use its session and inventory. Fails when the pool is not connected, after adding what is
// known (xcp_pool_connected 0, the objects as last read).
import type { PoolConfig } from '../../core/config/pool.js';
import { XapiError } from '../../core/errors.js';
import type { OutageLog } from '../../core/outage-log.js';
import type { XapiClient } from '../../core/xapi/client.js';
import type { ExporterConfig } from '../config.js';
import type { InventoryWatcher } from '../inventory/watcher.js';
import { HOST, type MetricSink, POOL, gauge } from '../metrics/declare.js';
import { labelString } from '../metrics/families.js';
import { addHaltMetrics } from '../metrics/halt-metrics.js';
import { addInventoryMetrics } from '../metrics/inventory-metrics.js';
import type { CollectContext, Collector } from './collector.js';
import { type HostProbe, type KnownHost, newMaster, probeHosts, toolstackAnswers } from './members.js';

const CONNECTED = gauge('xcp_pool_connected', 'The exporter has a working XAPI session to the pool master (1) or not (0)', POOL);
const MASTER_REACHABLE = gauge('xcp_pool_master_reachable', "The pool master's XAPI answered in the last poll (1) or not (0)", POOL);
const MASTERS = gauge(
  'xcp_pool_masters',
  'Hosts of the pool acting as master in the last poll (the followed master if it answers, and any other host accepting a login as master): more than 1 is two masters',
  POOL,
);
const TOOLSTACK_UP = gauge('xcp_host_toolstack_up', "The host's XAPI answered in the last poll (1) or not (0): a member's HOST_IS_SLAVE counts", HOST);

/** What the xapi collector uses of its pool. */
export interface XapiPool {
  readonly xapi: XapiClient;
  readonly watcher: InventoryWatcher;
  readonly pool: PoolConfig<unknown>;
  /** The `pool_name` and `pool_id` labels (PoolCollector). */
  poolName(): string;
  poolId(): string | undefined;
}

export class XapiCollector implements Collector {
  readonly name = 'xapi';
  readonly enabled = true;
  /** The exporter has a working session and the inventory is in sync, as of the last run. */
  connected = false;
  /** The pool's master answered XAPI in the last run (any XAPI answer, even an error). */
  masterReachable = false;
  /** The master refused the login (SESSION_AUTHENTICATION_FAILED) in the last run. */
  authFailed = false;
  private readonly xapi: XapiClient;
  private readonly watcher: InventoryWatcher;
  private readonly pool: PoolConfig<unknown>;
  /** The last master check failed. */
  private lastCheckFailed = false;
  /** When the check that found the master answering again after a failed one began (-Infinity: no outage seen yet). */
  private answeringAgainSince = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly of: XapiPool,
    private readonly config: ExporterConfig,
    private readonly outages: OutageLog,
  ) {
    this.xapi = of.xapi;
    this.watcher = of.watcher;
    this.pool = of.pool;
  }

  /** Every call the master check makes may take a login and twice the call timeout, and it runs twice when the
   * exporter follows a new master. */
  deadlineMs(): number {
    const { loginMs, callMs } = this.pool.timeouts;
    return 2 * (loginMs + 2 * callMs) + this.config.poll_interval_seconds * 1000;
  }

  private poolName(): string {
    return this.of.poolName();
  }

  private poolId(): string | undefined {
    return this.of.poolId();
  }

  /** Every host of the last inventory with an address, except the master the client talks to. */
  private members(): KnownHost[] {
    const inv = this.watcher.inventory;
    const current = this.masterAddress();
    const out: KnownHost[] = [];
    for (const [ref, h] of inv.all('host')) {
      const address = String(h.address ?? '');
      if (address && address !== current && ref !== inv.pool?.master) out.push({ uuid: h.uuid, name: String(h.name_label ?? h.uuid), address });
    }
    return out;
  }

  /** The address the client calls the master at (host.address form: IPv6 without brackets). */
  private masterAddress(): string {
    return new URL(this.xapi.masterUrl).hostname.replace(/^\[|\]$/g, '');
  }

  /** Is the master there? Sets connected and masterReachable; returns why not. A cheap call proves the master answers
   * now; the watcher's long poll would notice only after its timeout. */
  private async checkMaster(): Promise<unknown> {
    let failure: unknown;
    const callMs = this.pool.timeouts.callMs;
    const asked = Date.now();
    try {
      await this.xapi.call('pool.get_all');
      this.masterReachable = true;
      if (this.lastCheckFailed) this.answeringAgainSince = asked;
      this.lastCheckFailed = false;
      // The master answers: the watcher need not sit out its backoff, nor wait on a call sent before the master
      // answered again (a hung or rebooted master never answers it). A call sent with no outage seen — the first
      // read at start, which takes seconds on a large pool — is left to finish: ending it would only start it again.
      if (!this.watcher.status.synced) {
        if (this.watcher.waitingSince(this.answeringAgainSince)) this.xapi.endPendingCalls();
        this.watcher.retryNow();
      }
      this.connected = await this.watcher.whenSynced(callMs);
      if (!this.connected) failure = this.watcher.status.lastError?.message ?? 'inventory not read yet';
    } catch (err) {
      failure = err;
      this.connected = false;
      this.lastCheckFailed = true;
      // Any XAPI answer (a wrong password, HOST_IS_SLAVE from a member that a redirect led to) means it answers.
      this.masterReachable = err instanceof XapiError;
      if (err instanceof XapiError && err.code === 'SESSION_AUTHENTICATION_FAILED')
        this.outages.failed(
          'auth',
          'XAPI authentication failed: the pool master refuses the user name or password (retried with backoff; the password file is read again before each retry)',
          { master: this.xapi.masterUrl, username: this.pool.username },
        );
      else this.outages.failed('xapi', 'pool master does not answer', { master: this.xapi.masterUrl, error: err });
    }
    this.authFailed = this.xapi.loginRefused;
    if (this.connected) {
      this.outages.recovered('auth', 'XAPI login accepted again', { master: this.xapi.masterUrl });
      this.outages.recovered('xapi', 'pool master answers again', { master: this.xapi.masterUrl });
    }
    return failure;
  }

  async collect(set: MetricSink, ctx: CollectContext): Promise<void> {
    // The members are asked while the master is: a dead master costs one call timeout, not two.
    const members = this.members();
    const probing = probeHosts(this.xapi, members, this.pool.timeouts.loginMs, this.config.rrd.concurrency);
    let failure = await this.checkMaster();
    const probes = await probing;
    if (!this.masterReachable) {
      const next = newMaster(probes, this.masterAddress());
      if (next === 'ambiguous')
        this.outages.failed('masters', 'several hosts answer as pool master: not following any', {
          masters: probes.filter((p) => p.result.state === 'master').map((p) => p.address),
        });
      else this.outages.recovered('masters', 'no longer several hosts answering as pool master');
      if (next && next !== 'ambiguous') {
        // A member was promoted: follow it now, without waiting for a restart or the next poll. The former master
        // was not probed (it was the master): it did not answer the master check.
        const former = this.watcher.inventory.get('host', this.watcher.inventory.pool?.master);
        if (former)
          probes.push({
            uuid: former.uuid,
            name: String(former.name_label),
            address: String(former.address),
            result: { state: 'silent', error: new Error('the former master did not answer') },
          });
        this.xapi.follow(next.address);
        this.watcher.retryNow();
        if (failure !== undefined) ctx.countError(failure);
        failure = await this.checkMaster();
      }
    }
    this.logProbes(probes);
    const inv = this.watcher.inventory;
    const poolName = this.poolName();
    const poolLabels = labelString({ pool_id: this.poolId(), pool_name: poolName });
    set.add(CONNECTED, poolLabels, this.connected ? 1 : 0);
    set.add(MASTER_REACHABLE, poolLabels, this.masterReachable ? 1 : 0);
    // An old master that came back without noticing the new one still accepts logins: two masters.
    const otherMasters = probes.filter((p) => p.result.state === 'master' && p.address !== this.masterAddress()).length;
    set.add(MASTERS, poolLabels, (this.masterReachable ? 1 : 0) + otherMasters);
    const toolstack = new Map(probes.map((p) => [p.uuid, toolstackAnswers(p)]));
    // Known objects stay visible while the master is away (as XO does). Their liveness is the master's last view,
    // except that a host whose XAPI does not answer is not reported live from that stale view.
    if (inv.pool) {
      const stale = this.connected
        ? undefined
        : (uuid: string) => (toolstack.get(uuid) ?? (uuid === this.masterUuid() ? this.masterReachable : undefined)) === false;
      addInventoryMetrics(set, inv, poolName, Date.now(), stale, this.config.labels.tags);
      addHaltMetrics(set, this.watcher.halts, inv, poolName);
      this.addToolstackMetrics(set, toolstack);
    }
    if (failure !== undefined) throw failure;
  }

  private masterUuid(): string | undefined {
    const inv = this.watcher.inventory;
    return inv.get('host', inv.pool?.master)?.uuid;
  }

  /** xcp_host_toolstack_up: the master from the master check, every other host from its probe. */
  private addToolstackMetrics(set: MetricSink, probed: Map<string, boolean>): void {
    const inv = this.watcher.inventory;
    const masterUuid = this.masterUuid();
    for (const [, h] of inv.all('host')) {
      const up = h.uuid === masterUuid ? this.masterReachable : probed.get(h.uuid);
      if (up === undefined) continue;
      const labels = labelString({ pool_id: inv.pool?.uuid, pool_name: this.poolName(), uuid: h.uuid, host_name: h.name_label as string });
      set.add(TOOLSTACK_UP, labels, up ? 1 : 0);
    }
  }

  private logProbes(probes: HostProbe[]): void {
    for (const p of probes) {
      const key = `toolstack:${p.uuid}`;
      if (toolstackAnswers(p)) this.outages.recovered(key, 'host XAPI answers again', { host: p.name, address: p.address });
      else this.outages.failed(key, 'host XAPI does not answer', { host: p.name, address: p.address, error: (p.result as { error: Error }).error });
    }
  }
}
