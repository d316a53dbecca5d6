// Peers the bundle's tools start next to it — Prometheus and Alertmanager for the demo, the dashboards' preview and the
// tests: a binary on a loopback port, ready when its HTTP readiness path answers, stopped with SIGTERM (SIGKILL after
// 5 s). A peer never outlives us: an 'exit' hook kills it, and when we are killed without running exit hooks, a
// watchdog whose stdin is our pipe notices the pipe close and kills it.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { waitFor } from './concurrency.js';
import { freePort } from './net.js';

export interface Peer {
  name: string;
  /** http://127.0.0.1:port */
  url: string;
  /** The last lines it printed on stderr (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

export interface PeerOptions {
  name: string;
  bin: string;
  /** Command-line arguments for the port it listens on. */
  args: (port: number) => string[];
  /** Try this port first (the demo's well-known ports); any free port otherwise. */
  port?: number;
  /** Answers 200 once the peer is ready; `/-/ready` (Prometheus, Alertmanager) by default. */
  readyPath?: string;
  startTimeoutMs?: number;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Start the peer; resolves once its readiness path answers 200, rejects with its last log lines if it does not. */
export async function startPeer(o: PeerOptions): Promise<Peer> {
  // Another process may take the free port before the peer binds it: try again on another.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(o, await freePort(attempt === 1 ? o.port : 0));
    } catch (err) {
      if (attempt === 3 || !/address already in use/.test(String(err))) throw err;
    }
  }
}

async function launch(o: PeerOptions, port: number): Promise<Peer> {
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(o.bin, o.args(port), { stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
  const watchdog = spawn('sh', ['-c', `read _; kill -9 ${child.pid} 2>/dev/null; exit 0`], { stdio: ['pipe', 'ignore', 'ignore'] });
  watchdog.unref();
  let log = '';
  child.stderr!.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-8000)));
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    const ended = () => {
      exited = true;
      live.delete(child);
      resolve();
    };
    child.once('close', ended);
    // A binary that cannot be started (ENOENT) may never emit 'close'.
    child.once('error', (err) => {
      log += `\nspawn error: ${err.message}`;
      ended();
    });
  });
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      if (!exited) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exit;
        clearTimeout(timer);
      }
      watchdog.stdin!.end();
    })());
  const peer: Peer = { name: o.name, url, log: () => log, stop };
  const ready = await waitFor(
    `${o.name} ready`,
    async () => exited || (await fetch(url + (o.readyPath ?? '/-/ready'), { signal: AbortSignal.timeout(1000) })).ok,
    { timeoutMs: o.startTimeoutMs ?? 30_000, everyMs: 100 },
  ).catch(() => false);
  if (ready && !exited) return peer;
  const why = exited ? 'exited' : 'did not become ready';
  await stop();
  throw new Error(`${o.name} ${why}: ${log.trim().split('\n').slice(-5).join('\n')}`);
}

/** Prometheus with `dir/prometheus.yml`, its data in `dir/prometheus-data`. */
export function startPrometheusPeer(o: { dir: string; bin?: string; port?: number; extraArgs?: string[]; startTimeoutMs?: number }): Promise<Peer> {
  return startPeer({
    name: 'prometheus',
    bin: o.bin ?? 'prometheus',
    port: o.port,
    startTimeoutMs: o.startTimeoutMs,
    args: (port) => [
      `--config.file=${join(o.dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(o.dir, 'prometheus-data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1d',
      '--log.level=warn',
      ...(o.extraArgs ?? []),
    ],
  });
}

/** Alertmanager with `dir/alertmanager.yml`, its data in `dir/alertmanager-data`, no HA gossip (no port 9094, no peer wait). */
export function startAlertmanagerPeer(o: { dir: string; bin?: string; port?: number }): Promise<Peer> {
  return startPeer({
    name: 'alertmanager',
    bin: o.bin ?? 'alertmanager',
    port: o.port,
    args: (port) => [
      `--config.file=${join(o.dir, 'alertmanager.yml')}`,
      `--storage.path=${join(o.dir, 'alertmanager-data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
  });
}
