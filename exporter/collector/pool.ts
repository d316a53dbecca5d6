// One pool: its XAPI session, the inventory watcher, and its collectors (registry.ts): `xapi` (the master, the
// members' toolstacks and the inventory; this file), `rrd` (collector/rrd.ts), `ipmi` and `smart`
// (collector/hardware.ts). `poll()` adds the pool's part of the next snapshot; a failure of one host or one
// collector never fails the others.
import type { PoolConfig } from '../../core/config/pool.js';
import { XapiError } from '../../core/errors.js';
import { OutageLog } from '../../core/outage-log.js';
import type { Logger } from '../../core/log.js';
import { XapiClient } from '../../core/xapi/client.js';
import type { ExporterConfig } from '../config.js';
import { HardwareCollector } from '../hardware/collector.js';
import { type HardwareConfig, hardwareEnabled } from '../hardware/config.js';
import { PluginHardwareTransport } from '../hardware/plugin-transport.js';
import { SshHardwareTransport } from '../hardware/ssh-transport.js';
import type { HardwareHost } from '../hardware/transport.js';
import { InventoryWatcher } from '../inventory/watcher.js';
import { HOST, type MetricSink, POOL, gauge } from '../metrics/declare.js';
import { type FamilySet, labelString } from '../metrics/families.js';
import { addHaltMetrics } from '../metrics/halt-metrics.js';
import { addInventoryMetrics } from '../metrics/inventory-metrics.js';
import type { CollectContext } from './collector.js';
import { HardwareKindCollector } from './hardware.js';
import { type HostProbe, type KnownHost, newMaster, probeHosts, toolstackAnswers } from './members.js';
import { CollectorRegistry } from './registry.js';
import { RrdCollector } from './rrd.js';
import type { CollectorHealth } from './status.js';

const CONNECTED = gauge('xcp_pool_connected', 'The exporter has a working XAPI session to the pool master (1) or not (0)', POOL);
const MASTER_REACHABLE = gauge('xcp_pool_master_reachable', "The pool master's XAPI answered in the last poll (1) or not (0)", POOL);
const MASTERS = gauge(
  'xcp_pool_masters',
  'Hosts of the pool acting as master in the last poll (the followed master if it answers, and any other host accepting a login as master): more than 1 is two masters',
  POOL,
);
const TOOLSTACK_UP = gauge('xcp_host_toolstack_up', "The host's XAPI answered in the last poll (1) or not (0): a member's HOST_IS_SLAVE counts", HOST);

export class PoolCollector {
  readonly xapi: XapiClient;
  readonly watcher: InventoryWatcher;
  readonly collectors: CollectorRegistry;
  readonly rrd: RrdCollector;
  /** IPMI and SMART, when the pool's `hardware.transport` is not none. */
  readonly hardware?: HardwareCollector;
  /** One log line when something fails, a reminder now and then, one when it is back. */
  private readonly outages: OutageLog;
  connected = false;
  /** The pool's master answered XAPI in the last poll (any XAPI answer, even an error). */
  masterReachable = false;
  /** The master refused the login (SESSION_AUTHENTICATION_FAILED) in the last poll. */
  authFailed = false;
  /** The pool's uuid from a previous connection (state file), until the inventory is read. */
  knownPoolId?: string;

  constructor(
    readonly pool: PoolConfig<HardwareConfig>,
    private readonly config: ExporterConfig,
    logger: Logger,
  ) {
    this.xapi = XapiClient.forPool(pool, logger);
    this.collectors = new CollectorRegistry(pool.name, logger);
    this.outages = new OutageLog(logger);
    this.watcher = new InventoryWatcher(this.xapi, logger, (err) => this.health.count('xapi', err));
    const hw = pool.hardware;
    if (hardwareEnabled(hw)) {
      const hwLogger = logger.child({ collector: 'hardware' });
      const transport = hw.transport === 'ssh' ? new SshHardwareTransport(hw, hwLogger) : new PluginHardwareTransport(this.xapi, hw);
      this.hardware = new HardwareCollector({ config: hw, transport, health: this.health, logger: hwLogger, hosts: () => this.hardwareHosts() });
    }
    this.rrd = new RrdCollector(this, config, this.outages, logger);
    // Every call the master check makes may take a login and twice the call timeout, and it runs twice when the
    // exporter follows a new master.
    const { loginMs, callMs } = pool.timeouts;
    this.collectors.register({
      name: 'xapi',
      enabled: true,
      deadlineMs: () => 2 * (loginMs + 2 * callMs) + config.poll_interval_seconds * 1000,
      collect: (sink, ctx) => this.collectXapi(sink, ctx),
    });
    this.collectors.register(this.rrd);
    for (const kind of ['ipmi', 'smart'] as const)
      this.collectors.register(new HardwareKindCollector(kind, hw, this.hardware, (uuid) => this.hostLabels(uuid)));
  }

  /** Up, duration and errors of each of the pool's collectors. */
  get health(): CollectorHealth {
    return this.collectors.health;
  }

  start(): void {
    this.watcher.start();
    this.hardware?.start();
  }

  async stop(): Promise<void> {
    // Together: the watcher's long poll ends at once, the hardware cycles within their own bound.
    await Promise.all([this.hardware?.stop(), this.watcher.stop()]);
    await this.xapi.logout();
  }

  /** The HOST label string of a host of the inventory, undefined for one not (or not yet) in it. */
  private hostLabels(uuid: string): string | undefined {
    const inv = this.watcher.inventory;
    const host = inv.pool && inv.lookups().hostByUuid.get(uuid)?.rec;
    return host && labelString({ pool_id: inv.pool?.uuid, pool_name: this.poolName(), uuid, host_name: host.name_label as string });
  }

  /** The hosts as last known (SSH reaches them even while the master is away); undefined before the first read. */
  private hardwareHosts(): HardwareHost[] | undefined {
    const inv = this.watcher.inventory;
    if (!inv.pool) return undefined;
    return [...inv.all('host')].map(([ref, h]) => ({ uuid: h.uuid, ref, name: String(h.name_label ?? h.uuid), address: String(h.address ?? '') }));
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
    try {
      await this.xapi.call('pool.get_all');
      this.masterReachable = true;
      // The master answers: the watcher need not sit out its backoff, nor wait on a call sent before it hung.
      if (!this.watcher.status.synced) {
        this.xapi.endPendingCalls();
        this.watcher.retryNow();
      }
      this.connected = await this.watcher.whenSynced(callMs);
      if (!this.connected) failure = this.watcher.status.lastError?.message ?? 'inventory not read yet';
    } catch (err) {
      failure = err;
      this.connected = false;
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

  /** Collect this pool into `set`: every enabled collector, then their health series. Never throws. */
  async poll(set: FamilySet): Promise<void> {
    await this.collectors.collect(set);
  }

  /** The `xapi` collector: the master, the members' toolstacks, the inventory. Fails when the pool is not connected,
   * after adding what is known (xcp_pool_connected 0, the objects as last read). */
  private async collectXapi(set: MetricSink, ctx: CollectContext): Promise<void> {
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

  /** The `pool_name` label: the config's name, or the pool's XAPI name_label (labels.pool_name: xapi, as XO). */
  poolName(): string {
    const fromXapi = this.config.labels.pool_name === 'xapi' ? this.watcher.inventory.pool?.name_label : undefined;
    return typeof fromXapi === 'string' && fromXapi ? fromXapi : this.pool.name;
  }

  /** The pool's uuid: from the inventory, or remembered from a previous connection. */
  poolId(): string | undefined {
    return this.watcher.inventory.pool?.uuid ?? this.knownPoolId;
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
