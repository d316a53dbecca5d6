// Idle cost of the exporter as it ships: `node dist/cli/main.js exporter` (compiled, no TypeScript loader: tsx's
// loader alone costs a Node process ~0.2 CPU-s per minute doing nothing), pointed at a simulator process. After the
// first poll and a rest, its CPU (/proc/PID/stat) is read over a window with no poll (the interval is an hour) and no
// scrape.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DistExporter, cpuOf, startDistExporter } from './lib/dist-exporter.js';
import { startSimProcess } from './lib/sim-process.js';

export { DIST_CLI } from './lib/dist-exporter.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * CPU-s per minute of two idle exporters side by side (same simulator, same window): as configured by default, and
 * with event_loop_delay_metrics (prom-client's 10 ms sampler). `restSeconds` after the first poll lets the GCs that
 * follow a poll pass.
 */
export async function benchIdle(size: { hosts: number; vmsPerHost: number }, restSeconds: number, seconds: number) {
  const sim = await startSimProcess(size);
  const dir = mkdtempSync(join(tmpdir(), 'xcp-idle-'));
  const children: DistExporter[] = [];
  try {
    children.push(
      ...(await Promise.all(
        [false, true].map((on) => startDistExporter(sim.url, dir, String(on), `  poll_interval_seconds: 3600\n  event_loop_delay_metrics: ${on}\n`)),
      )),
    );
    await sleep(restSeconds * 1000);
    const before = children.map((c) => cpuOf(c.child.pid!));
    await sleep(seconds * 1000);
    const [off, on] = children.map((c, i) => ((cpuOf(c.child.pid!) - before[i]!) * 60) / seconds);
    return { off: off!, on: on!, seconds, restSeconds };
  } finally {
    for (const c of children) await c.stop();
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
