// Idle cost of the exporter as it ships: `node dist/cli/main.js exporter` (compiled, no TypeScript loader: tsx's
// loader alone costs a Node process ~0.2 CPU-s per minute doing nothing), pointed at a simulator process. After the
// first poll and a rest, its CPU (/proc/PID/stat) is read over a window with no poll (the interval is an hour) and no
// scrape.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSimProcess } from './lib/sim-process.js';

export const DIST_CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** utime + stime of a process, in seconds. */
function cpuOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An exporter process from dist/, polling once at start and then every hour; resolves once it served its first poll. */
async function startDistExporter(simUrl: string, dir: string, eventLoopDelayMetrics: boolean) {
  const port = 30000 + Math.floor(Math.random() * 20000);
  const file = join(dir, `sentinel-${eventLoopDelayMetrics}.yml`);
  writeFileSync(
    file,
    `log: { level: warn }
pools:
  - { name: bench, url: "${simUrl}", username: root, password: simulated }
exporter:
  listen: 127.0.0.1:${port}
  poll_interval_seconds: 3600
  event_loop_delay_metrics: ${eventLoopDelayMetrics}
`,
  );
  const child: ChildProcess = spawn(process.execPath, [DIST_CLI, 'exporter', '--config', file], { stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + 300_000;
  for (;;) {
    const status = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) }).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return child;
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error('exporter did not serve its first poll');
    }
    await sleep(500);
  }
}

/**
 * CPU-s per minute of two idle exporters side by side (same simulator, same window): as configured by default, and
 * with event_loop_delay_metrics (prom-client's 10 ms sampler). `restSeconds` after the first poll lets the GCs that
 * follow a poll pass.
 */
export async function benchIdle(size: { hosts: number; vmsPerHost: number }, restSeconds: number, seconds: number) {
  const sim = await startSimProcess(size);
  const dir = mkdtempSync(join(tmpdir(), 'xcp-idle-'));
  const children: ChildProcess[] = [];
  try {
    children.push(...(await Promise.all([false, true].map((on) => startDistExporter(sim.url, dir, on)))));
    await sleep(restSeconds * 1000);
    const before = children.map((c) => cpuOf(c.pid!));
    await sleep(seconds * 1000);
    const [off, on] = children.map((c, i) => ((cpuOf(c.pid!) - before[i]!) * 60) / seconds);
    return { off: off!, on: on!, seconds, restSeconds };
  } finally {
    for (const c of children) {
      c.kill('SIGTERM');
      await new Promise((r) => c.once('exit', r));
    }
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
