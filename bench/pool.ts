// One pool size, in a process of its own (so RSS and CPU are this size's alone): a simulator process, the exporter in
// this process, and the limit servers beside it. Prints one JSON line (PoolResult). Run by bench/scrape.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { buffer } from 'node:stream/consumers';
import { type DistExporter, rssOf, startDistExporter } from './lib/dist-exporter.js';
import { startBenchExporter } from './lib/exporter.js';
import { timedGet } from './lib/http.js';
import { startBufferServer } from './lib/limit-http.js';
import { type Scraper, startScraperProcess } from './lib/scraper-process.js';
import { startSimProcess } from './lib/sim-process.js';
import { summary } from './lib/stats.js';
import { deflatePiece } from '../exporter/metrics/gzip.js';
import { PROMETHEUS_TEXT } from '../exporter/metrics/render.js';
import { benchBaseline } from './scrape.js';

export interface PoolOptions {
  hosts: number;
  vmsPerHost: number;
  /** Interleaved scrapes of ours and of the limit server, per format and encoding. */
  scrapes: number;
  polls: number;
  /** Scrapes of the naive prom-client exporter (0: not measured). */
  baseline: number;
  /** The shipped exporter's RSS (bench/lib/dist-exporter.ts), one process per variant side by side; absent: not measured. */
  shipped?: ShippedOptions;
}

export interface ShippedOptions {
  /** Seconds each process runs, polling every `pollSeconds`, while every format is scraped. */
  seconds: number;
  pollSeconds: number;
  /** Name and environment of each process (MALLOC_ARENA_MAX, NODE_OPTIONS…), and another build's cli/main.js if not ours. */
  variants: { name: string; env: Record<string, string>; cli?: string }[];
}

const cpuSeconds = (since: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const GZIP = { 'accept-encoding': 'gzip' };
const OM = { accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' };

/** Garbage-collection pauses of this process (start and duration, ms on performance.now()'s clock). */
const gcPauses: { start: number; ms: number }[] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcPauses.push({ start: e.startTime, ms: e.duration });
}).observe({ entryTypes: ['gc'] });
/** GC pause time of this process between `from` and `to`. */
const gcMsBetween = (from: number, to: number) => gcPauses.filter((g) => g.start >= from && g.start < to).reduce((n, g) => n + g.ms, 0);

type Getter = (url: string, headers: Record<string, string>) => Promise<{ ms: number; status: number }>;

/** A timed GET by `by`: a scraper process of its own (bench/lib/scraper-process.ts), or this process (`timedGet`). */
async function get(url: string, headers: Record<string, string> = {}, by: Getter = timedGet): Promise<number> {
  // A kept-alive connection idle past the server's keep-alive timeout (a long poll) may be closed as it is reused.
  const r = await by(url, headers).catch((err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? by(url, headers) : Promise.reject(err)));
  if (r.status !== 200) throw new Error(`${url}: HTTP ${r.status}`);
  return r.ms;
}

async function run(o: PoolOptions) {
  // This process before the exporter starts (node, the TypeScript loader, the bench): part of the RSS below.
  const rssBefore = process.memoryUsage().rss;
  const sim = await startSimProcess({ hosts: o.hosts, vmsPerHost: o.vmsPerHost });
  try {
    const inProcess = await measureInProcess(o, sim.url, rssBefore);
    return { ...inProcess, shipped: o.shipped && (await measureShipped(o.shipped, sim.url)) };
  } finally {
    await sim.stop();
  }
}

/**
 * RSS of shipped exporter processes (one per variant, side by side, the same simulator) sampled every 200 ms while
 * they poll and every format is scraped in turn: the median and the peak (VmHWM) over the run, after the first poll.
 */
