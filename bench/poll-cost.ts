// What one poll costs the exporter's process, collection alone (every host's /rrd_updates fetched, parsed and mapped,
// the inventory's series; no render, no compression): CPU, wall, GC (count and pause) and the JS heap, in a process of
// its own beside a simulator process. With `alloc`, the bytes the collection allocates (V8's sampling heap profiler,
// collected objects included) and where; with `full`, whole polls (render and compression included) after. Prints one
// JSON line.
//   node --import tsx bench/poll-cost.ts '{"hosts":64,"vmsPerHost":160,"polls":3,"alloc":false,"full":2}'
// It imports only what every tree since session 5 has, so a copy of it measures an older checkout the same way (a
// tree whose FamilySet takes the previous poll's family sizes gets them, as Exporter.pollOnce gives them).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { FamilySet } from '../exporter/metrics/families.js';
import { startBenchExporter } from './lib/exporter.js';
import { startSimProcess } from './lib/sim-process.js';

interface Options {
  hosts: number;
  vmsPerHost: number;
  polls: number;
  /** Measure allocation (slows the polls it measures: their CPU is not reported). */
  alloc?: boolean;
  /** Write a CPU profile of the measured collections to this file (.cpuprofile). */
  profile?: string;
  /** Then whole polls (collect, render, compress: Exporter.pollOnce): CPU during each and until 1 s after. */
  full?: number;
}

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

const o = JSON.parse(process.argv[2] ?? '{}') as Options;
const gcs: { ms: number; major: boolean }[] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    gcs.push({ ms: e.duration, major: (e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR });
}).observe({ entryTypes: ['gc'] });

const sim = await startSimProcess({ hosts: o.hosts ?? 64, vmsPerHost: o.vmsPerHost ?? 160 });
const ex = await startBenchExporter(sim.url);
const session = new Session();
try {
  const pool = ex.exporter.pools[0]!;
  await pool.watcher.whenSynced(300_000);
  /** The family sizes of the previous poll (undefined in a tree without them). */
  const sizesOf = (set: FamilySet) => (set as { sizes?: () => Map<string, number> }).sizes?.();
  const warm = new FamilySet();
  await pool.poll(warm); // counters seen once, caches built
  let sizes = sizesOf(warm);
  await new Promise((r) => setTimeout(r, 5000)); // a new RRD row
  session.connect();
  const polls = [];
  if (o.profile) {
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  for (let i = 0; i < (o.polls ?? 3); i++) {
    if (o.alloc) {
      await session.post('HeapProfiler.enable');
      await session.post('HeapProfiler.startSampling', {
        samplingInterval: 16384,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      });
    }
    const set = new FamilySet(sizes);
    const gcBefore = gcs.length;
    const heapBefore = process.memoryUsage().heapUsed;
    const cpu = process.cpuUsage();
    const started = performance.now();
    // The heap's peak during the collection: sampled every 10 ms (the poll waits for hosts often enough).
    let heapPeak = heapBefore;
    let externalPeak = 0;
    const sampler = setInterval(() => {
      const h = getHeapStatistics() as ReturnType<typeof getHeapStatistics> & { external_memory?: number };
      heapPeak = Math.max(heapPeak, h.used_heap_size);
      externalPeak = Math.max(externalPeak, h.external_memory ?? 0);
    }, 10);
    await pool.poll(set);
    clearInterval(sampler);
    const wall = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    const heapAfter = process.memoryUsage().heapUsed;
    sizes = sizesOf(set);
    const during = gcs.slice(gcBefore);
    const poll: Record<string, unknown> = {
      series: set.seriesCount,
      wall,
      cpu: (used.user + used.system) / 1e6,
      gcCount: during.length,
      majorGcCount: during.filter((g) => g.major).length,
      gcMs: during.reduce((a, g) => a + g.ms, 0),
      heapBeforeMB: heapBefore / 1e6,
      heapAfterMB: heapAfter / 1e6,
      heapPeakMB: Math.max(heapPeak, heapAfter) / 1e6,
      // Buffers and other memory outside the JS heap that V8 is told of (sampled with the heap).
      externalPeakMB: externalPeak / 1e6,
    };
    if (o.alloc) {
      const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: { head: ProfileNode } };
      const bySite = new Map<string, number>();
      let total = 0;
      const name = (f: ProfileNode['callFrame']) =>
        `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(exporter|core|bench|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
      // A builtin (no file: an iterator's next, a RegExp's exec…) is named with its caller.
      const walk = (n: ProfileNode, caller: string) => {
        total += n.selfSize;
        const site = n.callFrame.url ? name(n.callFrame) : `${name(n.callFrame)} ← ${caller}`;
        bySite.set(site, (bySite.get(site) ?? 0) + n.selfSize);
        for (const c of n.children) walk(c, n.callFrame.url ? name(n.callFrame) : caller);
      };
      walk(profile.head, '');
      poll.allocatedMB = total / 1e6;
      poll.bytesPerSeries = total / set.seriesCount;
      poll.topSites = [...bySite]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 12)
        .map(([site, bytes]) => `${(bytes / 1e6).toFixed(1)} MB ${site}`);
    }
    polls.push(poll);
    await new Promise((r) => setTimeout(r, 1000));
  }
  if (o.profile) {
    const { profile } = (await session.post('Profiler.stop')) as { profile: object };
    writeFileSync(o.profile, JSON.stringify(profile));
  }
  const full = [];
  for (let i = 0; i < (o.full ?? 0); i++) {
    const cpu = process.cpuUsage();
    await ex.exporter.pollOnce();
    const during = process.cpuUsage(cpu);
    await new Promise((r) => setTimeout(r, 1000));
    const after = process.cpuUsage(cpu);
    full.push({ cpu: (during.user + during.system) / 1e6, cpuWithAfter: (after.user + after.system) / 1e6 });
  }
  const { rss, heapUsed } = process.memoryUsage();
  // What stays between polls: the heap after a full collection.
  await session.post('HeapProfiler.collectGarbage');
  const after = process.memoryUsage();
  const memory = {
    rssMB: rss / 1e6,
    heapUsedMB: heapUsed / 1e6,
    afterGc: { rssMB: after.rss / 1e6, heapUsedMB: after.heapUsed / 1e6 },
    maxRssMB: (process.resourceUsage().maxRSS * 1024) / 1e6, // since the process started (initial sync included)
  };
  process.stdout.write(JSON.stringify({ options: o, polls, full, ...memory }) + '\n');
} finally {
  session.disconnect();
  await ex.stop();
  await sim.stop();
}
process.exit(0);
