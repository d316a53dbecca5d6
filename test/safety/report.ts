// `npm run safety`: run the safety matrix (test/safety/*.test.ts, with tap, in parallel) and print its table — per
// scenario the outcome, the three counts the monitor measured and the duration. `--readme` also writes the table
// into README.md's "Safety" section (between the safety-matrix markers). Exits non-zero when a scenario failed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ScenarioRow } from './helpers/scenario.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BEGIN = '<!-- safety-matrix:begin (written by `npm run safety -- --readme`) -->';
const END = '<!-- safety-matrix:end -->';

const args = process.argv.slice(2);
const results = mkdtempSync(join(tmpdir(), 'xcp-sentinel-safety-'));
const files = readdirSync(join(ROOT, 'test/safety'))
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => `test/safety/${f}`);
const started = Date.now();
const tap = spawnSync('npx', ['tap', '--disable-coverage', '--reporter=terse', ...files], {
  cwd: ROOT,
  stdio: 'inherit',
  env: { ...process.env, XCP_SENTINEL_SAFETY_RESULTS: results },
});
const wallSeconds = Math.round((Date.now() - started) / 1000);

const rows: ScenarioRow[] = existsSync(results)
  ? readdirSync(results)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(join(results, f), 'utf8')) as ScenarioRow)
  : [];
const order = [
  'host hang',
  'host partitioned',
  'host reported down',
  'BMC',
  'flapping',
  'host_name',
  'vm_name',
  'fence assertion',
  'two hosts',
  'more than half',
  'receiver',
  'two receivers',
  'pool master',
];
const rank = (name: string) => {
  const i = order.findIndex((p) => name.startsWith(p));
  return i < 0 ? order.length : i;
};
rows.sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
const lines = [
  `Measured on commit \`${commit}\`, ${new Date().toISOString().slice(0, 16)}Z: ${rows.length} scenarios in ${wallSeconds} s (tap, ${files.length} files in parallel).`,
  '',
  '| scenario | expected | outcome | VMs on two hosts | healthy hosts off | VMs left down | duration | |',
  '|---|---|---|---:|---:|---:|---:|---|',
  ...rows.map(
    (r) =>
      `| ${cell(r.name)} | ${cell(r.expected)} | ${cell(r.outcome)} | ${r.counts.twice} | ${r.counts.healthyOff} | ${r.counts.leftDown} | ${(r.durationMs / 1000).toFixed(1)} s | ${r.ok ? 'ok' : '**FAIL**'} |`,
  ),
];
const table = lines.join('\n');
process.stdout.write(`\n${table}\n`);
const bad = rows.filter((r) => !r.ok);
for (const r of bad) {
  const v = r.violations;
  const what = [
    ...Object.entries(v.twice).map(([vm, hosts]) => `${vm} ran on ${hosts.join(' and ')}`),
    ...v.healthyOff.map((h) => `powered off ${h}`),
    ...(v.leftDown.length ? [`left down: ${v.leftDown.join(', ')}`] : []),
  ];
  process.stdout.write(`\n${r.name}: ${r.outcome}${what.length ? `\n  ${what.join('\n  ')}` : ''}\n`);
}

if (args.includes('--readme')) {
  const readme = join(ROOT, 'README.md');
  const text = readFileSync(readme, 'utf8');
  const i = text.indexOf(BEGIN);
  const j = text.indexOf(END);
  if (i < 0 || j < i) throw new Error(`README.md has no ${BEGIN} … ${END} block`);
  writeFileSync(readme, `${text.slice(0, i + BEGIN.length)}\n${table}\n${text.slice(j)}`);
  process.stdout.write('\nREADME.md updated.\n');
}
process.exitCode = tap.status === 0 && bad.length === 0 && rows.length > 0 ? 0 : 1;
