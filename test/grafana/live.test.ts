// The dashboards against the real thing: a simulated pool, the exporter (with IPMI and SMART through the
// simulator's XAPI plugins), the recovery hook doing real recoveries, and a real Prometheus scraping both with the
// alert rules loaded. Variables are resolved the way Grafana does it (label_values → the label values API,
// chained), substituted into every panel query, and every query goes through Prometheus's API: each must be
// accepted, and every panel must return data — core panels always, and panels that need something (recovery
// hook, rules, IPMI, SMART; see `needs` in grafana/lib/panels.ts) whenever it is there, which here it all is.
// A panel that can never show data fails this test. The preview renderer draws every dashboard from the results.
import t, { type Test } from 'tap';
import { buildAll } from '../../grafana/build.js';
import type { Dashboard } from '../../grafana/lib/model.js';
import type { Need, PanelCheck } from '../../grafana/lib/panels.js';
import { type Builtins, allPanels, interpolate } from '../../grafana/lib/promql.js';
import { describeValues, resolveVariables } from '../../grafana/lib/resolve.js';
import { type TargetData, renderDashboardHtml } from '../../grafana/preview/render.js';
import type { PrometheusClient, QueryResult, Sample } from '../../grafana/lib/prometheus.js';
import { EXPORTER_JOB, RECOVERY_JOB, type Stack, exerciseRecovery, simControl, startStack } from '../../grafana/preview/stack.js';
import { waitFor } from '../../core/concurrency.js';

t.setTimeout(90_000);

/** The VM the recovery hook gets to restart: not the one the VM dashboard shows by default (the first). */
const CRASHED_VM = 'vm-02-004';
/** The host whose toolstack dies, so an alert is pending (its RRD series go away; the dashboards' defaults use host 01). */
const TOOLSTACK_DOWN_HOST = 'xcp-host-03';
/** Variables whose values only exist when a need is met. */
const VARIABLE_NEEDS: Record<string, Need> = { instance: 'recovery' };
/**
 * Legend labels the contract promises but the exporter does not emit yet; a legend naming them renders empty there.
 * Listed so the gap is visible in the test output rather than silently tolerated.
 */
const KNOWN_GAPS: Record<string, string> = {};

const BUILTINS: Builtins = { rateInterval: '10s', interval: '2s', range: '5m', rangeSeconds: 300 };
const RANGE_SECONDS = 60;
const STEP_SECONDS = 2;

const until = <T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>) => waitFor(what, probe, { timeoutMs, everyMs: 250 });

const nonEmpty = (r: QueryResult) => (r.resultType === 'scalar' ? true : Array.isArray(r.result) && r.result.length > 0);
const series = (r: QueryResult): Sample[] => (r.resultType === 'vector' || r.resultType === 'matrix' ? (r.result as Sample[]) : []);

async function has(prom: PrometheusClient, expr: string): Promise<boolean> {
  return nonEmpty(await prom.query(expr, Date.now() / 1000));
}

interface Outcome {
  dashboard: string;
  panel: string;
  mustHaveData: boolean;
  hasData: boolean;
}

