// The `exporter:` section of the config.
import { type ListenAddress, listenAddress } from '../core/config/listen.js';
import type { PoolConfig } from '../core/config/pool.js';
import { type Schema, type SchemaContext, bool, num, obj, oneOf, optional, report, str, withDefault } from '../core/config/schema.js';
import { type Secret, readSecret, secretKeys } from '../core/config/secret.js';
import type { HardwareConfig } from './hardware/config.js';

/** What the exporter reads of the bundle's config (cli/config/bundle.ts composes the whole). */
export interface ExporterBundleConfig {
  pools: PoolConfig<HardwareConfig>[];
  exporter: ExporterConfig;
}

export interface ExporterConfig {
  listen: ListenAddress;
  poll_interval_seconds: number;
  rrd: { concurrency: number; timeout_seconds: number; window_seconds: number; max_body_bytes: number };
  /** Bearer token required on /metrics (never on /health). */
  token?: Secret;
  /** Serve HTTPS with these files. */
  tls?: { cert_file: string; key_file: string };
  /** /health reports a pool as failing when its last successful poll is older than this. */
  stale_after_seconds: number;
  labels: LabelOptions;
  /** Where the pool ids learned from XAPI are kept across restarts (xcp_pool_connected of a pool not reached yet). */
  state_file?: string;
  /** Serve the event-loop delay histogram (min/max/mean/stddev/p50/p90/p99), sampled every 10 ms: an idle cost. */
  event_loop_delay_metrics: boolean;
  /** Collectors that can be turned off (xapi cannot: the others need its session; ipmi and smart: per pool, `hardware`). */
  collectors: CollectorSwitches;
}

export interface CollectorSwitches {
  /** Every host's /rrd_updates (performance metrics, xcp_host_rrd_up). */
  rrd: boolean;
  /** The exporter's own process metrics (process_*, nodejs_*). */
  self: boolean;
}

const COLLECTOR_DEFAULTS: CollectorSwitches = { rrd: true, self: true };

export interface LabelOptions {
  /** XAPI tags on host, VM and SR series (`all`, as Xen Orchestra), only on their `_info` series, or nowhere. */
  tags: 'all' | 'info' | 'none';
  /** `pool_name` from the config's pool name, or from the pool's XAPI name_label (as Xen Orchestra). */
  pool_name: 'config' | 'xapi';
}

const LABEL_DEFAULTS: LabelOptions = { tags: 'all', pool_name: 'config' };

const DEFAULT_LISTEN = { host: '127.0.0.1', port: 9004 };
// A 10 s window is the two newest 5 s rows: enough for the newest value of every gauge, and counters fill the
// rest of the poll interval with the oldest rate of the window (XO's "rate × elapsed"). Wider windows integrate
// counters exactly at the cost of parsing more rows.
const RRD_DEFAULTS = { concurrency: 8, timeout_seconds: 10, window_seconds: 10, max_body_bytes: 64 * 1024 * 1024 };

export function exporterSchema(sc: SchemaContext): Schema<ExporterConfig> {
  const shape = obj({
    // 9004: the port of Xen Orchestra's OpenMetrics plugin, which this exporter can replace.
    listen: withDefault(listenAddress(), DEFAULT_LISTEN),
    poll_interval_seconds: withDefault(num({ min: 5, max: 3600 }), 30),
    rrd: withDefault(
      obj({
        concurrency: withDefault(num({ min: 1, max: 64, integer: true }), RRD_DEFAULTS.concurrency),
        // Default: 10 s, or half the poll interval when that is shorter (a default the check below never rejects).
        timeout_seconds: optional(num({ min: 1, max: 120 })),
        window_seconds: withDefault(num({ min: 10, max: 600, integer: true }), RRD_DEFAULTS.window_seconds),
        max_body_bytes: withDefault(num({ min: 1024, integer: true }), RRD_DEFAULTS.max_body_bytes),
      }),
      { ...RRD_DEFAULTS, timeout_seconds: undefined },
    ),
    ...secretKeys('token'),
    tls: optional(obj({ cert_file: str({ minLength: 1 }), key_file: str({ minLength: 1 }) })),
    stale_after_seconds: optional(num({ min: 10 })),
    labels: withDefault(
      obj({
        tags: withDefault(oneOf(['all', 'info', 'none'] as const), LABEL_DEFAULTS.tags),
        pool_name: withDefault(oneOf(['config', 'xapi'] as const), LABEL_DEFAULTS.pool_name),
      }),
      LABEL_DEFAULTS,
    ),
    state_file: optional(str({ minLength: 1 })),
    event_loop_delay_metrics: withDefault(bool(), false),
    collectors: withDefault(obj({ rrd: withDefault(bool(), COLLECTOR_DEFAULTS.rrd), self: withDefault(bool(), COLLECTOR_DEFAULTS.self) }), COLLECTOR_DEFAULTS),
  });
  const parse: Schema<ExporterConfig>['parse'] = (value, path, ctx) => {
    const raw = shape.parse(value, path, ctx);
    if (!raw) return undefined;
    const token = readSecret(raw as unknown as Record<string, unknown>, 'token', path, ctx, { required: false, baseDir: sc.baseDir, env: sc.env });
    const rrd = { ...raw.rrd, timeout_seconds: raw.rrd.timeout_seconds ?? Math.min(RRD_DEFAULTS.timeout_seconds, raw.poll_interval_seconds / 2) };
    if (rrd.timeout_seconds >= raw.poll_interval_seconds)
      report(ctx, [...path, 'rrd', 'timeout_seconds'], `must be shorter than poll_interval_seconds (${raw.poll_interval_seconds})`);
    const resolve = (f: string) => (f.startsWith('/') ? f : `${sc.baseDir}/${f}`);
    return {
      listen: raw.listen,
      poll_interval_seconds: raw.poll_interval_seconds,
      rrd,
      token,
      tls: raw.tls ? { cert_file: resolve(raw.tls.cert_file), key_file: resolve(raw.tls.key_file) } : undefined,
      stale_after_seconds: raw.stale_after_seconds ?? raw.poll_interval_seconds * 3,
      labels: raw.labels,
      state_file: raw.state_file ? resolve(raw.state_file) : undefined,
      event_loop_delay_metrics: raw.event_loop_delay_metrics,
      collectors: raw.collectors,
    };
  };
  return {
    describe: 'the exporter settings',
    parse,
    defaultValue: () => ({
      listen: DEFAULT_LISTEN,
      poll_interval_seconds: 30,
      rrd: { ...RRD_DEFAULTS },
      stale_after_seconds: 90,
      labels: { ...LABEL_DEFAULTS },
      event_loop_delay_metrics: false,
      collectors: { ...COLLECTOR_DEFAULTS },
    }),
  };
}
