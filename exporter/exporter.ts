// The exporter: polls every configured pool on its interval (never overlapping itself), builds one snapshot per
// poll and hands it to the HTTP server. An unexpected VM halt seen in XAPI's events starts the next poll at once, so
// the crash is in the served metrics within a poll's duration, not an interval.
import type { ExporterBundleConfig } from './config.js';
import type { Logger } from '../core/log.js';
import { PoolCollector } from './collector/pool.js';
import { CollectorRegistry } from './collector/registry.js';
import { ChunkPool } from './metrics/chunks.js';
import { PoolIdFile } from './pool-ids.js';
import { counter, gauge, sinkInto } from './metrics/declare.js';
import { FamilySet } from './metrics/families.js';
import { SelfMetrics } from './self-metrics.js';
import { Snapshot } from './snapshot.js';

const STOP_GRACE_MS = 2000;

const POLL_DURATION = gauge('xcp_exporter_poll_duration_seconds', 'Duration of the last poll of all pools in seconds', []);
const POLLS = counter('xcp_exporter_polls_total', 'Polls completed since the exporter started', []);
const SNAPSHOT_TIME = gauge(
  'xcp_exporter_snapshot_timestamp_seconds',
  'Unix time at which the served metrics were collected; the cache age is time() minus this',
  [],
);
const SERIES = gauge('xcp_exporter_series', 'Series in the served snapshot', []);

export class Exporter {
  readonly pools: PoolCollector[];
  /** The newest snapshot made (rendered and compressed): scrapes get it while a poll makes the next one. */
  snapshot?: Snapshot;
  private timer?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private stopped = false;
  /** The exporter's own collectors (self), beside each pool's (PoolCollector.collectors). */
  private readonly own: CollectorRegistry;
  private pollsTotal = 0;
  /** Each family's size in the last poll: the next one's arrays are made that size at once. */
  private familySizes?: Map<string, number>;
  /** Poll again as soon as the running poll ends (something happened that should not wait an interval). */
  private pollAgain = false;
  private readonly poolIds: PoolIdFile;

  constructor(
    readonly config: ExporterBundleConfig,
    private readonly logger: Logger,
  ) {
    this.pools = config.pools.map((p) => new PoolCollector(p, config.exporter, logger.child({ pool: p.name })));
    this.poolIds = new PoolIdFile(config.exporter.state_file, new Map(config.pools.map((p) => [p.name, p.url])), logger);
    for (const p of this.pools) p.knownPoolId = this.poolIds.get(p.pool.name);
    this.own = new CollectorRegistry(undefined, logger);
    this.own.register(new SelfMetrics(config.exporter.collectors.self, config.exporter.event_loop_delay_metrics));
  }

  start(): void {
    for (const p of this.pools) {
      p.start();
      p.watcher.halts.onHalt = () => this.pollSoon();
    }
    void this.cycle();
  }

  private async cycle(): Promise<void> {
    const started = Date.now();
    this.pollAgain = false;
    this.polling = this.pollOnce();
    await this.polling;
    this.polling = undefined;
    if (this.stopped) return;
    const wait = this.pollAgain ? 0 : Math.max(0, this.config.exporter.poll_interval_seconds * 1000 - (Date.now() - started));
    this.timer = setTimeout(() => void this.cycle(), wait);
  }

  /** Start the next poll now, or right after the running one. */
  private pollSoon(): void {
    if (this.stopped) return;
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    clearTimeout(this.timer);
    void this.cycle();
  }

  /** Stops within seconds (systemd gives 30): a poll still waiting on a hung host is not waited for past
   * STOP_GRACE_MS; the collectors then end their calls and log out. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([this.polling, new Promise((r) => (grace = setTimeout(r, STOP_GRACE_MS)))]);
    clearTimeout(grace);
    await Promise.all(this.pools.map((p) => p.stop()));
  }

  async pollOnce(): Promise<void> {
    const started = performance.now();
    const set = new FamilySet(this.familySizes);
    await Promise.all(this.pools.map((p) => p.poll(set)));
    this.poolIds.update(this.pools.map((p) => [p.pool.name, p.watcher.inventory.pool?.uuid]));
    await this.own.collect(set);
    this.pollsTotal++;
    const duration = (performance.now() - started) / 1000;
    const sink = sinkInto(set);
    sink.add(POLL_DURATION, '', duration);
    sink.add(POLLS, '', this.pollsTotal);
    sink.add(SNAPSHOT_TIME, '', Date.now() / 1000);
    sink.add(SERIES, '', set.seriesCount + 1);
    // Rendered and compressed by the poll (zlib's thread pool), so that no scrape ever waits for either. Polls may
    // overlap (a test's, a halt's): the newest one's snapshot is kept, whichever finished first. The one served until
    // now lends the new one its compressed pieces whose bytes did not change.
    this.familySizes = set.sizes();
    // The render's chunks are the poll's own (a pool per poll): kept between polls they would hold ~20 MB for nothing.
    const snapshot = await Snapshot.make(set.families(), Date.now(), set.seriesCount, new ChunkPool(), this.snapshot);
    if (!this.snapshot || this.snapshot.generation < snapshot.generation) this.snapshot = snapshot;
    this.logger.debug('poll done', { seconds: duration, series: set.seriesCount });
  }

  /** Per pool and per collector, for /health. */
  health(nowMs = Date.now()) {
    const staleMs = this.config.exporter.stale_after_seconds * 1000;
    let ok = Boolean(this.snapshot);
    const pools: Record<string, unknown> = {};
    const degraded: string[] = [];
    for (const p of this.pools) {
      const collectors: Record<string, unknown> = {};
      for (const [name, s] of p.health.collectors) {
        // IPMI and SMART run on their own, longer intervals: they are stale after three of theirs.
        const stale = p.collectors.staleAfterMs(name) ?? staleMs;
        const fresh = s.up && s.lastSuccess !== undefined && nowMs - s.lastSuccess <= stale;
        if (!fresh) ok = false;
        collectors[name] = {
          up: s.up,
          last_success: s.lastSuccess ? new Date(s.lastSuccess).toISOString() : null,
          last_error: s.lastError ? { at: new Date(s.lastError.at).toISOString(), kind: s.lastError.kind, message: s.lastError.message } : null,
        };
      }
      const hostsDown = p.rrd.hostsDown();
      if (hostsDown.length) degraded.push(p.pool.name);
      pools[p.pool.name] = {
        connected: p.connected,
        master: p.xapi.masterUrl,
        master_reachable: p.masterReachable,
        login_refused: p.authFailed,
        collectors,
        hosts_down: hostsDown,
      };
      if (!p.connected) ok = false;
    }
    if (!ok) return { ok, body: { status: 'failing', pools } };
    // Some hosts' RRD failing does not fail the exporter (200): it says which, per pool, as "degraded".
    if (degraded.length) return { ok, body: { status: 'degraded', pools: Object.fromEntries(degraded.map((name) => [name, pools[name]])) } };
    return { ok, body: { status: 'ok' } };
  }
}
