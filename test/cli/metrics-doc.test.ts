// docs/METRICS.md's family table is what the exporter serves today (regenerate: npm run docs:metrics).
import { readFileSync } from 'node:fs';
import t from 'tap';
import { declaredFamilies } from '../../exporter/metrics/declare.js';
import { METRICS_MD, familiesOf, servedMetrics, table, withTable } from '../../scripts/metrics-doc.js';

t.test('familiesOf: name, type, help, label names of the series', async (t) => {
  const f = familiesOf('# HELP a_total Things\\\\done\n# TYPE a_total counter\na_total{x="1",y="a\\"b"} 1\na_total{z="2"} 2\nb 3\n');
  t.same(
    f.map((x) => ({ ...x, labels: [...x.labels] })),
    [{ name: 'a_total', type: 'counter', help: 'Things\\done', labels: ['x', 'y', 'z'] }],
  );
});

t.test('docs/METRICS.md lists every family the exporter serves, and only those', async (t) => {
  const doc = readFileSync(METRICS_MD, 'utf8');
  const families = familiesOf(await servedMetrics());
  t.ok(families.length > 50, `the exporter served ${families.length} families`);
  t.equal(withTable(doc, table(families)), doc, 'docs/METRICS.md is fresh (npm run docs:metrics rewrites it)');
  // Every family of ours is served as declared (exporter/metrics/declare.ts), with only labels it declares;
  // prom-client's process metrics are declared by prom-client.
  const problems: string[] = [];
  for (const f of families) {
    if (/^(process|nodejs)_/.test(f.name)) continue;
    const d = declaredFamilies().get(f.name);
    if (!d) problems.push(`${f.name}: served, never declared`);
    else if (d.type !== f.type || d.help !== f.help) problems.push(`${f.name}: served as ${f.type} "${f.help}", declared as ${d.type} "${d.help}"`);
    else for (const l of f.labels) if (!d.labels.includes(l)) problems.push(`${f.name}: label ${l} not declared`);
  }
  t.same(problems, [], 'every served family as declared');
});
