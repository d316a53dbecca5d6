// Health of each collector of each pool: what /health reports and the xcp_exporter_collector_* families say.
import { errorKind } from '../../core/errors.js';
import { EXP, type MetricSink, counter, gauge } from '../metrics/declare.js';
import { labelString } from '../metrics/families.js';

const UP = gauge('xcp_exporter_collector_up', 'The collector last ran successfully (1) or failed (0)', EXP);
const DURATION = gauge('xcp_exporter_collector_duration_seconds', 'Duration of the collector last run in seconds', EXP);
const LAST_SUCCESS = gauge('xcp_exporter_collector_last_success_timestamp_seconds', 'Unix time of the collector last successful run', EXP);
const ERRORS = counter('xcp_exporter_collector_errors_total', 'Collector errors by kind', [...EXP, 'kind']);
/** Every kind appears from the start, so increase() works on the first error too. */
const KINDS = ['timeout', 'auth', 'tls', 'http', 'xapi', 'parse', 'connection', 'other'] as const;

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

  addMetrics(sink: MetricSink): void {
    for (const [collector, s] of this.collectors) {
      const labels = labelString({ pool_name: this.poolName, collector });
      sink.add(UP, labels, s.up ? 1 : 0);
      sink.add(DURATION, labels, s.durationSeconds);
      if (s.lastSuccess) sink.add(LAST_SUCCESS, labels, s.lastSuccess / 1000);
      for (const kind of KINDS) sink.add(ERRORS, labels, s.errors.get(kind) ?? 0, `kind="${kind}"`);
    }
  }
}
