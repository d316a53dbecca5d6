// The `self` collector: the exporter's own process metrics (CPU, memory, event loop) from prom-client, added to the
// same snapshot so there is one renderer and one body. Off (`exporter.collectors.self: false`), prom-client is not
// even started.
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Collector } from './collector/collector.js';
import { type MetricSink, foreignFamily } from './metrics/declare.js';
import { labelString } from './metrics/families.js';

// prom-client samples the event-loop delay with a 10 ms timer from the start, whether or not anyone reads it: about
// 0.4 CPU-s per minute of an otherwise idle exporter. Unless asked for, its timer is set to fire every 24 days and
// the histogram's families are left out (nodejs_eventloop_lag_seconds, measured once per poll, stays).
const EVERY_10_MS = 10;
const ALMOST_NEVER_MS = 2 ** 31 - 1;
const DELAY_HISTOGRAM = /^nodejs_eventloop_lag_(min|max|mean|stddev|p50|p90|p99)_seconds$/;

/** Reading prom-client's registry: a few seconds is a hang. */
const DEADLINE_MS = 5000;

export class SelfMetrics implements Collector {
  readonly name = 'self';
  private readonly registry = new Registry();

  constructor(
    readonly enabled: boolean,
    private readonly eventLoopDelay = false,
  ) {
    if (enabled) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: eventLoopDelay ? EVERY_10_MS : ALMOST_NEVER_MS });
  }

  deadlineMs(): number {
    return DEADLINE_MS;
  }

  async collect(set: MetricSink): Promise<void> {
    for (const m of await this.registry.getMetricsAsJSON()) {
      const type = String(m.type);
      if (type !== 'gauge' && type !== 'counter') continue;
      // prom-client names a few gauges `…_total` (nodejs_active_handles_total); promtool rightly flags them.
      if (type === 'gauge' && m.name.endsWith('_total')) continue;
      if (!this.eventLoopDelay && DELAY_HISTOGRAM.test(m.name)) continue;
      const family = foreignFamily(m.name, type, m.help);
      for (const v of m.values) {
        const labels = labelString(Object.fromEntries(Object.entries(v.labels ?? {}).map(([k, x]) => [k, String(x)])));
        set.add(family, labels, v.value);
      }
    }
  }
}
