// npm run bench: every benchmark against the simulator on loopback; the table goes to bench/RESULTS.md.
// Ratios measured in the same run are the headline: absolute times vary between machines.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { unitEnvironment } from './lib/dist-exporter.js';
import { mb, ms, quantileIndex, summary } from './lib/stats.js';
import { type IntakeTarget, benchIntake } from './intake.js';
import { benchParse } from './parse.js';
import { benchRecovery } from './recovery.js';
import { type IdleVariant, type IdleWindow, benchIdle } from './idle.js';
import type { ShippedOptions } from './pool.js';
import { benchPool } from './scrape.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.filter((a) => !a.startsWith('--'));
const want = (name: string) => only.length === 0 || only.includes(name);
const lines: string[] = [];
const out = (s = '') => {
  lines.push(s);
  process.stdout.write(s + '\n');
};
const load = () =>
  `load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`;
const x = (ours: number, limit: number) => `${(ours / limit).toFixed(2)}×`;
const met = (ok: boolean) => (ok ? 'met' : '**missed**');
const us = (seconds: number, series: number) => `${((seconds / series) * 1e6).toFixed(2)} µs`;

// The receiver and the idle exporter run as shipped: compiled, from dist/.
if (!args.includes('--no-build') && (want('scrape') || want('intake'))) execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });

out('# Benchmark results');
out();
out(
  `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}.`,
);
out(
  `Made by \`npm run bench${quick ? ' -- --quick' : ''}\` on ${new Date().toISOString().slice(0, 16)}Z; ${load()} at the start. Each figure is the median (p50) unless said otherwise.`,
);
out('Absolute times depend on the machine and its load; the ratios to the limit servers, measured in the same run and');
out('interleaved request by request, are the headline.');
out();

