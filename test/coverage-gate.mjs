// Coverage thresholds, checked after tap on its json-summary report (tap only offers all-or-nothing).
// Pure parsers are held to 95% of lines: they are where a wrong reading hides. The whole tree to 80%.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const OVERALL_LINES = 80;
const PARSER_LINES = 95;
const PARSERS = [/^exporter\/rrd\/parse\.ts$/, /^exporter\/hardware\/(ipmi|smart)\/[^/]+\.ts$/, /^core\/config\/schema\.ts$/];

const summary = JSON.parse(readFileSync('.tap/report/coverage-summary.json', 'utf8'));
const failures = [];
const total = summary.total.lines.pct;
if (total < OVERALL_LINES) failures.push(`overall line coverage ${total}% < ${OVERALL_LINES}%`);
for (const [file, s] of Object.entries(summary)) {
  if (file === 'total') continue;
  const rel = relative(process.cwd(), file);
  if (PARSERS.some((re) => re.test(rel)) && s.lines.pct < PARSER_LINES) failures.push(`${rel}: line coverage ${s.lines.pct}% < ${PARSER_LINES}%`);
}
if (failures.length) {
  console.error('coverage below the thresholds:\n  ' + failures.join('\n  '));
  process.exit(1);
}
console.log(`coverage ok: ${total}% of lines overall (>= ${OVERALL_LINES}%), parsers >= ${PARSER_LINES}%`);
