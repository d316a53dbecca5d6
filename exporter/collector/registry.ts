// The collectors of one scope (a pool, or the exporter itself) and how a poll runs them: every enabled collector
// at once (a collector waits only for those it names in `after`), each within its own deadline, so a failing or hung
// collector sets its own up to 0 and never holds back the others' series. Then every collector's health series:
// xcp_exporter_collector_enabled for each one registered (a collector turned off is visible), and up, duration,
// last success and errors by kind for each one that ran (status.ts).
import { TimeoutError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { OutageLog } from '../../core/outage-log.js';
import { EXP, type MetricSink, gauge, sinkInto } from '../metrics/declare.js';
import { type FamilySet, labelString } from '../metrics/families.js';
import type { Collector } from './collector.js';
import { CollectorHealth } from './status.js';

const ENABLED = gauge(
  'xcp_exporter_collector_enabled',
  'The collector is turned on by the config (1) or off (0): a collector that is off has no other series',
  EXP,
);

export class CollectorRegistry {
  readonly health: CollectorHealth;
  private readonly collectors = new Map<string, Collector>();
  private readonly outages: OutageLog;

  /** `poolName`: the pool whose collectors these are (the `pool_name` label), undefined for the exporter's own. */
  constructor(
    readonly poolName: string | undefined,
    logger: Logger,
  ) {
    this.health = new CollectorHealth(poolName);
    this.outages = new OutageLog(logger);
  }

  /** Add a collector; those it runs after must be registered first (so there is no cycle). */
  register(c: Collector): void {
    if (this.collectors.has(c.name)) throw new Error(`collector ${c.name} registered twice`);
    for (const name of c.after ?? []) if (!this.collectors.has(name)) throw new Error(`collector ${c.name} runs after ${name}, which is not registered`);
    this.collectors.set(c.name, c);
  }

  get(name: string): Collector | undefined {
    return this.collectors.get(name);
  }

  /** Run every enabled collector into `set`, then add every collector's health series. Never throws. */
  async collect(set: FamilySet): Promise<void> {
    const runs = new Map<string, Promise<void>>();
    for (const c of this.collectors.values()) {
      if (!c.enabled) continue;
      const before = (c.after ?? []).map((name) => runs.get(name));
      runs.set(
        c.name,
        Promise.all(before).then(() => this.run(c, set)),
      );
    }
    await Promise.all(runs.values());
    this.addMetrics(set);
  }

  private async run(c: Collector, set: FamilySet): Promise<void> {
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    // Samples pass to the poll's set only while the run is on time: an abandoned run writes nothing after.
    let open = true;
    const sink: MetricSink = {
      add: (f, labels, value, extra) => {
        if (open) set.add(f.name, f.type, f.help, labels, value, extra);
      },
    };
    const controller = new AbortController();
    const deadlineMs = c.deadlineMs();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`collector ${c.name}`, deadlineMs)), deadlineMs);
    });
    try {
      await Promise.race([c.collect(sink, { signal: controller.signal, countError: (err) => this.health.count(c.name, err) }), late]);
      // A background collector's up is its last cycle's, which a read of its results does not change.
      if (!c.background) this.health.success(c.name, seconds());
      this.onTime(c);
    } catch (err) {
      this.health.failure(c.name, err, seconds());
      if (!(err instanceof TimeoutError && err.what === `collector ${c.name}`)) this.onTime(c);
      else {
        controller.abort(err);
        this.outages.failed(c.name, 'collector abandoned at its deadline: its series are missing from this poll', {
          collector: c.name,
          pool: this.poolName,
          deadline_seconds: deadlineMs / 1000,
        });
      }
    } finally {
      open = false;
      clearTimeout(timer);
    }
  }

  private onTime(c: Collector): void {
    this.outages.recovered(c.name, 'collector finishes within its deadline again', { collector: c.name, pool: this.poolName });
  }

  /** How old a collector's last success may be before /health calls it stale (undefined: the exporter's setting). */
  staleAfterMs(name: string): number | undefined {
    return this.collectors.get(name)?.staleAfterMs?.();
  }

  private addMetrics(set: FamilySet): void {
    const sink = sinkInto(set);
    for (const c of this.collectors.values()) sink.add(ENABLED, labelString({ pool_name: this.poolName, collector: c.name }), c.enabled ? 1 : 0);
    this.health.addMetrics(sink);
  }
}
