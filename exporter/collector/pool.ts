// One pool: its XAPI session, the inventory watcher, and its collectors (registry.ts): `xapi` (the master, the
// members' toolstacks and the inventory: collector/xapi.ts), `rrd` (collector/rrd.ts), `ipmi` and `smart`
// (collector/hardware.ts). `poll()` adds the pool's part of the next snapshot; a failure of one host or one
// collector never fails the others.
import type { PoolConfig } from '../../core/config/pool.js';
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
import { type FamilySet, labelString } from '../metrics/families.js';
import { HardwareKindCollector } from './hardware.js';
import { CollectorRegistry } from './registry.js';
import { RrdCollector } from './rrd.js';
import { XapiCollector } from './xapi.js';
import type { CollectorHealth } from './status.js';

export class PoolCollector {
  readonly xapi: XapiClient;
  readonly watcher: InventoryWatcher;
  readonly collectors: CollectorRegistry;
  /** The `xapi` collector: the master check, the members' probes, the inventory. */
  readonly master: XapiCollector;
  readonly rrd: RrdCollector;
  /** IPMI and SMART, when the pool's `hardware.transport` is not none. */
  readonly hardware?: HardwareCollector;
  /** One log line when something fails, a reminder now and then, one when it is back. */
  private readonly outages: OutageLog;
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
    this.master = new XapiCollector(this, config, this.outages);
    this.rrd = new RrdCollector(this, config, this.outages, logger);
    this.collectors.register(this.master);
    this.collectors.register(this.rrd);
    for (const kind of ['ipmi', 'smart'] as const)
      this.collectors.register(new HardwareKindCollector(kind, hw, this.hardware, (uuid) => this.hostLabels(uuid)));
  }

  /** A working session and the inventory in sync, as of the last poll. */
  get connected(): boolean {
    return this.master.connected;
  }

  /** The master answered XAPI in the last poll (any XAPI answer, even an error). */
  get masterReachable(): boolean {
    return this.master.masterReachable;
  }

  /** The master refused the login (SESSION_AUTHENTICATION_FAILED) in the last poll. */
  get authFailed(): boolean {
    return this.master.authFailed;
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

  /** Collect this pool into `set`: every enabled collector, then their health series. Never throws. */
  async poll(set: FamilySet): Promise<void> {
    await this.collectors.collect(set);
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
}
