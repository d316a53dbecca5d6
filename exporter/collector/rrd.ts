// The `rrd` collector of one pool: every host's own /rrd_updates, with bounded concurrency and a deadline per host,
// mapped to XO's catalogue as each answer arrives. It is up when at least one host answered; each host's own state
// is xcp_host_rrd_up. Runs after the `xapi` collector, whose session and inventory it uses.
import { mapSettledLimit } from '../../core/concurrency.js';
import { BodyPool } from '../../core/http/body-pool.js';
import { errorKind } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { OutageLog } from '../../core/outage-log.js';
import type { XapiClient } from '../../core/xapi/client.js';
import type { ExporterConfig } from '../config.js';
import type { HardwareCollector } from '../hardware/collector.js';
import type { InventoryWatcher } from '../inventory/watcher.js';
import { HOST, type MetricSink, gauge } from '../metrics/declare.js';
import { labelString } from '../metrics/families.js';
import { Catalogue } from '../rrd/catalogue.js';
import { CounterBank } from '../rrd/counters.js';
import { fetchRrdWindow } from '../../core/rrd/fetch.js';
import { GuestReports } from '../rrd/guest-reports.js';
import { LabelCache } from '../rrd/label-cache.js';
import type { Legend } from '../../core/rrd/legend.js';
import type { RrdWindow } from '../../core/rrd/parse.js';
import { SamplePlans, addRrdSamples } from '../rrd/samples.js';
import { PowerInputs, addVmPowerEstimates } from '../rrd/vm-power.js';
import type { CollectContext, Collector } from './collector.js';

const HOST_RRD_UP = gauge('xcp_host_rrd_up', "The host's own /rrd_updates answered in the last poll (1) or not (0): its toolstack answers", HOST);
const LAST_ROW = gauge('xcp_exporter_rrd_last_row_timestamp_seconds', 'Unix time of the newest RRD row used for the host', HOST);

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

/** What the RRD collector reads of its pool. */
export interface RrdPool {
  readonly xapi: XapiClient;
  readonly watcher: InventoryWatcher;
  readonly hardware?: HardwareCollector;
  readonly connected: boolean;
  poolName(): string;
}

type Lookups = ReturnType<InventoryWatcher['inventory']['lookups']>;

export class RrdCollector implements Collector {
  readonly name = 'rrd';
  readonly after = ['xapi'];
  readonly enabled: boolean;
  readonly hosts = new Map<string, HostRrdState>();
  private readonly catalogue = new Catalogue();
  private readonly counters = new CounterBank();
  private readonly guestReports = new GuestReports();
  private readonly labels = new LabelCache();
  private readonly plans = new SamplePlans();
  /** Each host's last legend: the next answer's is only compared with it. */
  private readonly legends = new Map<string, Legend>();

  constructor(
    private readonly pool: RrdPool,
    private readonly config: ExporterConfig,
    private readonly outages: OutageLog,
    private readonly logger: Logger,
  ) {
    this.enabled = config.collectors.rrd;
  }

  /** Every host's own timeout, `concurrency` hosts at a time, and a poll interval to map the answers. */
  deadlineMs(): number {
    const hosts = this.pool.watcher.inventory.lookups().hostByUuid.size;
    return (Math.ceil(hosts / this.config.rrd.concurrency) * this.config.rrd.timeout_seconds + this.config.poll_interval_seconds) * 1000;
  }

