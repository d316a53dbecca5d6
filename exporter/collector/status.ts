// Health of each collector of each pool: what /health reports and the xcp_exporter_collector_* families say.
import { errorKind } from '../../core/errors.js';
import { type FamilySet, labelString } from '../metrics/families.js';

export interface CollectorStatus {
  up: boolean;
  durationSeconds: number;
  lastSuccess?: number;
  lastError?: { at: number; kind: string; message: string };
  errors: Map<string, number>;
}

export class CollectorHealth {
  readonly collectors = new Map<string, CollectorStatus>();

  /** `poolName` undefined: the exporter's own collectors (no `pool_name` label). */
  constructor(readonly poolName: string | undefined) {}

  private get(name: string): CollectorStatus {
    let s = this.collectors.get(name);
    if (!s) {
      s = { up: false, durationSeconds: 0, errors: new Map() };
      this.collectors.set(name, s);
    }
    return s;
  }

  success(name: string, durationSeconds: number, at = Date.now()): void {
    const s = this.get(name);
    s.up = true;
    s.durationSeconds = durationSeconds;
    s.lastSuccess = at;
  }

  failure(name: string, err: unknown, durationSeconds: number, at = Date.now()): void {
    const s = this.get(name);
    s.up = false;
    s.durationSeconds = durationSeconds;
    this.count(name, err, at);
  }

  /** Count an error without changing up/down (e.g. one host of many failed). */
  count(name: string, err: unknown, at = Date.now()): void {
    const s = this.get(name);
    const kind = errorKind(err);
    s.errors.set(kind, (s.errors.get(kind) ?? 0) + 1);
    s.lastError = { at, kind, message: err instanceof Error ? err.message : String(err) };
  }

  addMetrics(set: FamilySet): void {
    for (const [collector, s] of this.collectors) {
      const labels = labelString({ pool_name: this.poolName, collector });
      set.add('xcp_exporter_collector_up', 'gauge', 'The collector last ran successfully (1) or failed (0)', labels, s.up ? 1 : 0);
      set.add('xcp_exporter_collector_duration_seconds', 'gauge', 'Duration of the collector last run in seconds', labels, s.durationSeconds);
      if (s.lastSuccess)
        set.add(
          'xcp_exporter_collector_last_success_timestamp_seconds',
          'gauge',
          'Unix time of the collector last successful run',
          labels,
          s.lastSuccess / 1000,
        );
      // Every kind appears from the start, so increase() works on the first error too.
      for (const kind of ['timeout', 'auth', 'tls', 'http', 'xapi', 'parse', 'connection', 'other'])
        set.add('xcp_exporter_collector_errors_total', 'counter', 'Collector errors by kind', `${labels},kind="${kind}"`, s.errors.get(kind) ?? 0);
    }
  }
}
