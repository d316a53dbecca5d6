// npm run bench: every benchmark against the simulator on loopback; the table goes to bench/RESULTS.md.
// Ratios measured in the same run are the headline: absolute times vary between machines.
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { mb, ms } from './lib/stats.js';
import { benchIntake } from './intake.js';
import { benchParse } from './parse.js';
import { benchRecovery } from './recovery.js';
import { benchBaseline, benchPool } from './scrape.js';

const only = process.argv.slice(2);
const want = (name: string) => only.length === 0 || only.includes(name);
const lines: string[] = [];
const out = (s = '') => {
  lines.push(s);
  process.stdout.write(s + '\n');
};

out('# Benchmark results');
out();
out(`Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}.`);
out(`Made by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}; each figure is the median (p50) unless said otherwise.`);
out();

if (want('scrape')) {
  out('## 1–2. Scrape and poll: 64 hosts × 160 VMs (2 disks, 2 VIFs, 4 vCPUs each)');
  out();
  const big = await benchPool({ hosts: 64, vmsPerHost: 160 }, 200, 5);
  const base = await benchBaseline(big.exposition(), 20);
  out(`Series: **${big.series.toLocaleString('en')}**.`);
  out();
  out('| what | p50 | p99 | bytes |');
  out('|---|---|---|---|');
  out(`| GET /metrics, plain (200 scrapes) | ${ms(big.plain.p50)} | ${ms(big.plain.p99)} | ${mb(big.plain.bytes)} |`);
  out(`| GET /metrics, gzip (200 scrapes) | ${ms(big.gzip.p50)} | ${ms(big.gzip.p99)} | ${mb(big.gzip.bytes)} |`);
  out(`| baseline: prom-client Gauges, registry.metrics() per scrape (20 scrapes) | ${ms(base.p50)} | ${ms(base.p99)} | ${mb(base.bytes)} |`);
  out();
  out(`Ratio baseline / ours (plain, p50): **${(base.p50 / big.plain.p50).toFixed(0)}×** (target ≥ 20×). Target p50 < 25 ms: ${big.plain.p50 < 25 ? 'met' : 'missed'}.`);
  out(`Exporter process RSS after the scrapes: **${mb(big.rss)}** (target < 300 MB; measured before the baseline registry was built).`);
  out();
  out(`One full poll (every host's /rrd_updates with the default 10 s window, plus inventory changes), 5 runs: wall p50 **${big.pollWall.p50.toFixed(2)} s** (max ${big.pollWall.max.toFixed(2)} s), CPU p50 **${big.pollCpu.p50.toFixed(2)} s** (max ${big.pollCpu.max.toFixed(2)} s) of the exporter process. Targets: < 2 s wall, < 1 CPU-second.`);
  out();
}

if (want('parse')) {
  out('## 3. Parse: /rrd_updates of one 160-VM host (9,000 columns × 6 rows), 30 runs');
  out();
  out('| generation | body | ours | JSON.parse of the same bytes (floor) |');
  out('|---|---|---|---|');
  for (const r of benchParse(30)) out(`| ${r.shape} | ${mb(r.bytes)} | ${r.mbps.toFixed(0)} MB/s | ${r.floorMbps === null ? 'n/a (not JSON)' : r.floorMbps.toFixed(0) + ' MB/s'} |`);
  out();
}

if (want('intake')) {
  out('## 4. Intake: Alertmanager webhooks of 10 alerts, 16 concurrent senders, stored durably');
  out();
  out('3000 webhooks per run, 3 runs per store; median run (by throughput), with the range over the runs.');
  out();
  out('| store | webhooks/s | alerts/s | p50 | p99 |');
  out('|---|---|---|---|---|');
  for (const [kind, label] of [['sqlite', 'SQLite (synchronous=FULL)'], ['postgres', 'PostgreSQL 15 (fsync on), same machine']] as const) {
    const runs: Awaited<ReturnType<typeof benchIntake>>[] = [];
    for (let i = 0; i < 3; i++) runs.push(await benchIntake(3000, 16, kind));
    runs.sort((a, b) => a.perSecond - b.perSecond);
    const r = runs[1]!;
    const range = (f: (x: (typeof runs)[number]) => number, fmt: (v: number) => string) => `${fmt(Math.min(...runs.map(f)))}–${fmt(Math.max(...runs.map(f)))}`;
    out(
      `| ${label} | **${r.perSecond.toFixed(0)}** (${range((x) => x.perSecond, (v) => v.toFixed(0))}) | ${(r.perSecond * 10).toFixed(0)} | ${ms(r.latency.p50)} | **${ms(r.latency.p99)}** (${range((x) => x.latency.p99, ms)}) |`,
    );
  }
  out();
  out('Targets: ≥ 1,000 webhooks/s, p99 < 25 ms.');
  out();
}

if (want('recovery')) {
  out('## 5. Recovery: a host with 200 VMs fails; notification → every VM running on the other hosts');
  out();
  const r = await benchRecovery(200);
  out(`${r.running}/${r.vms} VMs running elsewhere after **${r.seconds.toFixed(1)} s** (notification ${r.status}), parallel_starts ${r.parallelStarts} (the default), simulated VM boot ${r.bootMs} ms. Target: < 10 s.`);
  out();
}

if (want('growth')) {
  out('## 6. Growth: scrape and poll as the pool grows');
  out();
  out('| pool | series | scrape p50 (50) | gzip p50 (50) | poll wall p50 (3) | poll CPU p50 (3) |');
  out('|---|---|---|---|---|---|');
  for (const size of [{ hosts: 1, vmsPerHost: 16 }, { hosts: 4, vmsPerHost: 40 }, { hosts: 16, vmsPerHost: 110 }]) {
    const r = await benchPool(size, 50, 3);
    out(`| ${size.hosts} × ${size.vmsPerHost} | ${r.series.toLocaleString('en')} | ${ms(r.plain.p50)} | ${ms(r.gzip.p50)} | ${r.pollWall.p50.toFixed(3)} s | ${r.pollCpu.p50.toFixed(3)} s |`);
  }
  out();
}

if (only.length === 0) writeFileSync(fileURLToPath(new URL('./RESULTS.md', import.meta.url)), lines.join('\n') + '\n');
process.exit(0);
