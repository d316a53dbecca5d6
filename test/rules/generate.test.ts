// The generator: the committed YAML is exactly its output for the bundled values, user values merge over the
// defaults, and mistakes in a values file are reported with the file and the key.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { DEFAULT_OUT, generate, ruleGroups } from '../../rules/generate.js';
import type { AlertRule } from '../../rules/lib/rule.js';
import { ValuesError, durationSeconds, loadValues, mergeValues } from '../../rules/lib/values.js';
import { ROOT } from './helpers/tools.js';
import { tempDir } from '../helpers/tmp.js';

const tmp = tempDir('xcp-rules-');
function valuesFile(name: string, text: string): string {
  const f = join(tmp, name);
  writeFileSync(f, text);
  return f;
}
function rules(yamlText: string): Map<string, AlertRule> {
  const doc = parse(yamlText) as { groups: { rules: AlertRule[] }[] };
  return new Map(doc.groups.flatMap((g) => g.rules).map((r) => [r.alert, r]));
}

t.test('the committed rules/xcp-alerts.yml is the output of the generator for rules/values.yml', async (t) => {
  const committed = readFileSync(DEFAULT_OUT, 'utf8');
  t.equal(committed, generate(loadValues()), 'out of date: run `npm run rules:generate` and commit rules/xcp-alerts.yml');
});

t.test('user values are merged over the defaults', async (t) => {
  const f = valuesFile(
    'mine.yml',
    `selector: 'pool_name="prod"'
alerts:
  HighHostCPU: {threshold: 0.8, for: 30m}
  VMHighCPU: {enabled: false}
  XcpToolstackDown: {recovery: false}
`,
  );
  const out = rules(generate(loadValues(f)));
  const def = rules(generate(loadValues()));
  const cpu = out.get('HighHostCPU')!;
  t.match(cpu.expr, /xcp_host_cpu_average\{pool_name="prod"\}\[5m\]\) > 0\.8/);
  t.equal(cpu.for, '30m');
  t.match(cpu.annotations.description, /for 30m\./, 'descriptions follow the values');
  t.equal(out.get('XcpHostDown')!.for, def.get('XcpHostDown')!.for, 'untouched alerts keep the defaults');
  t.notOk(out.has('VMHighCPU'), 'enabled: false drops the alert');
  const ts = out.get('XcpToolstackDown')!;
  t.equal(ts.labels.recovery, undefined, 'recovery: false drops the routing label');
  t.equal(ts.labels.xcp_notification_type, 'COMPUTE_PROCESS', '...but keeps the notification type');
  for (const r of out.values())
    for (const m of r.expr.matchAll(/\b(xcp_[a-z_]+)(\{[^}]*\})?/g)) t.match(m[2] ?? '', /pool_name="prod"/, `${r.alert}: ${m[1]} carries the user selector`);
});

t.test('mistakes in a values file name the file and the key', async (t) => {
  const typo = valuesFile('typo.yml', 'alerts:\n  HighHostCPU:\n    treshold: 0.8\n');
  t.throws(() => loadValues(typo), ValuesError);
  t.throws(() => loadValues(typo), { message: /typo\.yml: alerts\.HighHostCPU\.treshold: unknown key \(did you mean "threshold"\?\)/ });
  const bad = valuesFile('bad.yml', 'alerts:\n  XcpHostDown: {for: 5 minutes, severity: page}\nipmi_selector: 3\n');
  t.throws(() => loadValues(bad), { message: /3 problem\(s\)/ });
  t.throws(() => loadValues(bad), { message: /alerts\.XcpHostDown\.for: expected a Prometheus duration/ });
  t.throws(() => loadValues(bad), { message: /alerts\.XcpHostDown\.severity: expected one of critical, warning, info/ });
  const re = valuesFile('re.yml', "alerts:\n  XcpPsuFailed: {sensor_regex: '(ps'}\n");
  t.throws(() => loadValues(re), { message: /alerts\.XcpPsuFailed\.sensor_regex: is not a valid regular expression/ });
  // Performance alerts are notify-only: a values file cannot route them to the recovery hook.
  const perf = valuesFile('perf.yml', 'alerts:\n  XcpVmHighMemory: {recovery: true}\n');
  t.throws(() => loadValues(perf), { message: /alerts\.XcpVmHighMemory\.recovery: unknown key/ });
  t.throws(() => loadValues(join(tmp, 'missing.yml')), { message: /missing\.yml: cannot read: ENOENT/ });
  t.throws(() => loadValues(valuesFile('syntax.yml', 'alerts: [\n')), ValuesError);
});

t.test('CLI: --values and --out, exit 2 on bad values', async (t) => {
  const f = valuesFile('cli.yml', 'alerts:\n  XcpHostDown: {for: 3m}\n');
  const out = join(tmp, 'out.yml');
  const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'rules/generate.ts', ...args], { cwd: ROOT, encoding: 'utf8' });
  const ok = cli('--values', f, '--out', out);
  t.equal(ok.status, 0, ok.stderr);
  t.equal(readFileSync(out, 'utf8'), generate(loadValues(f)));
  const stdout = cli('--out', '-');
  t.equal(stdout.stdout, readFileSync(DEFAULT_OUT, 'utf8'), '--out - writes to stdout');
  const bad = cli('--values', valuesFile('cli-bad.yml', 'nope: 1\n'));
  t.equal(bad.status, 2);
  t.match(bad.stderr, /cli-bad\.yml: nope: unknown key/);
  t.equal(cli('--bogus').status, 2, 'unknown argument → usage, exit 2');
});

t.test('helpers', async (t) => {
  t.same(mergeValues({ a: { b: 1, c: 2 }, d: [1] }, { a: { b: 3 }, d: [2, 3], e: null }), { a: { b: 3, c: 2 }, d: [2, 3], e: undefined });
  t.equal(durationSeconds('1h30m'), 5400);
  t.equal(durationSeconds('1d'), 86400);
  t.equal(durationSeconds('500ms'), 0.5);
  t.ok(
    ruleGroups(loadValues()).every((g) => g.rules.length > 0),
    'no empty group',
  );
});
