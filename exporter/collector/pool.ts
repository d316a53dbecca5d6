// One pool: its XAPI session, the inventory watcher, and the per-host RRD poll. `poll()` returns the pool's part
// of the next snapshot; a failure of one host or one collector never fails the others.
import { mapSettledLimit } from '../../core/concurrency.js';
import type { PoolConfig } from '../../core/config/pool.js';
import { XapiError, errorKind } from '../../core/errors.js';
import { OutageLog } from '../../core/outage-log.js';
import type { Logger } from '../../core/log.js';
import { XapiClient } from '../../core/xapi/client.js';
import type { ExporterConfig } from '../config.js';
import { HardwareCollector } from '../hardware/collector.js';
import { type HardwareConfig, hardwareEnabled } from '../hardware/config.js';
import { addHardwareMetrics } from '../hardware/metrics.js';
import { PluginHardwareTransport } from '../hardware/plugin-transport.js';
import { SshHardwareTransport } from '../hardware/ssh-transport.js';
import type { HardwareHost } from '../hardware/transport.js';
import { InventoryWatcher } from '../inventory/watcher.js';
import { type FamilySet, labelString } from '../metrics/families.js';
import { addHaltMetrics } from '../metrics/halt-metrics.js';
import { addInventoryMetrics } from '../metrics/inventory-metrics.js';
import { Catalogue } from '../rrd/catalogue.js';
import { CounterBank } from '../rrd/counters.js';
import { GuestReports } from '../rrd/guest-reports.js';
import { LabelCache } from '../rrd/label-cache.js';
import { fetchRrdUpdates } from '../rrd/fetch.js';
import type { RrdUpdate } from '../rrd/parse.js';
import { addRrdSamples } from '../rrd/samples.js';
import { PowerInputs, addVmPowerEstimates } from '../rrd/vm-power.js';
import { type HostProbe, type KnownHost, newMaster, probeHosts, toolstackAnswers } from './members.js';
import { CollectorHealth } from './status.js';

export interface HostRrdState {
  up: boolean;
  lastRowT?: number;
  /**
   * Where the next poll starts (`start=` this row's t, which comes again): the newest row read, or undefined (the
   * relative window) after an answer without rows — the host's clock went back or the row left its archive.
   */
  cursorT?: number;
  lastError?: string;
}

