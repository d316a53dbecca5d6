// The exporter's own process metrics (CPU, memory, event loop) from prom-client, added to the same snapshot so
// there is one renderer and one body.
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { FamilySet } from './metrics/families.js';
import { labelString } from './metrics/families.js';

export class SelfMetrics {
  private readonly registry = new Registry();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  async addTo(set: FamilySet): Promise<void> {
    for (const m of await this.registry.getMetricsAsJSON()) {
      const type = String(m.type);
      if (type !== 'gauge' && type !== 'counter') continue;
      // prom-client names a few gauges `…_total` (nodejs_active_handles_total); promtool rightly flags them.
      if (type === 'gauge' && m.name.endsWith('_total')) continue;
      for (const v of m.values) {
        const labels = labelString(Object.fromEntries(Object.entries(v.labels ?? {}).map(([k, x]) => [k, String(x)])));
        set.add(m.name, type, m.help, labels, v.value);
      }
    }
  }
}
