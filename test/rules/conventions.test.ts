// Conventions every generated alert follows, checked without promtool: labels, annotations, runbooks, the
// labels recovery alerts carry, and that every alert has promtool unit tests that see it fire and stay silent.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { ruleGroups } from '../../rules/generate.js';
import { SEVERITIES, loadValues } from '../../rules/lib/values.js';
import { RULES_DIR } from './helpers/tools.js';

const values = loadValues();
const alerts = ruleGroups(values).flatMap((g) => g.rules);
const names = alerts.map((a) => a.alert);
// The five rules of Xen Orchestra's documentation keep XO's names; ours share the Xcp prefix.
const XO_NAMES = ['HighHostCPU', 'HighHostMemory', 'HighDiskLatency', 'VMHighCPU', 'PoolDisconnected'];

t.test('names, labels and annotations', async (t) => {
  t.equal(new Set(names).size, names.length, 'alert names are unique');
  for (const name of XO_NAMES) t.ok(names.includes(name), `XO's ${name} is included under its name`);
  for (const a of alerts) {
    t.ok(XO_NAMES.includes(a.alert) || /^Xcp[A-Z][A-Za-z]+$/.test(a.alert), `${a.alert}: CamelCase with the Xcp prefix`);
    t.ok((SEVERITIES as readonly string[]).includes(a.labels.severity!), `${a.alert}: severity`);
    t.match(a.labels.component, /^(pool|exporter|host|vm|toolstack|storage|hardware|power)$/, `${a.alert}: component`);
    t.match(a.for, /^\d+[smhd]$/, `${a.alert}: has a for: duration`);
    t.match(a.annotations.summary, /^[A-Z][^{}]*\.$/, `${a.alert}: static summary, sentence case, ends with a period`);
    t.ok(a.annotations.description.length > 20, `${a.alert}: description`);
    t.equal(a.annotations.runbook_url, `${values.runbook_base_url}/${a.alert}.md`, `${a.alert}: runbook_url`);
  }
});

t.test('recovery alerts carry what the receiver and the inhibit rules need', async (t) => {
  const expected: Record<string, string> = {
    XcpHostDown: 'COMPUTE_HOST',
    XcpVmHaltedUnexpectedly: 'COMPUTE_INSTANCE',
    XcpVmGuestHeartbeatLost: 'COMPUTE_INSTANCE',
    XcpToolstackDown: 'COMPUTE_PROCESS',
    XcpPoolMasterLost: 'COMPUTE_HOST',
    XcpUpsRuntimeLow: 'XCP_EMERGENCY_SHUTDOWN',
    XcpPoolPowerInputLost: 'XCP_EMERGENCY_SHUTDOWN',
  };
  const recovery = alerts.filter((a) => a.labels.xcp_notification_type);
  t.same(Object.fromEntries(recovery.map((a) => [a.alert, a.labels.xcp_notification_type])), expected);
  for (const a of recovery) {
    // Routed to the recovery hook when its values say so: XcpVmGuestHeartbeatLost is notify-only by default until
    // its signal is proven on real pools.
    const on = (values.alerts as Record<string, { recovery?: boolean }>)[a.alert]!.recovery;
    t.equal(a.labels.recovery, on ? 'true' : undefined, `${a.alert}: recovery label as in values`);
    // A power emergency is the pool's: its alerts keep pool_name (the promtool tests check them).
    if (a.labels.xcp_notification_type === 'XCP_EMERGENCY_SHUTDOWN') {
      t.match(a.expr, /(min|count) by \(([^)]*, )?pool_name[,)]/, `${a.alert}: keeps pool_name`);
      continue;
    }
    // The expression aggregates to exactly the identity labels (the promtool tests check the values).
    const by = a.expr.match(/^max by \(([^)]*)\)/)?.[1]?.split(/,\s*/) ?? [];
    for (const l of ['pool_id', 'pool_name', 'host_uuid', 'host_name']) t.ok(by.includes(l), `${a.alert}: keeps ${l}`);
    if (a.labels.xcp_notification_type === 'COMPUTE_INSTANCE') for (const l of ['vm_uuid', 'vm_name']) t.ok(by.includes(l), `${a.alert}: keeps ${l}`);
  }
  t.equal(alerts.find((a) => a.alert === 'XcpToolstackDown')!.labels.process_name, 'xapi');
  t.equal(alerts.find((a) => a.alert === 'XcpPoolMasterLost')!.labels.xcp_failure, 'pool_master', 'a master loss is told apart from a host failure');
  t.equal(values.alerts.XcpPoolMasterLost.recovery, true, 'routed to the receiver: its master failover acts on it');
});

t.test('every alert has a runbook with the three sections, and every runbook an alert', async (t) => {
  const dir = join(RULES_DIR, 'runbooks');
  for (const name of names) {
    const file = join(dir, `${name}.md`);
    if (!t.ok(existsSync(file), `runbooks/${name}.md exists`)) continue;
    const text = readFileSync(file, 'utf8');
    t.match(text, new RegExp(`^# ${name}\\n`), `${name}: title`);
    for (const section of ['## Meaning', '## Confirm', '## Act']) t.match(text, section, `${name}: ${section}`);
  }
  const books = readdirSync(dir).filter((f) => f.endsWith('.md') && f !== 'README.md');
  t.same(books.map((f) => f.replace(/\.md$/, '')).sort(), [...names].sort(), 'no runbook without an alert');
  const index = readFileSync(join(dir, 'README.md'), 'utf8');
  for (const name of names) t.match(index, `(${name}.md)`, `runbooks/README.md links ${name}`);
});

interface PromtoolTests {
  rule_files: string[];
  tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
}

t.test('every alert has promtool unit tests that see it fire and stay silent', async (t) => {
  const dir = join(RULES_DIR, 'tests');
  const fired = new Set<string>();
  const silent = new Set<string>();
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.yml'))) {
    const doc = parse(readFileSync(join(dir, f), 'utf8')) as PromtoolTests;
    t.same(doc.rule_files, ['../xcp-alerts.yml'], `${f} tests the generated rules`);
    for (const test of doc.tests) for (const c of test.alert_rule_test ?? []) (c.exp_alerts?.length ? fired : silent).add(c.alertname);
  }
  for (const name of names) {
    t.ok(fired.has(name), `${name}: a test where it fires`);
    t.ok(silent.has(name), `${name}: a test where it is silent`);
  }
  t.same(
    [...fired, ...silent].filter((n) => !names.includes(n)),
    [],
    'no test of an alert that does not exist',
  );
});