export class PoolCollector {
  readonly xapi: XapiClient;
  readonly watcher: InventoryWatcher;
  readonly health: CollectorHealth;
  readonly hosts = new Map<string, HostRrdState>();
  /** IPMI and SMART, when the pool's `hardware.transport` is not none. */
  readonly hardware?: HardwareCollector;
  private readonly catalogue = new Catalogue();
  private readonly counters = new CounterBank();
  private readonly guestReports = new GuestReports();
  private readonly labels = new LabelCache();
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
    private readonly logger: Logger,
  ) {
    this.xapi = XapiClient.forPool(pool, logger);
    this.health = new CollectorHealth(pool.name);
    this.outages = new OutageLog(logger);
    this.watcher = new InventoryWatcher(this.xapi, logger, (err) => this.health.count('xapi', err));
    const hw = pool.hardware;
    if (hardwareEnabled(hw)) {
      const hwLogger = logger.child({ collector: 'hardware' });
      const transport = hw.transport === 'ssh' ? new SshHardwareTransport(hw, hwLogger) : new PluginHardwareTransport(this.xapi, hw);
      this.hardware = new HardwareCollector({ config: hw, transport, health: this.health, logger: hwLogger, hosts: () => this.hardwareHosts() });
    }
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

  /**
   * How old a collector's last success may be before /health calls it stale: IPMI and SMART run on their own,
   * longer intervals than the poll (three of them), the others on the poll's (undefined: the exporter's setting).
   */
  staleAfterMs(collector: string): number | undefined {
    const hw = this.pool.hardware;
    if (!this.hardware || !hw) return undefined;
    if (collector === 'ipmi') return 3 * hw.ipmi.intervalMs;
    if (collector === 'smart') return 3 * hw.smart.intervalMs;
    return undefined;
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

  /** Is the master there? Sets connected and masterReachable. A cheap call proves the master answers now; the
   * watcher's long poll would notice only after its timeout. */
  private async checkMaster(): Promise<void> {
    const started = performance.now();
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
      if (this.connected) this.health.success('xapi', (performance.now() - started) / 1000);
      else this.health.failure('xapi', this.watcher.status.lastError?.message ?? 'inventory not read yet', (performance.now() - started) / 1000);
    } catch (err) {
      this.connected = false;
      // Any XAPI answer (a wrong password, HOST_IS_SLAVE from a member that a redirect led to) means it answers.
      this.masterReachable = err instanceof XapiError;
      this.health.failure('xapi', err, (performance.now() - started) / 1000);
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
  }

  /** Collect this pool into `set`. Never throws. */
  async poll(set: FamilySet): Promise<void> {
    // The members are asked while the master is: a dead master costs one call timeout, not two.
    const members = this.members();
    const probing = probeHosts(this.xapi, members, this.pool.timeouts.loginMs, this.config.rrd.concurrency);
    await this.checkMaster();
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
        await this.checkMaster();
      }
    }
    this.logProbes(probes);
    const inv = this.watcher.inventory;
    const poolName = this.poolName();
    const poolLabels = labelString({ pool_id: this.poolId(), pool_name: poolName });
    set.add('xcp_pool_connected', 'gauge', 'The exporter has a working XAPI session to the pool master (1) or not (0)', poolLabels, this.connected ? 1 : 0);
    set.add('xcp_pool_master_reachable', 'gauge', "The pool master's XAPI answered in the last poll (1) or not (0)", poolLabels, this.masterReachable ? 1 : 0);
    // An old master that came back without noticing the new one still accepts logins: two masters.
    const otherMasters = probes.filter((p) => p.result.state === 'master' && p.address !== this.masterAddress()).length;
    set.add(
      'xcp_pool_masters',
      'gauge',
      'Hosts of the pool acting as master in the last poll (the followed master if it answers, and any other host accepting a login as master): more than 1 is two masters',
      poolLabels,
      (this.masterReachable ? 1 : 0) + otherMasters,
    );
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
    if (this.hardware && inv.pool) {
      // Only the collectors' latest results: IPMI and SMART run in the background and are never waited for.
      const { hostByUuid } = inv.lookups();
      const poolId = inv.pool.uuid;
      addHardwareMetrics(set, this.hardware, (uuid) => {
        const host = hostByUuid.get(uuid)?.rec;
        return host && labelString({ pool_id: poolId, pool_name: poolName, uuid, host_name: host.name_label as string });
      });
    }
    // Without a master, members' /rrd_updates are still tried with the session we have: they answer when only the
    // exporter lost the master (their session checks still reach it), and stall when the master is really gone.
    if (this.connected || (this.xapi.sessionId && inv.pool)) await this.pollRrd(set);
    else this.health.failure('rrd', 'pool not connected', 0);
    this.health.addMetrics(set);
  }

  /** The hosts whose /rrd_updates failed in the last poll, for /health. */
  rrdHostsDown(): { uuid: string; name?: string; error?: string }[] {
    const out = [];
    for (const [uuid, h] of this.hosts) {
      if (h.up) continue;
      const rec = this.watcher.inventory.lookups().hostByUuid.get(uuid)?.rec;
      out.push({ uuid, name: rec?.name_label as string | undefined, error: h.lastError });
    }
    return out;
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
  private addToolstackMetrics(set: FamilySet, probed: Map<string, boolean>): void {
    const inv = this.watcher.inventory;
    const masterUuid = this.masterUuid();
    for (const [, h] of inv.all('host')) {
      const up = h.uuid === masterUuid ? this.masterReachable : probed.get(h.uuid);
      if (up === undefined) continue;
      const labels = labelString({ pool_id: inv.pool?.uuid, pool_name: this.poolName(), uuid: h.uuid, host_name: h.name_label as string });
      set.add(
        'xcp_host_toolstack_up',
        'gauge',
        "The host's XAPI answered in the last poll (1) or not (0): a member's HOST_IS_SLAVE counts",
        labels,
        up ? 1 : 0,
      );
    }
  }

  private logProbes(probes: HostProbe[]): void {
    for (const p of probes) {
      const key = `toolstack:${p.uuid}`;
      if (toolstackAnswers(p)) this.outages.recovered(key, 'host XAPI answers again', { host: p.name, address: p.address });
      else this.outages.failed(key, 'host XAPI does not answer', { host: p.name, address: p.address, error: (p.result as { error: Error }).error });
    }
  }

  private async pollRrd(set: FamilySet): Promise<void> {
    const started = performance.now();
    const inv = this.watcher.inventory;
    const hosts = [...inv.all('host')].map(([, h]) => h);
    const opts = {
      windowSeconds: this.config.rrd.window_seconds,
      timeoutMs: this.config.rrd.timeout_seconds * 1000,
      maxBodyBytes: this.config.rrd.max_body_bytes,
    };
    const lookups = inv.lookups();
    const poolId = inv.pool?.uuid ?? '';
    const power = new PowerInputs();
    // Each answer is mapped as soon as it arrives: only `concurrency` parsed answers are alive at a time.
    const results = await mapSettledLimit(hosts, this.config.rrd.concurrency, async (h) =>
      this.addHost(set, await fetchRrdUpdates(this.xapi, h.address as string, { ...opts, sinceT: this.hosts.get(h.uuid)?.cursorT }), h, lookups, poolId, power),
    );
    addVmPowerEstimates(
      set,
      power,
      (uuid) => this.hardware?.ipmi.get(uuid)?.reading?.power?.watts ?? power.rrdHostWatts.get(uuid),
      (uuid) => vcpuCount(inv, lookups.vmByUuid.get(uuid)?.rec),
    );
    let failures = 0;
    results.forEach((r, i) => {
      const host = hosts[i]!;
      const labels = labelString({ pool_id: poolId, pool_name: this.poolName(), uuid: host.uuid, host_name: host.name_label as string });
      const state: HostRrdState = this.hosts.get(host.uuid) ?? { up: false };
      this.hosts.set(host.uuid, state);
      if (r.status === 'fulfilled') {
        state.up = true;
        state.lastError = undefined;
        if (Number.isFinite(r.value)) state.lastRowT = r.value;
        state.cursorT = Number.isFinite(r.value) ? r.value : undefined;
      } else {
        failures++;
        state.up = false;
        state.lastError = `${errorKind(r.reason)}: ${(r.reason as Error).message}`;
        this.health.count('rrd', r.reason);
        this.outages.failed(`rrd:${host.uuid}`, 'host RRD not collected', { host: host.name_label, address: host.address, error: r.reason });
      }
      if (r.status === 'fulfilled') this.outages.recovered(`rrd:${host.uuid}`, 'host RRD collected again', { host: host.name_label, address: host.address });
      set.add(
        'xcp_host_rrd_up',
        'gauge',
        "The host's own /rrd_updates answered in the last poll (1) or not (0): its toolstack answers",
        labels,
        state.up ? 1 : 0,
      );
      if (state.lastRowT)
        set.add('xcp_exporter_rrd_last_row_timestamp_seconds', 'gauge', 'Unix time of the newest RRD row used for the host', labels, state.lastRowT);
    });
    // Counters of objects that left the pool go away with them.
    this.counters.prune((uuid) => lookups.vmByUuid.has(uuid) || lookups.hostByUuid.has(uuid));
    this.guestReports.prune((uuid) => lookups.vmByUuid.has(uuid));
    for (const uuid of this.hosts.keys()) if (!lookups.hostByUuid.has(uuid)) this.hosts.delete(uuid);
    this.outages.retain((key) => !key.includes(':') || lookups.hostByUuid.has(key.slice(key.indexOf(':') + 1)));
    const duration = (performance.now() - started) / 1000;
    // The collector is up when at least one host answered; each host's state is in xcp_host_rrd_up.
    if (failures < hosts.length || hosts.length === 0) this.health.success('rrd', duration);
    else this.health.failure('rrd', results.find((r) => r.status === 'rejected')?.reason ?? 'no host answered', duration);
  }

  /** Maps one host's answer into `set`; returns the `t` of its newest row (NaN if it could not be mapped). */
  private addHost(
    set: FamilySet,
    update: RrdUpdate,
    host: Record<string, unknown> & { uuid: string },
    lookups: ReturnType<InventoryWatcher['inventory']['lookups']>,
    poolId: string,
    power: PowerInputs,
  ): number {
    try {
      const { catalogue, counters, guestReports, labels } = this;
      return addRrdSamples(set, update, {
        catalogue,
        counters,
        guestReports,
        labels,
        lookups,
        poolId,
        poolName: this.poolName(),
        host,
        tags: this.config.labels.tags,
        power,
      });
    } catch (err) {
      this.health.count('rrd', err);
      this.logger.warn('host RRD could not be mapped', { host: host.name_label, error: err });
      return NaN;
    }
  }
}

/** A VM's vCPUs as Xen Orchestra counts them (CPUs.number): VM_metrics.VCPUs_number while it runs, else
 * VCPUs_at_startup; 1 when neither is known. */
function vcpuCount(inv: InventoryWatcher['inventory'], vm: Record<string, unknown> | undefined): number {
  const running = Number(inv.get('VM_metrics', vm?.metrics)?.VCPUs_number);
  if (running > 0) return running;
  const atStartup = Number(vm?.VCPUs_at_startup);
  return atStartup > 0 ? atStartup : 1;
}
