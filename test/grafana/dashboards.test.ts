// Every dashboard file: generated from grafana/src (committed JSON is up to date), a valid JSON model with the
// current schemaVersion, unique panel ids, every panel on the datasource variable, chained variables whose
// queries are valid, only metrics of the contract (docs/METRICS.md), counters read through rate()/increase(),
// and every PromQL expression accepted by the real Prometheus parser (promtool).
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { parse } from 'yaml';
import { DASHBOARDS_DIR, buildAll, render } from '../../grafana/build.js';
import { DATASOURCE, type Dashboard, type Panel, SCHEMA_VERSION } from '../../grafana/lib/model.js';
import {
  type VarValue,
  allPanels,
  interpolate,
  metricNames,
  panelQueries,
  parseLabelValues,
  promtoolCheck,
  regexEscape,
  variableQuery,
} from '../../grafana/lib/promql.js';
import { UID } from '../../grafana/src/common.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const built = buildAll();
const files = readdirSync(DASHBOARDS_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();
const dashboards: { file: string; d: Dashboard }[] = files.map((file) => ({
  file,
  d: JSON.parse(readFileSync(join(DASHBOARDS_DIR, file), 'utf8')) as Dashboard,
}));

/** Metric names of the contract: backticked `xcp_…` names, with `_{a,b}` alternatives expanded and `{labels}` dropped. */
function contractMetrics(): Set<string> {
  const text = readFileSync(join(ROOT, 'docs', 'METRICS.md'), 'utf8');
  const names = new Set<string>();
  for (const m of text.matchAll(/`(xcp_[^`]*)`/g)) {
    let variants = [''];
    let rest = m[1]!;
    while (rest.length) {
      const alt = /^_\{([a-z0-9_,]+)\}/.exec(rest);
      if (alt) {
        variants = variants.flatMap((v) => alt[1]!.split(',').map((a) => `${v}_${a}`));
        rest = rest.slice(alt[0].length);
        continue;
      }
      if (rest[0] === '{') break; // labels
      const word = /^[a-zA-Z0-9_]+?(?=_\{|\{|$)|^[a-zA-Z0-9_]+/.exec(rest);
      if (!word) break;
      variants = variants.map((v) => v + word[0]);
      rest = rest.slice(word[0].length);
    }
    for (const v of variants) if (!v.includes('..') && /^xcp_[a-z0-9_]+[a-z0-9]$/.test(v)) names.add(v);
  }
  return names;
}

t.test('the committed dashboards are what grafana/build.ts generates', async (t) => {
  t.same(files, built.map((b) => b.file).sort(), 'one JSON file per generated dashboard, no strays');
  for (const b of built) {
    const committed = readFileSync(join(DASHBOARDS_DIR, b.file), 'utf8');
    t.ok(committed === render(b), `${b.file} is up to date (run npm run grafana:build)`);
  }
});

t.test('JSON model', async (t) => {
  const uids = new Set<string>();
  for (const { file, d } of dashboards) {
    t.test(file, async (t) => {
      t.equal(d.schemaVersion, SCHEMA_VERSION, 'schemaVersion is the current one');
      t.ok(d.schemaVersion >= 39 && d.schemaVersion <= 42, 'schemaVersion of Grafana 11–12');
      t.match(
        d,
        {
          uid: String,
          title: String,
          description: String,
          editable: Boolean,
          time: { from: String, to: String },
          templating: { list: Array },
          panels: Array,
          annotations: { list: Array },
        },
        'dashboard fields',
      );
      t.notOk('id' in d, 'no database id (provisioning and import assign one)');
      t.ok(d.uid.length <= 40 && /^[a-zA-Z0-9_-]+$/.test(d.uid), 'uid is short and URL-safe');
      t.notOk(uids.has(d.uid), 'uid unique across dashboards');
      uids.add(d.uid);
      t.ok(d.tags.includes('xcp-sentinel'), 'tagged xcp-sentinel (the dashboard links find each other by tag)');
      t.ok(
        d.links.some((l) => l.type === 'dashboards' && l.tags.includes('xcp-sentinel') && l.includeVars && l.keepTime),
        'links to the other dashboards, keeping variables and time',
      );

      const problems: string[] = [];
      // Panel ids unique (rows and nested panels included); grid positions inside 24 columns and not overlapping.
      const ids = new Set<number>();
      const everything: Panel[] = d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
      for (const p of everything) {
        if (!Number.isInteger(p.id) || p.id <= 0) problems.push(`${p.title}: id ${p.id} is not a positive integer`);
        if (ids.has(p.id)) problems.push(`${p.title}: id ${p.id} is not unique`);
        ids.add(p.id);
        const g = p.gridPos;
        if (!(g.x >= 0 && g.w >= 1 && g.x + g.w <= 24 && g.h >= 1 && g.y >= 0)) problems.push(`${p.title}: gridPos ${JSON.stringify(g)} outside the grid`);
      }
      for (let i = 0; i < everything.length; i++)
        for (let j = i + 1; j < everything.length; j++) {
          const a = everything[i]!.gridPos;
          const b = everything[j]!.gridPos;
          if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h)
            problems.push(`${everything[i]!.title} and ${everything[j]!.title} overlap`);
        }

      const panels = allPanels(d);
      for (const p of panels) {
        if (JSON.stringify(p.datasource) !== JSON.stringify(DATASOURCE)) problems.push(`${p.title}: datasource is not the \${datasource} variable`);
        if (!p.title.trim()) problems.push(`panel ${p.id}: no title`);
        if ((p.description ?? '').trim().length < 20) problems.push(`${p.title}: no description`);
        if (!p.targets?.length) problems.push(`${p.title}: no queries`);
        const refIds = new Set<string>();
        for (const target of p.targets ?? []) {
          if (JSON.stringify(target.datasource) !== JSON.stringify(DATASOURCE))
            problems.push(`${p.title} ${target.refId}: target datasource is not the variable`);
          if (refIds.has(target.refId)) problems.push(`${p.title}: refId ${target.refId} repeated`);
          refIds.add(target.refId);
          if (!target.expr.trim()) problems.push(`${p.title} ${target.refId}: empty expression`);
          if (target.instant !== (p.type !== 'timeseries') || target.range === target.instant)
            problems.push(`${p.title} ${target.refId}: time series panels use range queries, the others instant ones`);
        }
        if ((p.type === 'timeseries' || p.type === 'bargauge') && !p.fieldConfig?.defaults.unit) problems.push(`${p.title}: no unit`);
        if (p.type === 'table' && !p.transformations?.some((x) => x.id === 'organize')) problems.push(`${p.title}: table columns are not named`);
        const steps = p.fieldConfig?.defaults.thresholds?.steps ?? [];
        if (!steps.length || steps[0]!.value !== null) problems.push(`${p.title}: thresholds must start with a base step`);
      }
      t.same(problems, [], `${panels.length} panels: ids, grid, datasource, descriptions, queries, units`);
    });
  }
});

t.test('variables: datasource first, chained query variables with valid label_values()', async (t) => {
  for (const { file, d } of dashboards) {
    const vars = d.templating.list;
    t.match(vars[0], { name: 'datasource', type: 'datasource', query: 'prometheus' }, `${file}: first variable is the Prometheus datasource`);
    const problems: string[] = [];
    const seen = new Set<string>(['datasource']);
    for (const v of vars.slice(1)) {
      const q = variableQuery(v);
      if (v.type !== 'query' || !q) {
        problems.push(`$${v.name}: not a query variable`);
        continue;
      }
      if (JSON.stringify(v.datasource) !== JSON.stringify(DATASOURCE)) problems.push(`$${v.name}: does not use the datasource variable`);
      if (v.definition !== q) problems.push(`$${v.name}: definition differs from the query`);
      let selector: string | undefined;
      try {
        selector = parseLabelValues(v.name, q).selector;
      } catch (err) {
        problems.push(String(err));
      }
      if (!selector) problems.push(`$${v.name}: label_values() without a selector`);
      for (const ref of (selector ?? '').matchAll(/\$(\w+)/g)) if (!seen.has(ref[1]!)) problems.push(`$${v.name}: uses $${ref[1]}, not defined before it`);
      if (v.refresh !== 1 && v.refresh !== 2) problems.push(`$${v.name}: never refreshed`);
      if (v.includeAll && v.allValue !== '.*') problems.push(`$${v.name}: All must match everything (.*)`);
      seen.add(v.name);
    }
    for (const q of panelQueries(d))
      for (const ref of q.expr.matchAll(/\$\{?(\w+)/g))
        if (!ref[1]!.startsWith('__') && !seen.has(ref[1]!)) problems.push(`${q.panelTitle}: $${ref[1]} is not a variable of the dashboard`);
    t.same(problems, [], `${file}: ${vars.length} variables`);
  }
  // The chain the issue asks for: pool → host → VM.
  const vm = dashboards.find((x) => x.d.uid === UID.vm)!.d;
  t.same(
    vm.templating.list.map((v) => v.name),
    ['datasource', 'pool', 'host', 'tag', 'vm'],
    'VM dashboard: datasource → pool → host → tag → vm',
  );
  t.match(variableQuery(vm.templating.list[2]!), /pool_name=~"\$pool"/, 'host depends on pool');
  t.match(variableQuery(vm.templating.list[3]!), /pool_name=~"\$pool".*host_name=~"\$host".*, tags\)$/, 'tag lists the tags of the pool and host');
  t.match(variableQuery(vm.templating.list[4]!), /pool_name=~"\$pool".*host_name=~"\$host".*tags=~"\$tag"/, 'vm depends on pool, host and tag');
});

t.test('links: pool → host → VM, and only to dashboards that exist', async (t) => {
  const uids = new Set(dashboards.map((x) => x.d.uid));
  const linksOf = (d: Dashboard): string[] => [...new Set(JSON.stringify(d.panels).match(/\/d\/[a-z0-9-]+/g) ?? [])];
  const problems: string[] = [];
  for (const { file, d } of dashboards)
    for (const l of linksOf(d)) if (!uids.has(l.slice(3))) problems.push(`${file}: link ${l} points at no dashboard of the bundle`);
  t.same(problems, [], 'data links point at dashboards of the bundle');
  const byUid = (uid: string) => dashboards.find((x) => x.d.uid === uid)!.d;
  t.ok(linksOf(byUid(UID.pools)).includes(`/d/${UID.host}`), 'pools overview links to hosts');
  t.ok(linksOf(byUid(UID.pools)).includes(`/d/${UID.vm}`), 'pools overview links to VMs');
  t.ok(linksOf(byUid(UID.host)).includes(`/d/${UID.vm}`), 'host links to its VMs');
  t.ok(linksOf(byUid(UID.vm)).includes(`/d/${UID.host}`), 'VM links back to its host');
});

t.test('queries use only the metric contract, and counters through rate()/increase()', async (t) => {
  const contract = contractMetrics();
  t.ok(contract.size > 100, `parsed ${contract.size} metric names from docs/METRICS.md`);
  t.ok(
    contract.has('xcp_host_disk_iops_read') && contract.has('xcp_vm_runstate_full_contention') && contract.has('xcp_recovery_workflow_duration_seconds'),
    'alternatives expanded',
  );
  const known = (n: string) => contract.has(n) || contract.has(n.replace(/_(bucket|sum|count)$/, '')) || n === 'ALERTS';
  for (const { file, d } of dashboards) {
    const problems: string[] = [];
    const used = new Set<string>();
    for (const q of panelQueries(d)) {
      const where = `"${q.panelTitle}" ${q.refId}`;
      for (const name of metricNames(q.expr)) {
        used.add(name);
        if (!known(name)) problems.push(`${where}: ${name} is not in docs/METRICS.md`);
      }
      // A bare counter is allowed only in the birth term of increaseInclBirth(): (c unless c offset w).
      const exprNoBirth = q.expr.replace(/\((xcp_\w+\{[^}]*\}) unless \1 offset [^)]+\)/g, '(born)');
      for (const m of exprNoBirth.matchAll(/(\w*\(\s*)?\b(xcp_\w+_total)\b/g))
        if (!/^(rate|irate|increase)\(\s*$/.test(m[1] ?? '')) problems.push(`${where}: counter ${m[2]} not read through rate()/increase()`);
      for (const m of q.expr.matchAll(/\b(i?rate)\([^[]*\[([^\]]+)\]/g))
        if (m[2] !== '$__rate_interval') problems.push(`${where}: ${m[1]}() over ${m[2]}, not $__rate_interval`);
    }
    for (const v of d.templating.list) {
      const q = variableQuery(v);
      if (!q) continue;
      for (const name of metricNames(parseLabelValues(v.name, q).selector ?? ''))
        if (!known(name)) problems.push(`$${v.name}: ${name} is not in docs/METRICS.md`);
    }
    t.same(problems, [], `${file}: ${used.size} metrics, all in the contract`);
  }
});

t.test('Grafana-style variable substitution', async (t) => {
  const d = dashboards.find((x) => x.d.uid === UID.vm)!.d;
  const vars = d.templating.list;
  const expr = 'x{pool_name=~"$pool", host_name=~"${host}", vm_name="$vm"}[$__rate_interval]';
  t.equal(
    interpolate(expr, vars, { pool: { all: true }, host: { values: ['a.b', 'c'] }, vm: { values: ['web (1)'] } }),
    'x{pool_name=~".*", host_name=~"(a\\\\.b|c)", vm_name="web (1)"}[1m]',
  );
  t.equal(regexEscape('h(1)'), 'h\\\\(1\\\\)');
  t.throws(() => interpolate('$nope', vars, {}), /unknown variable/);
  t.throws(() => interpolate('$vm', vars, { vm: { all: true } }), /no All option/);
});

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
t.test(
  'every expression parses with the real Prometheus parser (promtool)',
  { skip: promtool.status === 0 ? false : 'promtool not found: install prometheus to run this check' },
  async (t) => {
    // Awkward names on purpose: regex metacharacters, spaces and quotes must survive Grafana's escaping.
    const values: Record<string, VarValue> = {
      pool: { values: ['lab pool', 'prod.pool'] },
      host: { values: ['xcp-host-01', 'host (b)'] },
      vm: { values: ['web "frontend" (1)'] },
      tag: { values: ['lab,web', 'prod (eu)'] },
      instance: { all: true },
    };
    const single: Record<string, VarValue> = { ...values, host: { values: ['host.example.com'] } };
    const exprs: { where: string; expr: string }[] = [];
    for (const { file, d } of dashboards) {
      const vars = d.templating.list;
      const vals = vars.some((v) => v.name === 'host' && !v.multi) ? single : values;
      for (const q of panelQueries(d)) exprs.push({ where: `${file} "${q.panelTitle}" ${q.refId}`, expr: interpolate(q.expr, vars, vals) });
      for (const v of vars) {
        const q = variableQuery(v);
        if (!q) continue;
        const sel = parseLabelValues(v.name, q).selector!;
        exprs.push({ where: `${file} $${v.name}`, expr: interpolate(sel, vars, vals) });
        // All selected upstream, too.
        exprs.push({
          where: `${file} $${v.name} (All)`,
          expr: interpolate(sel, vars, { pool: { all: true }, host: { all: true }, tag: { all: true }, vm: vals.vm!, instance: { all: true } }),
        });
      }
    }
    t.ok(exprs.length > 150, `${exprs.length} expressions`);
    const { errors } = await promtoolCheck(exprs.map((e) => e.expr));
    for (const [i, err] of errors) t.fail(`${exprs[i]!.where}: ${err}\n  ${exprs[i]!.expr}`);
    t.equal(errors.size, 0, 'promtool accepts every expression');
    // And the check does catch errors.
    const bad = await promtoolCheck(['rate(xcp_vm_network_receive_bytes_total)', 'sum(up']);
    t.equal(bad.errors.size, 2, 'a broken expression is reported');
  },
);

t.test('provisioning: a Prometheus datasource and a file provider for the dashboards', async (t) => {
  const prov = join(ROOT, 'grafana', 'provisioning');
  const ds = parse(readFileSync(join(prov, 'datasources', 'xcp-sentinel.yml'), 'utf8')) as {
    apiVersion: number;
    datasources: { type: string; url: string; uid: string; jsonData?: { timeInterval?: string } }[];
  };
  t.equal(ds.apiVersion, 1);
  t.match(ds.datasources, [{ type: 'prometheus', access: 'proxy', url: String, uid: String }], 'one Prometheus datasource');
  t.match(ds.datasources[0]!.jsonData?.timeInterval, /^\d+[smh]$/, 'scrape interval set, so $__rate_interval is right');
  const db = parse(readFileSync(join(prov, 'dashboards', 'xcp-sentinel.yml'), 'utf8')) as {
    apiVersion: number;
    providers: { type: string; options: { path: string }; allowUiUpdates: boolean }[];
  };
  t.equal(db.apiVersion, 1);
  t.match(db.providers, [{ name: 'xcp-sentinel', type: 'file', folder: String, options: { path: /^\// } }], 'a file provider with an absolute path');
  t.equal(db.providers[0]!.allowUiUpdates, false, 'the JSON files stay the source of truth');
});
