// Idle cost of the exporter as it ships: `node dist/cli/main.js exporter` (compiled, no TypeScript loader: tsx's
// loader alone costs a Node process ~0.2 CPU-s per minute doing nothing), pointed at a simulator process. From its
// first poll on, its CPU is read window by window, with no poll (the interval is an hour) and no scrape. Each process
// runs with V8's --trace-gc, so every window says which full GCs fell in it: V8's memory reducer shrinks the heap once
// the process has been idle for a while after a poll (~55–90 s here: three "Mark-Compact (reduce)", ~0.2–0.3 CPU-s with
// its helper threads), a one-off per idle stretch that a fixed rest before one window could not keep out of it. The
// steady state is the windows after the last full GC.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DistExporter, startDistExporter, threadsCpuOf, unitEnvironment } from './lib/dist-exporter.js';
import { startSimProcess } from './lib/sim-process.js';

export { DIST_CLI } from './lib/dist-exporter.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One window of one exporter: its CPU-s per minute and the full GCs (mark-compacts) V8 traced in it. */
export interface IdleWindow {
  cpuPerMinute: number;
  fullGcs: number;
  /** Of which the memory reducer's ("Mark-Compact (reduce)"). */
  reducerGcs: number;
}

export interface IdleVariant {
  windows: IdleWindow[];
  /**
   * CPU-s per minute over the windows after the last one with a full GC: what doing nothing costs once the poll's
   * aftermath (its keep-alive sockets closing, V8 shrinking the heap) is over.
   */
  steady: number;
  /** How many windows that is (none: the last window had a full GC). */
  steadyWindows: number;
  /** CPU-s spent in the windows with a memory-reducer GC, above the steady rate: the one-off. */
  reducerCpu: number;
}

interface Traced {
  exporter: DistExporter;
  /** Wall-clock ms of each full GC and whether the memory reducer made it. */
  fullGcs: { at: number; reducer: boolean }[];
}

/** An idle exporter whose stdout (--trace-gc's lines, "[pid:isolate]   12345 ms: Mark-Compact …") is read. */
async function startTraced(simUrl: string, dir: string, eventLoopDelay: boolean): Promise<Traced> {
  const fullGcs: Traced['fullGcs'] = [];
  const started = Date.now();
  const exporter = await startDistExporter(
    simUrl,
    dir,
    String(eventLoopDelay),
    `  poll_interval_seconds: 3600\n  event_loop_delay_metrics: ${eventLoopDelay}\n`,
    unitEnvironment('exporter'),
    undefined,
    {
      args: ['--trace-gc'],
      onLine: (line) => {
        const m = /^\[\d+:0x[0-9a-f]+\]\s+(\d+) ms: Mark-Compact( \(reduce\))?/.exec(line);
        // The trace's ms count from the isolate's start, a few ms after the spawn: close enough for 20 s windows.
        if (m) fullGcs.push({ at: started + Number(m[1]), reducer: Boolean(m[2]) });
      },
    },
  );
  return { exporter, fullGcs };
}

function summarize(windows: IdleWindow[], seconds: number): IdleVariant {
  const lastGc = windows.findLastIndex((w) => w.fullGcs > 0);
  const quiet = windows.slice(lastGc + 1);
  const steady = quiet.length ? quiet.reduce((n, w) => n + w.cpuPerMinute, 0) / quiet.length : NaN;
  const reducerCpu = windows
    .filter((w) => w.reducerGcs > 0)
    .reduce((n, w) => n + ((w.cpuPerMinute - (Number.isFinite(steady) ? steady : 0)) * seconds) / 60, 0);
  return { windows, steady, steadyWindows: quiet.length, reducerCpu };
}

/**
 * Two idle exporters side by side (same simulator, same windows): as configured by default, and with
 * event_loop_delay_metrics (prom-client's 10 ms sampler). `windows` windows of `seconds` each, from the first poll on.
 */
export async function benchIdle(size: { hosts: number; vmsPerHost: number }, windows: number, seconds: number) {
  const sim = await startSimProcess(size);
  const dir = mkdtempSync(join(tmpdir(), 'xcp-idle-'));
  const traced: Traced[] = [];
  try {
    traced.push(...(await Promise.all([false, true].map((on) => startTraced(sim.url, dir, on)))));
    const perVariant: IdleWindow[][] = traced.map(() => []);
    for (let w = 0; w < windows; w++) {
      const from = Date.now();
      const before = traced.map((c) => threadsCpuOf(c.exporter.child.pid!));
      await sleep(seconds * 1000);
      const to = Date.now();
      traced.forEach((c, i) => {
        const gcs = c.fullGcs.filter((g) => g.at >= from && g.at < to);
        perVariant[i]!.push({
          cpuPerMinute: ((threadsCpuOf(c.exporter.child.pid!) - before[i]!) * 60) / ((to - from) / 1000),
          fullGcs: gcs.length,
          reducerGcs: gcs.filter((g) => g.reducer).length,
        });
      });
    }
    const [off, on] = perVariant.map((v) => summarize(v, seconds));
    return { off: off!, on: on!, seconds };
  } finally {
    for (const c of traced) await c.exporter.stop();
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
