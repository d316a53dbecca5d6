// The exporter as it ships: `node dist/cli/main.js exporter` (compiled, no TypeScript loader: tsx's loader alone
// costs a Node process ~0.2 CPU-s per minute doing nothing, and ~50 MB of RSS), pointed at a simulator process.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../core/net.js';

export const DIST_CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/**
 * The environment the daemon's systemd unit (deploy/systemd/xcp-sentinel-<daemon>.service) gives it: its
 * `Environment=` assignments, space-separated, each optionally in double quotes (systemd.exec(5)).
 */
export function unitEnvironment(daemon: 'exporter' | 'recovery-hook'): Record<string, string> {
  const unit = readFileSync(fileURLToPath(new URL(`../../deploy/systemd/xcp-sentinel-${daemon}.service`, import.meta.url)), 'utf8');
  const env: Record<string, string> = {};
  for (const [, line] of unit.matchAll(/^Environment=(.*)$/gm))
    for (const [, quoted, bare] of line!.matchAll(/"([^"]*)"|(\S+)/g)) {
      const assignment = quoted ?? bare!;
      const eq = assignment.indexOf('=');
      if (eq > 0) env[assignment.slice(0, eq)] = assignment.slice(eq + 1);
    }
  return env;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface DistExporter {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

/**
 * An exporter process from dist/ (or `cli`, another build's) with `exporterYaml` (indented keys under `exporter:`) and
 * `env` added to this process's; resolves once it served its first poll. `node`: options for node itself (V8's
 * --trace-gc, which NODE_OPTIONS does not take) and a reader of the lines the process prints on stdout.
 */
export async function startDistExporter(
  simUrl: string,
  dir: string,
  name: string,
  exporterYaml: string,
  env: Record<string, string> = {},
  cli = DIST_CLI,
  node?: { args: string[]; onLine(line: string): void },
): Promise<DistExporter> {
  const port = await freePort(); // the system's pick: a random port may be a client socket's, and the exporter exits
  const file = join(dir, `sentinel-${name}.yml`);
  writeFileSync(
    file,
    `log: { level: warn }
pools:
  - { name: bench, url: "${simUrl}", username: root, password: simulated }
exporter:
  listen: 127.0.0.1:${port}
${exporterYaml}`,
  );
  const child: ChildProcess = spawn(process.execPath, [...(node?.args ?? []), cli, 'exporter', '--config', file], {
    stdio: ['ignore', node ? 'pipe' : 'ignore', 'inherit'],
    env: { ...process.env, ...env },
  });
  if (node) createInterface({ input: child.stdout! }).on('line', node.onLine);
  const url = `http://127.0.0.1:${port}/metrics`;
  const stop = async () => {
    if (child.exitCode !== null) return;
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  };
  const deadline = Date.now() + 300_000;
  for (;;) {
    const status = await fetch(url, { signal: AbortSignal.timeout(5000) }).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return { child, url, stop };
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error('exporter did not serve its first poll');
    }
    await sleep(500);
  }
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** utime + stime of a process, in seconds. */
export function cpuOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/**
 * CPU-s every thread of a process has run, from the kernel's schedstat (ns): for windows where cpuOf's 10 ms ticks
 * would be as large as the figure.
 */
export function threadsCpuOf(pid: number): number {
  let ns = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return ns / 1e9;
}

/** Resident set size of a process now and its peak (VmRSS, VmHWM), in bytes. */
export function rssOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}
