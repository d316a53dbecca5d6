// Scrape and poll of a pool (bench/pool.ts, in a child process), and the naive way beside it: the same series in
// plain prom-client Gauges, rendered by registry.metrics() on every scrape.
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Gauge, Registry } from 'prom-client';
import { timedGets } from './lib/http.js';
import { summary } from './lib/stats.js';
import type { PoolOptions, PoolResult } from './pool.js';

const POOL = fileURLToPath(new URL('./pool.ts', import.meta.url));

/** One pool size measured in a process of its own (bench/pool.ts), so that RSS and CPU are that size's alone. */
export function benchPool(options: PoolOptions): Promise<PoolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', POOL, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!) as PoolResult) : reject(new Error(`bench/pool.ts exited with ${code}`)),
    );
  });
}

/** The naive exporter: prom-client Gauges holding the same series (read from our exposition), rendered on every scrape. */
export async function benchBaseline(exposition: string, scrapes: number) {
  const registry = new Registry();
  for (const block of exposition.split('# HELP ').slice(1)) {
    const [head, , ...lines] = block.split('\n').filter(Boolean);
    const name = head!.slice(0, head!.indexOf(' '));
    const help = head!
      .slice(name.length + 1)
      .replace(/\\n/g, '\n')
      .replace(/\\\\/g, '\\');
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