  async collect(sink: MetricSink, ctx: CollectContext): Promise<void> {
    const { xapi, watcher } = this.pool;
    // Without a master, members' /rrd_updates are still tried with the session we have: they answer when only the
    // exporter lost the master (their session checks still reach it), and stall when the master is really gone.
    if (!this.pool.connected && !(xapi.sessionId && watcher.inventory.pool)) throw new Error('pool not connected');
    const inv = watcher.inventory;
    const hosts = [...inv.all('host')].map(([, h]) => h);
    const opts = {
      windowSeconds: this.config.rrd.window_seconds,
      timeoutMs: this.config.rrd.timeout_seconds * 1000,
      maxBodyBytes: this.config.rrd.max_body_bytes,
      // One reused body buffer per fetch in flight (each body is parsed before its buffer is reused), for this poll
      // only: kept between polls they would hold `concurrency` bodies (~12 MB at 160 VMs a host) for nothing.
      bodies: new BodyPool(this.config.rrd.concurrency),
    };
    const lookups = inv.lookups();
    const poolId = inv.pool?.uuid ?? '';
    const power = new PowerInputs();
    // Each answer is mapped as soon as it arrives: only `concurrency` parsed answers are alive at a time.
    const results = await mapSettledLimit(hosts, this.config.rrd.concurrency, async (h) => {
      const window = await fetchRrdWindow(xapi, h.address as string, { ...opts, sinceT: this.hosts.get(h.uuid)?.cursorT }, this.legends.get(h.uuid));
      this.legends.set(h.uuid, window.legend);
      return this.addHost(sink, ctx, window, h, lookups, poolId, power);
    });
    addVmPowerEstimates(
      sink,
      power,
      (uuid) => this.pool.hardware?.ipmi.get(uuid)?.reading?.power?.watts ?? power.rrdHostWatts.get(uuid),
      (uuid) => vcpuCount(inv, lookups.vmByUuid.get(uuid)?.rec),
    );
    let failures = 0;
    results.forEach((r, i) => {
      const host = hosts[i]!;
      const labels = labelString({ pool_id: poolId, pool_name: this.pool.poolName(), uuid: host.uuid, host_name: host.name_label as string });
      const state: HostRrdState = this.hosts.get(host.uuid) ?? { up: false };
      this.hosts.set(host.uuid, state);
      if (r.status === 'fulfilled') {
        state.up = true;
        state.lastError = undefined;
        if (Number.isFinite(r.value)) state.lastRowT = r.value;
        state.cursorT = Number.isFinite(r.value) ? r.value : undefined;
        this.outages.recovered(`rrd:${host.uuid}`, 'host RRD collected again', { host: host.name_label, address: host.address });
      } else {
        failures++;
        state.up = false;
        state.lastError = `${errorKind(r.reason)}: ${(r.reason as Error).message}`;
        this.outages.failed(`rrd:${host.uuid}`, 'host RRD not collected', { host: host.name_label, address: host.address, error: r.reason });
      }
      sink.add(HOST_RRD_UP, labels, state.up ? 1 : 0);
      if (state.lastRowT) sink.add(LAST_ROW, labels, state.lastRowT);
    });
    // Counters of objects that left the pool go away with them.
    this.counters.prune((uuid) => lookups.vmByUuid.has(uuid) || lookups.hostByUuid.has(uuid));
    this.guestReports.prune((uuid) => lookups.vmByUuid.has(uuid));
    for (const uuid of this.hosts.keys()) if (!lookups.hostByUuid.has(uuid)) this.hosts.delete(uuid);
    for (const uuid of this.legends.keys()) if (!lookups.hostByUuid.has(uuid)) this.legends.delete(uuid);
    this.outages.retain((key) => !key.includes(':') || lookups.hostByUuid.has(key.slice(key.indexOf(':') + 1)));
    // Up when at least one host answered. Each host's error is counted once; when none answered, the first is the run's.
    const rejected = results.filter((r) => r.status === 'rejected').map((r) => r.reason as unknown);
    const failed = failures > 0 && failures === hosts.length;
    for (const err of failed ? rejected.slice(1) : rejected) ctx.countError(err);
    if (failed) throw rejected[0];
  }

  /** The hosts whose /rrd_updates failed in the last poll, for /health. */
  hostsDown(): { uuid: string; name?: string; error?: string }[] {
    const out = [];
    for (const [uuid, h] of this.hosts) {
      if (h.up) continue;
      const rec = this.pool.watcher.inventory.lookups().hostByUuid.get(uuid)?.rec;
      out.push({ uuid, name: rec?.name_label as string | undefined, error: h.lastError });
    }
    return out;
  }

  /** Maps one host's answer into `sink`; returns the `t` of its newest row (NaN if it could not be mapped). */
  private addHost(
    sink: MetricSink,
    ctx: CollectContext,
    update: RrdWindow,
    host: Record<string, unknown> & { uuid: string },
    lookups: Lookups,
    poolId: string,
    power: PowerInputs,
  ): number {
    try {
      const { catalogue, counters, guestReports, labels, plans } = this;
      return addRrdSamples(sink, update, {
        catalogue,
        counters,
        guestReports,
        labels,
        lookups,
        poolId,
        poolName: this.pool.poolName(),
        host,
        tags: this.config.labels.tags,
        power,
        plans,
      });
    } catch (err) {
      ctx.countError(err);
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
