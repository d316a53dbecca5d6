// Scrape and poll of a large pool, beside the naive way: the same series in plain prom-client Gauges, rendered
// by registry.metrics() on every scrape.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Gauge, Registry } from 'prom-client';
import { startBenchExporter } from './lib/exporter.js';
import { timedGets } from './lib/http.js';
import { startSimProcess } from './lib/sim-process.js';
import { summary } from './lib/stats.js';

export interface PoolSize {
  hosts: number;
  vmsPerHost: number;
}

/** One full poll measured: wall seconds and this process's CPU seconds. */
export async function measurePoll(poll: () => Promise<void>) {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await poll();
  const used = process.cpuUsage(cpu);
  return { wall: (performance.now() - started) / 1000, cpu: (used.user + used.system) / 1e6 };
}

export async function benchPool(size: PoolSize, scrapes: number, polls: number) {
  const sim = await startSimProcess(size);
  const ex = await startBenchExporter(sim.url);
  try {
    await ex.exporter.pools[0]!.watcher.whenSynced(120_000);
    await ex.exporter.pollOnce(); // warm: counters seen once, caches built
    const pollRuns = [];
    for (let i = 0; i < polls; i++) pollRuns.push(await measurePoll(() => ex.exporter.pollOnce()));
    const snap = ex.exporter.snapshot!;
    const plain = await timedGets(ex.url + '/metrics', scrapes);
    const gzip = await timedGets(ex.url + '/metrics', scrapes, { 'accept-encoding': 'gzip' });
    const rss = process.memoryUsage().rss;
    return {
      series: snap.seriesCount,
      plain: { ...summary(plain.times), bytes: plain.bytes },
      gzip: { ...summary(gzip.times), bytes: gzip.bytes },
      pollWall: summary(pollRuns.map((r) => r.wall)),
      pollCpu: summary(pollRuns.map((r) => r.cpu)),
      rss,
      /** The served text, for the baseline. */
      exposition: () => Buffer.concat(snap.body('text').buffers).toString('utf8'),
    };
  } finally {
    await ex.stop();
    await sim.stop();
  }
}

/** The naive exporter: prom-client Gauges holding the same series (read from our exposition), rendered on every scrape. */
export async function benchBaseline(exposition: string, scrapes: number) {
  const registry = new Registry();
  for (const block of exposition.split('# HELP ').slice(1)) {
    const [head, , ...lines] = block.split('\n').filter(Boolean);
    const name = head!.slice(0, head!.indexOf(' '));
    const help = head!.slice(name.length + 1).replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
    const values = lines.map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)));
    const parsed = lines.map((l) => parseLabels(l.slice(0, l.lastIndexOf(' '))));
    const labelNames = [...new Set(parsed.flatMap((l) => Object.keys(l)))];
    const g = new Gauge({ name, help, labelNames, registers: [registry] });
    parsed.forEach((labels, i) => {
      g.set(labels, values[i]!);
    });
  }
  const server = http.createServer(async (_req, res) => {
    const body = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
    const r = await timedGets(url, scrapes);
    return { ...summary(r.times), bytes: r.bytes };
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

function parseLabels(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (let m = re.exec(s); m; m = re.exec(s)) out[m[1]!] = m[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
  return out;
}
