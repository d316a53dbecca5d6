// `npm run grafana:preview [-- --seconds 240] [-- --out dir]`: run the bundle on a simulated pool (exporter, recovery
// hook, Prometheus; the same stack as test/grafana/live.test.ts), let some things happen (a VM crashes and is
// restarted by the recovery hook, a misrouted alert errors, a toolstack dies), then draw every dashboard from live
// query results (grafana/preview/render.ts) and screenshot each page with headless Chromium into grafana/screenshots/.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { exerciseRecovery, simControl, startStack } from './stack.js';
import type { Dashboard } from '../lib/model.js';
import { type Builtins, allPanels, interpolate } from '../lib/promql.js';
import type { PrometheusClient } from '../lib/prometheus.js';
import { describeValues, resolveVariables } from '../lib/resolve.js';
import { HEADLESS_CHROMIUM_ARGS, NO_CHROMIUM, findChromium } from './chromium.js';
import { type TargetData, pageHeight, renderDashboardHtml } from './render.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const DASHBOARDS = join(HERE, '..', 'dashboards');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function queryDashboard(prom: PrometheusClient, d: Dashboard, builtins: Builtins, from: number, to: number, step: number) {
  const { values } = await resolveVariables(prom, d, { choose: 'defaults', builtins, lookbackSeconds: to - from + 60 });
  const data = new Map<number, TargetData[]>();
  for (const p of allPanels(d)) {
    const results: TargetData[] = [];
    for (const target of p.targets ?? []) {
      const expr = interpolate(target.expr, d.templating.list, values, builtins);
      const result = target.range ? await prom.queryRange(expr, from, to, step) : await prom.query(expr, to);
      if (result.status !== 'success') throw new Error(`${d.title} "${p.title}" ${target.refId}: ${result.error}`);
      results.push({ target, result });
    }
    data.set(p.id, results);
  }
  return { data, variables: describeValues(values) };
}

/** Shrink a PNG with pngquant when it is installed (the README pictures stay well under 300 KB); else keep it. */
function quantize(png: string): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn('pngquant', ['--force', '--skip-if-larger', '--quality=70-95', '--speed=1', '--output', png, png], { stdio: 'ignore' });
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
  });
}

function screenshot(chromium: string, html: string, png: string, height: number, width = 1600): Promise<void> {
  const profile = mkdtempSync(join(tmpdir(), 'xcp-chromium-'));
  const args = [
    ...HEADLESS_CHROMIUM_ARGS,
    '--hide-scrollbars',
    '--force-device-scale-factor=1',
    `--user-data-dir=${profile}`,
    `--screenshot=${png}`,
    `--window-size=${width},${height}`,
    `file://${html}`,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(chromium, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-4000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      rmSync(profile, { recursive: true, force: true });
      if (code === 0) resolve();
      else reject(new Error(`chromium exited with ${code}: ${err.trim().split('\n').slice(-3).join(' ')}`));
    });
  });
}

async function main(): Promise<number> {
  const { values: args } = parseArgs({
    options: { seconds: { type: 'string', default: '240' }, out: { type: 'string', default: join(HERE, '..', 'screenshots') }, html: { type: 'string' } },
  });
  const chromium = findChromium();
  if (!chromium) {
    process.stderr.write(NO_CHROMIUM);
    return 1;
  }
  const seconds = Number(args.seconds);
  const out = args.out!;
  mkdirSync(out, { recursive: true });
  const htmlDir = args.html ?? mkdtempSync(join(tmpdir(), 'xcp-preview-'));
  mkdirSync(htmlDir, { recursive: true });
  const removeHtml = () => {
    if (!args.html) rmSync(htmlDir, { recursive: true, force: true });
  };

  const stack = await startStack({ scrapeIntervalSeconds: 2 }).catch((err) => {
    removeHtml();
    throw err;
  });
  const stopOnSignal = () =>
    void stack.stop().then(() => {
      removeHtml();
      process.exit(130);
    });
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    const prom = stack.prometheus;
    console.log(
      `stack up: exporter ${stack.exporter.url}, Prometheus ${prom.url}${stack.recovery ? `, recovery hook ${stack.recovery.url}` : ` (${stack.recoveryProblem})`}`,
    );
    while (!(await prom.query('up{job="xcp-sentinel"} == 1', Date.now() / 1000)).result?.length) await sleep(500);
    const from = Math.floor(Date.now() / 1000);
    console.log(`collecting for ${seconds} s…`);
    await sleep(seconds * 400);
    if (stack.recovery) console.log('recovery:', await exerciseRecovery(stack, 'vm-02-004'));
    await sleep(seconds * 350);
    await simControl(stack, 'hosts/xcp-host-03/kill-toolstack');
    console.log('killed the toolstack of xcp-host-03');
    await sleep(seconds * 250);
    const to = Math.floor(Date.now() / 1000);

    const builtins: Builtins = { rateInterval: '20s', interval: '4s', range: `${to - from}s`, rangeSeconds: to - from };
    const step = Math.max(2, Math.round((to - from) / 240));
    for (const file of readdirSync(DASHBOARDS)
      .filter((f) => f.endsWith('.json'))
      .sort()) {
      const d = JSON.parse(readFileSync(join(DASHBOARDS, file), 'utf8')) as Dashboard;
      const { data, variables } = await queryDashboard(prom, d, builtins, from, to, step);
      const html = join(htmlDir, file.replace(/\.json$/, '.html'));
      writeFileSync(html, renderDashboardHtml({ dashboard: d, data, variables, from, to }));
      const png = join(out, file.replace(/\.json$/, '.png'));
      await screenshot(chromium, html, png, pageHeight(d));
      const quantized = await quantize(png);
      console.log(`${png}: ${Math.round(statSync(png).size / 1024)} KB${quantized ? ' (pngquant)' : ''} (${variables})`);
    }
    return 0;
  } finally {
    removeHtml();
    await stack.stop();
  }
}

// One line on failure, no stack trace: this is a tool for people, and the stack is stopped by then.
process.exitCode = await main().catch((err: Error) => {
  process.stderr.write(`grafana:preview: ${err.message}\n`);
  return 1;
});