if (want('scrape')) {
  const bigSize = { hosts: 64, vmsPerHost: 160 };
  // The shipped exporter's RSS as it polls every 30 s and every format is scraped: with the environment its systemd
  // unit gives it (deploy/systemd: glibc's mmap threshold), and bare, as `node dist/cli/main.js exporter` with none.
  const unitEnv = unitEnvironment('exporter');
  const shipped: ShippedOptions = {
    // Five polls at least: a shorter window's median moves with where the polls fall in it.
    seconds: quick ? 150 : 300,
    pollSeconds: 30,
    variants: [
      {
        name: `as its unit runs it (${Object.entries(unitEnv)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')})`,
        env: unitEnv,
      },
      { name: 'bare (no environment)', env: {} },
    ],
  };
  const big = await benchPool({ ...bigSize, scrapes: quick ? 10 : 30, polls: quick ? 8 : 12, baseline: quick ? 0 : 3, shipped });
  out(`## 1. Scrape, gzip and poll: ${bigSize.hosts} hosts × ${bigSize.vmsPerHost} VMs (2 disks, 2 VIFs, 4 vCPUs each)`);
  out();
  out(
    `Series: **${big.series.toLocaleString('en')}**; text ${mb(big.bytes.plain)} (gzip ${mb(big.bytes.gzip)}), OpenMetrics ${mb(big.bytes.openmetrics)} (gzip ${mb(big.bytes.openmetricsGzip)}). ${load()} after.`,
  );
  out();
  out(
    "Limit servers: a minimal node:http server answering with one pre-made Buffer of the same bytes (plain, or our gzip body), in the exporter's process, scraped alternately with ours by a client in a process of its own (as Prometheus is).",
  );
  out();
  out('| what | ours p50 | ours p99 | limit p50 | limit p99 | ours / limit (p50) | target |');
  out('|---|---|---|---|---|---|---|');
  out(
    `| GET /metrics, plain (${big.plain.n}; fastest of each: ${x(big.plain.min, big.limitPlain.min)}) | ${ms(big.plain.p50)} | ${ms(big.plain.p99)} | ${ms(big.limitPlain.p50)} | ${ms(big.limitPlain.p99)} | **${x(big.plain.p50, big.limitPlain.p50)}** | ≤ 1.3×: ${met(big.plain.p50 <= 1.3 * big.limitPlain.p50)} |`,
  );
  out(
    `| GET /metrics, gzip, repeated (${big.gzip.n}) | ${ms(big.gzip.p50)} | ${ms(big.gzip.p99)} | ${ms(big.limitGzip.p50)} | ${ms(big.limitGzip.p99)} | **${x(big.gzip.p50, big.limitGzip.p50)}** | |`,
  );
  out(
    `| gzip, first scrape after each poll (${big.firstGzip.n}; p99 = max; GC pauses during each: p50 ${ms(big.firstGzipGc.p50)}, max ${ms(big.firstGzipGc.max)}); limit: scraped right after each (${big.limitAfterPoll.n}) | ${ms(big.firstGzip.p50)} | ${ms(big.firstGzip.max)} | ${ms(big.limitAfterPoll.p50)} | ${ms(big.limitAfterPoll.max)} | **${x(big.firstGzip.p50, big.limitAfterPoll.p50)}** | ≤ 1.5×, p99 < 60 ms: ${met(big.firstGzip.p50 <= 1.5 * big.limitAfterPoll.p50 && big.firstGzip.max < 60)} |`,
  );
  out(
    `| … ours again, right after the limit (${big.againAfterPoll.n}) | ${ms(big.againAfterPoll.p50)} | ${ms(big.againAfterPoll.max)} | ${ms(big.limitAfterPoll.p50)} | ${ms(big.limitAfterPoll.max)} | ${x(big.againAfterPoll.p50, big.limitAfterPoll.p50)} | |`,
  );
  out(
    `| the same, scraped from the exporter's own process (the bench's client before session 7; alternate polls: ${big.firstGzipInProcess.n}; GC p50 ${ms(big.firstGzipInProcessGc.p50)}, max ${ms(big.firstGzipInProcessGc.max)}) | ${ms(big.firstGzipInProcess.p50)} | ${ms(big.firstGzipInProcess.max)} | ${ms(big.limitAfterPoll.p50)} | ${ms(big.limitAfterPoll.max)} | ${x(big.firstGzipInProcess.p50, big.limitAfterPoll.p50)} | |`,
  );
  if (big.duringPoll)
    out(
      `| gzip while a poll runs (${big.duringPoll.n}; the previous poll's body) | ${ms(big.duringPoll.p50)} | ${ms(big.duringPoll.p99)} | ${ms(big.limitGzip.p50)} | ${ms(big.limitGzip.p99)} | ${x(big.duringPoll.p50, big.limitGzip.p50)} | |`,
    );
  out(
    `| GET /metrics, OpenMetrics plain (${big.openmetrics.n}) | ${ms(big.openmetrics.p50)} | ${ms(big.openmetrics.p99)} | ${ms(big.limitPlain.p50)} | ${ms(big.limitPlain.p99)} | ${x(big.openmetrics.p50, big.limitPlain.p50)} | |`,
  );
  if (big.baseline)
    out(
      `| naive: prom-client Gauges, registry.metrics() per scrape (${big.baseline.n}) | ${ms(big.baseline.p50)} | ${ms(big.baseline.p99)} | | | baseline / ours: **${(big.baseline.p50 / big.plain.p50).toFixed(0)}×** | ≥ 20×: ${met(big.baseline.p50 >= 20 * big.plain.p50)} |`,
    );
  out();
  out(
    `Memory: the shipped exporter (\`node dist/cli/main.js exporter\` with its systemd unit's environment, deploy/systemd, and without it; a process of its own polling every ${shipped.pollSeconds} s, every format scraped in turn, RSS sampled every 200 ms for ${shipped.seconds} s): ${big
      .shipped!.map((v) => `${v.name}: median **${mb(v.rss.p50)}**, min ${mb(v.rss.min)}, peak ${mb(v.peak)}`)
      .join(
        '; ',
      )}; target < 300 MB: ${met(big.shipped![0]!.rss.p50 < 300e6)}. In the bench process (its exporter in-process): RSS ${mb(big.rss)} after the scrapes (heap ${mb(big.heap)}; ${mb(big.rssBefore)} before the exporter started: node, the TypeScript loader, the bench). Bodies above 8 MiB are held only gzip-compressed, in independent pieces of about 1 MiB; a plain scrape of one above 64 MiB (this one) inflates the next pieces in zlib's thread pool while it sends the one before, into three buffers of its own used again (one of at most 64 MiB is inflated whole once and held while plain is asked for).`,
  );
  out();
  // Pieces unchanged since the poll before keep their compressed bytes: compressed per poll is the rest.
  const compressCpu = big.compressCpu * (1 - big.reusedBytes / big.bytes.plain);
  const renderCpu = big.pollCpu.p50 - compressCpu;
  out(`One full poll (every host's /rrd_updates with the default 10 s window, inventory changes, render, gzip of both formats), ${big.pollCpu.n} runs:`);
  out(
    `wall p50 **${big.pollWall.p50.toFixed(2)} s** (max ${big.pollWall.max.toFixed(2)} s); CPU of the process during the poll p50 **${big.pollCpu.p50.toFixed(2)} s** (max ${big.pollCpu.max.toFixed(2)} s),`,
  );
  out(
    `until 1 s after it (GC included) ${big.pollCpuWithAfter.p50.toFixed(2)} s. Of the poll's CPU, compression is about ${compressCpu.toFixed(2)} s (the whole body compressed alone, same settings: ${big.compressCpu.toFixed(2)} s; ${mb(big.reusedBytes)} of a poll's lines were those of the poll before and kept their compressed bytes),`,
  );
  out(
    `leaving **${renderCpu.toFixed(2)} s = ${us(renderCpu, big.series)} per series** for collecting and rendering. Targets: poll CPU < 1.0 s: ${met(big.pollCpu.p50 < 1)}; ≤ 1.7 µs per series: ${met(big.pollCpu.p50 / big.series <= 1.7e-6)} (${us(big.pollCpu.p50, big.series)} with compression).`,
  );
  out();
  const idleSize = { hosts: 16, vmsPerHost: 110 };
  const idle = await benchIdle(idleSize, quick ? 8 : 5, quick ? 20 : 40);
  const windowText = (w: IdleWindow) =>
    `${w.cpuPerMinute.toFixed(3)}${w.fullGcs ? ` (${w.fullGcs} full GC${w.fullGcs > 1 ? 's' : ''}${w.reducerGcs ? `, ${w.reducerGcs} by the memory reducer` : ''})` : ''}`;
  const steadyText = (v: IdleVariant) => (v.steadyWindows ? `${v.steady.toFixed(3)} CPU-s per minute` : 'no window after the last full GC');
  out(
    `Idle: two exporter processes as shipped (\`node dist/cli/main.js exporter\` with its unit's environment, and V8's --trace-gc), ${idleSize.hosts} × ${idleSize.vmsPerHost} VMs, no poll and no scrape, ${idle.off.windows.length} windows of ${idle.seconds} s from the first poll on, side by side:`,
  );
  out(
    `**${steadyText(idle.off)}** by default, in the ${idle.off.steadyWindows} windows after the last full GC (target < 0.05: ${met(idle.off.steadyWindows > 0 && idle.off.steady < 0.05)}); ${steadyText(idle.on)} with \`event_loop_delay_metrics: true\` (prom-client's 10 ms sampler). CPU from every thread's schedstat (ns).`,
  );
  out(
    `Window by window, CPU-s per minute: default ${idle.off.windows.map(windowText).join(', ')}; with the sampler ${idle.on.windows.map(windowText).join(', ')}. V8's memory reducer, which shrinks the heap once a process looks idle after a poll: ${idle.off.reducerCpu.toFixed(2)} CPU-s above the steady rate (default; ${idle.on.reducerCpu.toFixed(2)} with the sampler), a one-off: the windows before it are the first poll's aftermath.`,
  );
  out();

  out('## 2. Growth: scrape, memory and poll as the pool grows');
  out();
  out('Each size in a process of its own. Plain and gzip p50 beside the limit server (same bytes, same run).');
  out();
  out('| pool | series | text | gzip | RSS | poll CPU | per series | of which gzip | plain / limit | gzip / limit |');
  out('|---|---|---|---|---|---|---|---|---|---|');
  const growth: [{ hosts: number; vmsPerHost: number }, Awaited<ReturnType<typeof benchPool>>][] = [];
  for (const size of [
    { hosts: 1, vmsPerHost: 16 },
    { hosts: 4, vmsPerHost: 40 },
    { hosts: 16, vmsPerHost: 110 },
  ])
    growth.push([size, await benchPool({ ...size, scrapes: quick ? 20 : 50, polls: quick ? 3 : 5, baseline: 0 })]);
  growth.push([bigSize, big]);
  for (const [size, r] of growth)
    out(
      `| ${size.hosts} × ${size.vmsPerHost} | ${r.series.toLocaleString('en')} | ${mb(r.bytes.plain)} | ${mb(r.bytes.gzip)} | ${mb(r.rss)} | ${r.pollCpu.p50.toFixed(3)} s | ${us(r.pollCpu.p50, r.series)} | ${r.compressCpu.toFixed(3)} s | ${x(r.plain.p50, r.limitPlain.p50)} (${ms(r.plain.p50)}) | ${x(r.gzip.p50, r.limitGzip.p50)} (${ms(r.gzip.p50)}) |`,
    );
  out();
  out(`Targets: plain within 1.3× of the limit from 100k series, 1.5× at 10k. ${load()} after.`);
  out();
}

