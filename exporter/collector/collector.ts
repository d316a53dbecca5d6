// What every collector of the exporter is (in the spirit of node_exporter's `Collector`): a name (the `collector`
// label), whether the config turned it on, and one call that adds its families to the poll's snapshot within a
// deadline. The registry (registry.ts) runs them and gives each its own up, duration and errors series.
import type { MetricSink } from '../metrics/declare.js';

export interface CollectContext {
  /** Aborted when the deadline passes: a collector still running then is abandoned and its late samples dropped. */
  readonly signal: AbortSignal;
  /** Count an error without failing the run (one host of many did not answer). */
  countError(err: unknown): void;
}

export interface Collector {
  /** The `collector` label: xapi, rrd, ipmi, smart, self. */
  readonly name: string;
  /** On by the config; a collector that is off is registered but never run (`xcp_exporter_collector_enabled 0`). */
  readonly enabled: boolean;
  /** The longest a run may take: the bound its own timeouts already give, so only a hang is cut. */
  deadlineMs(): number;
  /** Collectors of the same registry whose run must end before this one starts (rrd needs xapi's session). */
  readonly after?: readonly string[];
  /**
   * Runs in the background on its own interval and reports its up/duration/errors itself (IPMI, SMART): `collect`
   * only adds its latest results, and its status is not the read's but its last cycle's.
   */
  readonly background?: boolean;
  /** How old its last success may be before /health calls it stale (undefined: the exporter's stale_after_seconds). */
  staleAfterMs?(): number | undefined;
  /** Add this collector's families to `sink`. Rejects when the run failed: its up goes to 0. */
  collect(sink: MetricSink, ctx: CollectContext): Promise<void>;
}