async function measureShipped(o: ShippedOptions, simUrl: string) {
  const dir = mkdtempSync(join(tmpdir(), 'xcp-rss-'));
  const running: DistExporter[] = [];
  try {
    const yaml = `  poll_interval_seconds: ${o.pollSeconds}\n  rrd: { concurrency: 8, timeout_seconds: ${Math.floor(o.pollSeconds / 2)}, window_seconds: 10 }\n`;
    running.push(...(await Promise.all(o.variants.map((v, i) => startDistExporter(simUrl, dir, String(i), yaml, v.env, v.cli)))));
    const samples: number[][] = running.map(() => []);
    const sampler = setInterval(() => {
      for (const [i, r] of running.entries()) samples[i]!.push(rssOf(r.child.pid!).rss);
    }, 200);
    const scrapes = [{}, GZIP, OM, { ...OM, ...GZIP }];
    const until = Date.now() + o.seconds * 1000;
    try {
      for (let i = 0; Date.now() < until; i++) {
        await Promise.all(running.map((r) => get(r.url, scrapes[i % scrapes.length])));
        await sleep(2000);
      }
    } finally {
      clearInterval(sampler);
    }
    return o.variants.map((v, i) => ({ name: v.name, rss: summary(samples[i]!), peak: rssOf(running[i]!.child.pid!).peak }));
  } finally {
    for (const r of running) await r.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measureInProcess(o: PoolOptions, simUrl: string, rssBefore: number) {
  const ex = await startBenchExporter(simUrl);
  // Every scrape below comes from a process of its own, as Prometheus's do, except the first scrapes that show what a
  // client in the exporter's process did to them.
  const scraper: Scraper = startScraperProcess();
  const scrape = (url: string, headers: Record<string, string> = {}) => get(url, headers, scraper.get);
  try {
    const url = ex.url + '/metrics';
    await ex.exporter.pools[0]!.watcher.whenSynced(300_000);
    await ex.exporter.pollOnce(); // warm: counters seen once, caches built
    // Polls: CPU of pollOnce (collect, render, compress); the whole process until 1 s after it (GC included); then
    // the first gzip scrape after it, as Prometheus makes it when it scrapes at the poll interval: from the scraper
    // process after even polls, from this process (the bench's client until session 7) after odd ones. Right after
    // it, the limit server (the warm poll's gzip body) and ours again: the same moment's limit and repeated scrape.
    const limitNow = await startBufferServer(Buffer.concat(ex.exporter.snapshot!.gzip('text').buffers), {
      'content-type': PROMETHEUS_TEXT,
      'content-encoding': 'gzip',
    });
    const polls: { wall: number; cpu: number; cpuWithAfter: number }[] = [];
    const firstGzip: number[] = [];
    /** GC pauses in the exporter's process during each first gzip scrape. */
    const firstGzipGc: number[] = [];
    const firstGzipInProcess: number[] = [];
    const firstGzipInProcessGc: number[] = [];
    const limitAfterPoll: number[] = [];
    const againAfterPoll: number[] = [];
    /** Bytes whose compressed pieces each poll took from the poll before. */
    const reused: number[] = [];
    for (let i = 0; i < o.polls; i++) {
      const cpu = process.cpuUsage();
      const started = performance.now();
      await ex.exporter.pollOnce();
      const wall = (performance.now() - started) / 1000;
      const pollCpu = cpuSeconds(cpu);
      reused.push(ex.exporter.snapshot!.reusedBytes);
      const scrapeStarted = performance.now();
      const inProcess = i % 2 === 1;
      (inProcess ? firstGzipInProcess : firstGzip).push(await (inProcess ? get(url, GZIP) : scrape(url, GZIP)));
      (inProcess ? firstGzipInProcessGc : firstGzipGc).push(gcMsBetween(scrapeStarted, performance.now()));
      const others = process.cpuUsage();
      limitAfterPoll.push(await scrape(limitNow.url, GZIP));
      againAfterPoll.push(await scrape(url, GZIP));
      const othersCpu = cpuSeconds(others);
      await sleep(1000);
      polls.push({ wall, cpu: pollCpu, cpuWithAfter: cpuSeconds(cpu) - othersCpu });
    }
    await limitNow.stop();
    // Gzip scrapes every 100 ms while two more polls run: they get the previous poll's body, compressed in the
    // previous poll, but wait for the event loop whenever the poll holds it.
    const duringPoll: number[] = [];
    for (let i = 0; i < 2; i++) {
      let polling = true;
      const poll = ex.exporter.pollOnce().finally(() => (polling = false));
      while (polling) {
        duringPoll.push(await scrape(url, GZIP));
        await sleep(100);
      }
      await poll;
    }
    const snap = ex.exporter.snapshot!;
    await scrape(url);
    await scrape(url, OM);
    await scrape(url, GZIP);
    const rss = process.memoryUsage().rss;
    const heap = process.memoryUsage().heapUsed;
    const plainBody = await buffer(snap.body('text').stream());
    // Compression alone: the same bytes, the same settings, in one piece.
    const cpu = process.cpuUsage();
    await deflatePiece([plainBody]);
    const compressCpu = cpuSeconds(cpu);

    const gzipBody = Buffer.concat(snap.gzip('text').buffers);
    const limitPlain = await startBufferServer(plainBody, { 'content-type': PROMETHEUS_TEXT });
    const limitGzip = await startBufferServer(gzipBody, { 'content-type': PROMETHEUS_TEXT, 'content-encoding': 'gzip' });
    const t = { plain: [] as number[], limitPlain: [] as number[], gzip: [] as number[], limitGzip: [] as number[], om: [] as number[] };
    try {
      for (let i = 0; i < o.scrapes; i++) {
        t.plain.push(await scrape(url));
        t.limitPlain.push(await scrape(limitPlain.url));
        t.gzip.push(await scrape(url, GZIP));
        t.limitGzip.push(await scrape(limitGzip.url));
        t.om.push(await scrape(url, OM));
      }
    } finally {
      await limitPlain.stop();
      await limitGzip.stop();
    }
    const omBytes = snap.body('openmetrics').length;
    const omGzipBytes = snap.gzip('openmetrics').length;
    const baseline = o.baseline ? await benchBaseline(plainBody.toString('utf8'), o.baseline) : undefined;
    const s = (v: number[]) => summary(v);
    return {
      series: snap.seriesCount,
      bytes: { plain: plainBody.length, gzip: gzipBody.length, openmetrics: omBytes, openmetricsGzip: omGzipBytes },
      plain: s(t.plain),
      limitPlain: s(t.limitPlain),
      gzip: s(t.gzip),
      limitGzip: s(t.limitGzip),
      openmetrics: s(t.om),
      firstGzip: s(firstGzip),
      firstGzipGc: s(firstGzipGc),
      firstGzipEach: firstGzip.map((ms, i) => ({ ms, gcMs: firstGzipGc[i]! })),
      limitAfterPoll: s(limitAfterPoll),
      againAfterPoll: s(againAfterPoll),
      firstGzipInProcess: s(firstGzipInProcess),
      firstGzipInProcessGc: s(firstGzipInProcessGc),
      duringPoll: duringPoll.length ? s(duringPoll) : undefined,
      pollWall: s(polls.map((p) => p.wall)),
      pollCpu: s(polls.map((p) => p.cpu)),
      pollCpuWithAfter: s(polls.map((p) => p.cpuWithAfter)),
      compressCpu,
      /** Sample-line bytes whose compressed pieces came from the poll before (p50 of the polls above). */
      reusedBytes: summary(reused).p50,
      rss,
      rssBefore,
      heap,
      baseline,
    };
  } finally {
    scraper.stop();
    await ex.stop();
  }
}

export type PoolResult = Awaited<ReturnType<typeof run>>;

const result = await run(JSON.parse(process.argv[2]!) as PoolOptions);
process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0));
