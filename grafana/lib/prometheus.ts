// A real Prometheus for tests and previews (core/peer.ts: a loopback port, dies with us) with a temporary directory and a
// short scrape interval. Plus a tiny HTTP API client.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startPrometheusPeer } from '../../core/peer.js';

export interface ScrapeTarget {
  job: string;
  /** Base URL of the target; /metrics is scraped. */
  url: string;
}

export interface PrometheusOptions {
  targets: ScrapeTarget[];
  ruleFiles?: string[];
  scrapeIntervalSeconds?: number;
  binary?: string;
  startTimeoutMs?: number;
}

export interface QueryResult {
  /** HTTP status: 200 accepted, 400 parse error (bad_data), 422 execution error. */
  httpStatus: number;
  status: 'success' | 'error';
  errorType?: string;
  error?: string;
  resultType?: 'vector' | 'matrix' | 'scalar' | 'string';
  result?: Sample[] | [number, string];
}

export interface Sample {
  metric: Record<string, string>;
  value?: [number, string];
  values?: [number, string][];
}

export class PrometheusClient {
  constructor(readonly url: string) {}

  private async post(path: string, params: Record<string, string>): Promise<QueryResult> {
    const res = await fetch(`${this.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params).toString(),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json()) as {
      status: 'success' | 'error';
      errorType?: string;
      error?: string;
      data?: { resultType: QueryResult['resultType']; result: QueryResult['result'] };
    };
    return {
      httpStatus: res.status,
      status: body.status,
      errorType: body.errorType,
      error: body.error,
      resultType: body.data?.resultType,
      result: body.data?.result,
    };
  }

  query(expr: string, time: number): Promise<QueryResult> {
    return this.post('/api/v1/query', { query: expr, time: String(time) });
  }

  queryRange(expr: string, start: number, end: number, stepSeconds: number): Promise<QueryResult> {
    return this.post('/api/v1/query_range', { query: expr, start: String(start), end: String(end), step: String(stepSeconds) });
  }

  /** Grafana's label_values(selector, label): GET /api/v1/label/<label>/values?match[]=selector. */
  async labelValues(label: string, selector: string | undefined, start: number, end: number): Promise<string[]> {
    const q = new URLSearchParams({ start: String(start), end: String(end) });
    if (selector) q.append('match[]', selector);
    const res = await fetch(`${this.url}/api/v1/label/${encodeURIComponent(label)}/values?${q}`, { signal: AbortSignal.timeout(10_000) });
    const body = (await res.json()) as { status: string; data?: string[]; error?: string };
    if (res.status !== 200 || body.status !== 'success') throw new Error(`label values ${label} ${selector ?? ''}: ${res.status} ${body.error ?? ''}`);
    return body.data ?? [];
  }

  /** Number of completed scrapes of a job's targets so far (from its `up` series over the last minute). */
  async scrapes(job: string): Promise<number> {
    const r = await this.query(`count_over_time(up{job="${job}"}[1m])`, Date.now() / 1000);
    const s = (r.result as Sample[] | undefined)?.[0];
    return s?.value ? Number(s.value[1]) : 0;
  }
}

export interface RunningPrometheus extends PrometheusClient {
  stop(): Promise<void>;
  /** The last lines Prometheus logged (for failure messages). */
  log(): string;
}

function configYaml(o: PrometheusOptions): string {
  const interval = `${o.scrapeIntervalSeconds ?? 1}s`;
  return stringify({
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    ...(o.ruleFiles?.length ? { rule_files: o.ruleFiles } : {}),
    scrape_configs: o.targets.map((t) => {
      const u = new URL(t.url);
      return {
        job_name: t.job,
        scheme: u.protocol.replace(':', ''),
        metrics_path: `${u.pathname.replace(/\/$/, '')}/metrics`,
        static_configs: [{ targets: [u.host] }],
      };
    }),
  });
}

/** Start Prometheus scraping the targets; resolves once /-/ready answers. */
export async function startPrometheus(o: PrometheusOptions): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'xcp-prometheus-'));
  writeFileSync(join(dir, 'prometheus.yml'), configYaml(o));
  const peer = await startPrometheusPeer({ dir, bin: o.binary, startTimeoutMs: o.startTimeoutMs ?? 15_000 }).catch((err: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  const stop = async () => {
    await peer.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  return Object.assign(new PrometheusClient(peer.url), { stop, log: peer.log });
}