async function checkDashboard(
  t: Test,
  stack: Stack,
  d: Dashboard,
  checks: PanelCheck[],
  needsMet: Record<Need, boolean>,
  choose: 'defaults' | 'values',
): Promise<{ outcomes: Outcome[]; data: Map<number, TargetData[]> }> {
  const prom = stack.prometheus;
  const now = Date.now() / 1000;
  const problems: string[] = [];
  const outcomes: Outcome[] = [];
  const panelData = new Map<number, TargetData[]>();

  // Variables, in order, each query seeing the values chosen before it (Grafana's chaining).
  const vars = d.templating.list;
  const { values, resolved } = await resolveVariables(prom, d, { choose, builtins: BUILTINS });
  for (const r of resolved) {
    const need = VARIABLE_NEEDS[r.name];
    if (r.options.length === 0 && (!need || needsMet[need])) problems.push(`$${r.name}: ${r.query} has no values (selector ${r.selector})`);
  }
  t.comment(`${d.uid} (${choose}): ${describeValues(values)}`);

  const byId = new Map(checks.map((c) => [c.id, c]));
  for (const p of allPanels(d)) {
    const check = byId.get(p.id);
    if (!check || check.title !== p.title) {
      problems.push(`panel ${p.id} "${p.title}": no generator check (regenerate the dashboards)`);
      continue;
    }
    const mustHaveData = check.needs ? needsMet[check.needs] : true;
    let panelHasData = false;
    const targetData: TargetData[] = [];
    panelData.set(p.id, targetData);
    for (const target of p.targets ?? []) {
      const expr = interpolate(target.expr, vars, values, BUILTINS);
      const where = `"${p.title}" ${target.refId}`;
      const instant = await prom.query(expr, now);
      if (instant.httpStatus !== 200 || instant.status !== 'success') {
        problems.push(`${where}: rejected (${instant.httpStatus} ${instant.errorType}: ${instant.error})\n    ${expr}`);
        continue;
      }
      let result = instant;
      if (target.range) {
        result = await prom.queryRange(expr, now - RANGE_SECONDS, now, STEP_SECONDS);
        if (result.httpStatus !== 200 || result.status !== 'success') {
          problems.push(`${where}: range query rejected (${result.httpStatus} ${result.errorType}: ${result.error})\n    ${expr}`);
          continue;
        }
      }
      targetData.push({ target, result });
      const data = nonEmpty(result);
      panelHasData ||= data;
      const optional = check.optional[target.refId];
      if (mustHaveData && !data && !optional)
        problems.push(`${where}: no data${check.needs ? ` (needs ${check.needs}, which is met)` : ' (core panel)'}\n    ${expr}`);
      // Legend labels must exist on the series, or the legend renders empty.
      if (data && target.legendFormat) {
        for (const m of target.legendFormat.matchAll(/\{\{\s*(\w+)\s*\}\}/g)) {
          const label = m[1]!;
          if (series(result).some((s) => label in s.metric)) continue;
          if (KNOWN_GAPS[label]) t.comment(`known gap: ${where} legend {{${label}}} is empty: ${KNOWN_GAPS[label]}`);
          else problems.push(`${where}: legend uses {{${label}}}, absent from the result`);
        }
      }
    }
    // Table label columns must exist in some result, or the column stays empty.
    if (p.type === 'table' && panelHasData && Object.keys(check.optional).length === 0) {
      const names = ((p.transformations?.find((x) => x.id === 'filterFieldsByName')?.options.include as { names: string[] }) ?? { names: [] }).names;
      const labels = new Set<string>();
      for (const target of p.targets ?? [])
        for (const s of series(await prom.query(interpolate(target.expr, vars, values, BUILTINS), now))) for (const k of Object.keys(s.metric)) labels.add(k);
      for (const n of names) if (!n.startsWith('Value') && !labels.has(n)) problems.push(`"${p.title}": column ${n} is in no result`);
    }
    if (mustHaveData && !panelHasData) problems.push(`"${p.title}": the panel shows no data`);
    outcomes.push({ dashboard: d.uid, panel: p.title, mustHaveData, hasData: panelHasData });
  }
  t.same(
    problems,
    [],
    `${d.title} (${choose === 'defaults' ? 'Grafana defaults: All' : 'concrete values'}): every query accepted, every panel that must show data does`,
  );
  return { outcomes, data: panelData };
}

