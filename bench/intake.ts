// Intake: Alertmanager webhooks (10 alerts each) that the receiver accepts durably, at 16 concurrent senders.
// The receiver runs in its own process (the real CLI) with its SQLite store on disk (every commit on disk before the
// answer: the store syncs its WAL), or on a throwaway PostgreSQL cluster (Debian's server, default durability: fsync
// on, synchronous_commit on). The limit servers (bench/lib/limit-intake.ts) take the same load: one that group-commits
// to a file with fsync, one that writes nothing.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../core/net.js';
import { startPostgres } from './lib/postgres.js';
import { DIST_CLI } from './idle.js';
import { summary } from './lib/stats.js';

const LIMIT = fileURLToPath(new URL('./lib/limit-intake.ts', import.meta.url));

function webhook(n: number): string {
  const now = new Date().toISOString();
  const alerts = Array.from({ length: 10 }, (_, i) => ({
    status: 'firing',
    labels: {
      alertname: 'XcpVmHaltedUnexpectedly',
      xcp_notification_type: 'COMPUTE_INSTANCE',
      recovery: 'true',
      pool_name: 'bench',
      host_name: `host-${i % 4}`,
      host_uuid: `00000000-0000-4000-8000-00000000000${i % 4}`,
      vm_uuid: randomUUID(),
      vm_name: `vm-${n}-${i}`,
    },
    annotations: { summary: 'bench' },
    startsAt: now,
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus/graph',
    // Alertmanager's fingerprint is a 64-bit hash of the label set (prometheus/common model.Fingerprint): random hex,
    // as here — not a counter, whose replay keys would all land at the end of the store's index.
    fingerprint: createHash('sha256').update(`${n}:${i}`).digest('hex').slice(0, 16),
  }));
  return JSON.stringify({
    version: '4',
    groupKey: `{}:{n="${n}"}`,
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'recovery',
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://am',
    alerts,
  });
}

/** CPU ticks (1/100 s) used so far by each thread of process `pid`, by thread id (empty when /proc cannot tell). */
function threadCpu(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), Number(fields[11]) + Number(fields[12]));
    }
  } catch {
    out.clear();
  }
  return out;
}

/**
 * `sqlite-dry-run`: the event-loop store with the pool in dry-run mode, so that every notification is `new` and the
 * engine works the backlog while the webhooks arrive (each run fails fast: the pool's XAPI is unreachable) — a storm
 * as a recovering pool sees it. The other targets' pool is notify-only: intake alone.
 */
export type IntakeTarget = 'sqlite' | 'sqlite-event-loop' | 'sqlite-dry-run' | 'postgres' | 'limit-fsync' | 'limit-none';

/**
 * `cli`: the receiver's built CLI (another tree's dist/cli/main.js, to compare trees in the same run). `sustained`:
 * before the measured run, as many webhooks again at the same concurrency, unmeasured — a storm that has lasted, the
 * receiver's hot code compiled by V8 and its store holding those rows; without it the run is a storm's first seconds
 * into a receiver that was idle (V8 still compiling: most of the other threads' CPU).
 */
export async function benchIntake(total: number, concurrency: number, target: IntakeTarget = 'sqlite', cli = DIST_CLI, sustained = false) {
  const dir = mkdtempSync(join(tmpdir(), 'xcp-intake-'));
  const port = await freePort(); // the system's pick: a random port may be a client socket's, and the receiver exits
  const cluster = target === 'postgres' ? await startPostgres({ durable: true }) : undefined;
  const store = cluster
    ? `store: { postgres: { url: "${await cluster.createDatabase()}" } }`
    : `store_path: ${join(dir, 'store.sqlite')}\n  store_worker_thread: ${target === 'sqlite'}`;
  writeFileSync(
    join(dir, 'sentinel.yml'),
    `log: { level: warn }
pools:
  - { name: bench, url: "http://127.0.0.1:9", username: root, password: x }
recovery_hook:
  listen: 127.0.0.1:${port}
  ${store}
  tokens: [{ name: bench, token: bench-token }]
  pools: { bench: { mode: ${target === 'sqlite-dry-run' ? 'dry-run' : 'notify-only'} } }
`,
  );
  // The receiver as shipped (compiled, dist/); the limit servers through tsx (its loader costs nothing once loaded).
  const nodeArgs = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const args = target.startsWith('limit-')
    ? ['--import', 'tsx', LIMIT, target.slice('limit-'.length), String(port), join(dir, 'webhooks.log')]
    : [cli, 'recovery-hook', '--config', join(dir, 'sentinel.yml')];
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  // A receiver that exits (its random port taken, a crash) ends the run: whatever else answers on that port is not it.
  const gone = new Promise<never>((_resolve, reject) =>
    child.once('exit', (code, signal) => reject(new Error(`the receiver exited (${signal ?? `code ${code}`}) before the run ended`))),
  );
  gone.catch(() => undefined);
  const url = `http://127.0.0.1:${port}`;
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  try {
    for (let i = 0; ; i++) {
      if (child.exitCode !== null || child.signalCode !== null) await gone;
      try {
        if ((await fetch(url + '/v1', { signal: AbortSignal.timeout(1000) })).ok) break;
      } catch {
        if (i > 200) throw new Error('receiver did not start');
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const post = (body: string) =>
      new Promise<number>((resolve, reject) => {
        const started = performance.now();
        const req = http.request(
          url + '/alertmanager',
          {
            method: 'POST',
            agent,
            headers: { 'content-type': 'application/json', authorization: 'Bearer bench-token', 'content-length': Buffer.byteLength(body) },
          },
          (res) => {
            res.resume();
            res.on('end', () =>
              res.statusCode === 202 || res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error(`HTTP ${res.statusCode}`)),
            );
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    /** `bodies` posted by `concurrency` senders, each waiting for its answer; the latencies. */
    const storm = async (bodies: string[]) => {
      const latencies: number[] = [];
      let next = 0;
      await Promise.race([
        Promise.all(
          Array.from({ length: concurrency }, async () => {
            for (let i = next++; i < bodies.length; i = next++) latencies.push(await post(bodies[i]!));
          }),
        ),
        gone,
      ]);
      return latencies;
    };
    for (let i = 0; i < 50; i++) await Promise.race([post(webhook(-1 - i)), gone]); // the first requests
    if (sustained) await storm(Array.from({ length: total }, (_, i) => webhook(total + i)));
    const bodies = Array.from({ length: total }, (_, i) => webhook(i));
    const cpuBefore = threadCpu(child.pid!);
    const started = performance.now();
    const latencies = await storm(bodies);
    const seconds = (performance.now() - started) / 1000;
    const cpuAfter = threadCpu(child.pid!);
    // CPU of the receiver's threads during the run, per webhook: the main thread (HTTP, validation), and the rest
    // (the SQLite worker, libuv's pool, V8's helpers), from /proc (Linux; empty elsewhere).
    const cpuUs = (main: boolean) => {
      let ticks = 0;
      for (const [tid, t] of cpuAfter) if ((tid === child.pid) === main) ticks += t - (cpuBefore.get(tid) ?? 0);
      return Math.round((ticks * 1e4) / total);
    };
    return {
      perSecond: total / seconds,
      latency: summary(latencies),
      total,
      cpuUsPerWebhook: cpuAfter.size ? { main: cpuUs(true), other: cpuUs(false) } : undefined,
    };
  } finally {
    agent.destroy();
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await gone.catch(() => undefined);
    }
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