if (want('parse')) {
  out('## 3. Parse: /rrd_updates of one 160-VM host (9,000 columns × 6 rows), 30 runs');
  out();
  out('| generation | body | ours, whole | ours, legend known (a poll) | JSON.parse of the same bytes (floor) |');
  out('|---|---|---|---|---|');
  for (const r of benchParse(30))
    out(
      `| ${r.shape} | ${mb(r.bytes)} | ${r.mbps.toFixed(0)} MB/s | ${r.pollMbps.toFixed(0)} MB/s | ${r.floorMbps === null ? 'n/a (not JSON)' : r.floorMbps.toFixed(0) + ' MB/s'} |`,
    );
  out();
}

if (want('intake')) {
  const total = quick ? 2000 : 3000;
  const rounds = quick ? 2 : 3;
  out('## 4. Intake: Alertmanager webhooks of 10 alerts, 16 concurrent senders, stored durably');
  out();
  out(
    `${total} webhooks per run; ${rounds} rounds, each running every target once, one after the other; median run (by throughput; of an even number, the slower of the middle two), with the range.`,
  );
  out('Limit servers (bench/lib/limit-intake.ts, a process of their own like the receiver): "fsync" parses each webhook and');
  out('appends each batch of waiting ones to a file with one fsync before answering; "none" parses and answers.');
  out();
  // A row: the target, and whether the run is a sustained storm (benchIntake's `sustained`: as many webhooks again
  // first, unmeasured) or the first seconds of one into an idle receiver.
  const rows = [
    ['sqlite', false, 'ours, SQLite in a worker thread (`store_worker_thread: true`)'],
    ['sqlite-dry-run', false, 'ours, SQLite on the event loop, the pool in dry-run (the engine works the backlog meanwhile)'],
    ['sqlite-event-loop', false, 'ours, SQLite on the event loop (the default)'],
    ['limit-fsync', false, 'limit: group commit to a file, fsync'],
    ['limit-none', false, 'limit: no write'],
    ['postgres', false, 'ours, PostgreSQL 15 (fsync on), same machine'],
    ['sqlite-event-loop', true, 'sustained: ours, SQLite on the event loop (the default)'],
    ['limit-fsync', true, 'sustained: limit, group commit to a file, fsync'],
  ] as const;
  type Run = Awaited<ReturnType<typeof benchIntake>>;
  const key = (target: IntakeTarget, sustained: boolean) => `${target}${sustained ? ' sustained' : ''}`;
  const runs = new Map<string, Run[]>(rows.map(([target, sustained]) => [key(target, sustained), []]));
  const ratioRows = [
    ['sqlite-event-loop', false, 'SQLite on the event loop (default)'],
    ['sqlite', false, 'SQLite in a worker thread'],
    ['sqlite-event-loop', true, 'Sustained: SQLite on the event loop (default)'],
  ] as const;
  const ratios = new Map<string, number[]>(ratioRows.map(([target, sustained]) => [key(target, sustained), []]));
  for (let round = 0; round < rounds; round++) {
    for (const [target, sustained] of rows) runs.get(key(target, sustained))!.push(await benchIntake(total, 16, target, undefined, sustained));
    for (const [target, sustained] of ratioRows)
      ratios
        .get(key(target, sustained))!
        .push(runs.get(key(target, sustained))![round]!.perSecond / runs.get(key('limit-fsync', sustained))![round]!.perSecond);
  }
  out('| target | webhooks/s | alerts/s | p50 | p99 | CPU per webhook (main thread / others) |');
  out('|---|---|---|---|---|---|');
  const median = new Map<string, Run>();
  for (const [target, sustained, label] of rows) {
    const rs = [...runs.get(key(target, sustained))!].sort((a, b) => a.perSecond - b.perSecond);
    const r = rs[quantileIndex(rs.length, 0.5)]!;
    median.set(key(target, sustained), r);
    const range = (f: (x: (typeof rs)[number]) => number, fmt: (v: number) => string) => `${fmt(Math.min(...rs.map(f)))}–${fmt(Math.max(...rs.map(f)))}`;
    out(
      `| ${label} | **${r.perSecond.toFixed(0)}** (${range(
        (x) => x.perSecond,
        (v) => v.toFixed(0),
      )}) | ${(r.perSecond * 10).toFixed(0)} | ${ms(r.latency.p50)} | **${ms(r.latency.p99)}** (${range((x) => x.latency.p99, ms)}) | ${
        r.cpuUsPerWebhook ? `${r.cpuUsPerWebhook.main} / ${r.cpuUsPerWebhook.other} µs` : 'n/a'
      } |`,
    );
  }
  out();
  out(
    `Sustained: before each measured run, ${total} webhooks more at the same concurrency, unmeasured (V8 has compiled the hot code, the store holds their rows); the other rows are a storm's first seconds into an idle receiver.`,
  );
  out();
  const pg = median.get('postgres')!;
  const mid = (v: number[]) => summary(v).p50;
  for (const [target, sustained, label] of ratioRows) {
    const r = median.get(key(target, sustained))!;
    const rs = ratios.get(key(target, sustained))!;
    out(
      `${label} / fsync limit${sustained ? ' (sustained)' : ''}, per round: ${rs.map((v) => v.toFixed(2)).join(', ')} (median **${mid(rs).toFixed(2)}**). Targets: ≥ 2,500 webhooks/s: ${met(r.perSecond >= 2500)}; p99 < 25 ms: ${met(r.latency.p99 < 25)}; ≥ 0.65 of the fsync limit: ${met(mid(rs) >= 0.65)}.`,
    );
    out();
  }
  out(`PostgreSQL ≥ 1,500/s: ${met(pg.perSecond >= 1500)}. ${load()} after.`);
  out();
}

if (want('recovery')) {
  out('## 5. Recovery: a host with 200 VMs fails; notification → every VM running on the other hosts');
  out();
  const r = await benchRecovery(200);
  out(
    `${r.running}/${r.vms} VMs running elsewhere after **${r.seconds.toFixed(1)} s** (notification ${r.status}), parallel_starts ${r.parallelStarts} (the default), simulated VM boot ${r.bootMs} ms. Target: < 10 s.`,
  );
  out();
}

if (only.length === 0) writeFileSync(fileURLToPath(new URL('./RESULTS.md', import.meta.url)), lines.join('\n') + '\n');
process.exit(0);