t.test('dashboards against a live Prometheus scraping the exporter and the recovery hook', async (t) => {
  const stack = await startStack();
  t.teardown(() => stack.stop());
  const prom = stack.prometheus;
  // XAPI tags on two guests (the VM dashboard's Tags variable lists tag sets; the default VM carries one).
  const store = stack.sim.pool.store;
  for (const [ref, vm] of store.table('VM')) {
    if (vm.name_label === 'vm-01-001') store.mod('VM', ref, { tags: ['production'] });
    if (vm.name_label === 'vm-01-002') store.mod('VM', ref, { tags: ['lab', 'web'] });
  }
  // The recovery hook and the rules exist: their panels must show data, so they must run.
  t.notOk(stack.recoveryProblem, 'the recovery hook runs and is scraped');
  t.notOk(stack.rulesProblem, 'the alert rules load in Prometheus');

  // Prometheus applies its first targets about 5 s after start (service discovery batching).
  await until('the first scrapes', 20_000, async () => ((await has(prom, `up{job="${EXPORTER_JOB}"} == 1`)) ? true : undefined));
  await simControl(stack, `hosts/${TOOLSTACK_DOWN_HOST}/kill-toolstack`);
  if (stack.recovery) {
    await until('the recovery hook scraped', 10_000, async () => ((await has(prom, `up{job="${RECOVERY_JOB}"} == 1`)) ? true : undefined));
    const counts = await exerciseRecovery(stack, CRASHED_VM);
    t.ok((counts.finished ?? 0) >= 1, `the recovery hook restarted ${CRASHED_VM} (${JSON.stringify(counts)})`);
    await until('the recovery outcome scraped', 10_000, async () =>
      (await has(prom, 'xcp_recovery_notifications{status="finished"} >= 1')) ? true : undefined,
    );
  }
  // Counters integrate between polls (every 5 s): wait until Prometheus saw a second poll, so rate() has something.
  await until('two exporter polls in Prometheus', 20_000, async () => ((await has(prom, 'changes(xcp_exporter_polls_total[1m]) >= 1')) ? true : undefined));
  if (!stack.rulesProblem)
    await until('the toolstack alert pending', 20_000, async () => ((await has(prom, 'ALERTS{alertname="XcpToolstackDown"}')) ? true : undefined));

  // IPMI and SMART come through the simulator's XAPI plugins every 2 s (stack config): wait for both.
  await until('IPMI and SMART data', 20_000, async () =>
    (await has(prom, 'xcp_host_ipmi_up == 1')) && (await has(prom, 'xcp_host_disk_smart_up == 1')) ? true : undefined,
  );

  const needsMet: Record<Need, boolean> = {
    recovery: Boolean(stack.recovery) && (await has(prom, `up{job="${RECOVERY_JOB}"} == 1`)),
    rules: !stack.rulesProblem,
    ipmi: await has(prom, 'xcp_host_ipmi_up'),
    smart: await has(prom, 'xcp_host_disk_smart_up'),
  };
  t.same(needsMet, { recovery: true, rules: true, ipmi: true, smart: true }, 'every panel need is met here: every panel must show data');

  const built = buildAll();
  const committed = built.map((b) => b.model); // test/grafana/dashboards.test.ts asserts the files equal these
  const outcomes: Outcome[] = [];
  for (const [i, d] of committed.entries()) {
    const first = await checkDashboard(t, stack, d, built[i]!.checks, needsMet, 'defaults');
    outcomes.push(...first.outcomes);
    await checkDashboard(t, stack, d, built[i]!.checks, needsMet, 'values');
    // The preview renderer (grafana/preview, used for the README's pictures) draws every panel from these results.
    const now = Date.now() / 1000;
    const html = renderDashboardHtml({ dashboard: d, data: first.data, variables: 'live test', from: now - RANGE_SECONDS, to: now });
    const missing = allPanels(d)
      .filter((p) => !html.includes(`<h2>${p.title.replace(/&/g, '&amp;')}</h2>`))
      .map((p) => p.title);
    t.same(missing, [], `${d.uid}: the preview draws every panel`);
    t.notMatch(html, /undefined|\[object Object\]|>\{\}</, `${d.uid}: the preview has no rendering glitches (an unnamed series is named by its query, not {})`);
  }

  const required = outcomes.filter((o) => o.mustHaveData);
  t.equal(required.length, outcomes.length, `all ${outcomes.length} panels had to show data`);
  t.same(
    required.filter((o) => !o.hasData).map((o) => `${o.dashboard}/${o.panel}`),
    [],
    'and all did',
  );
});
