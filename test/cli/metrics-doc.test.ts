// docs/METRICS.md's family table is what the exporter serves today (regenerate: npm run docs:metrics).
import { readFileSync } from 'node:fs';
import t from 'tap';
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
});
