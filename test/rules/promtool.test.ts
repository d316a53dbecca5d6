// promtool on the generated rules: syntax and semantics (check rules) and every unit test in rules/tests
// (test rules). Needs Debian's `prometheus` package for promtool.
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { generate } from '../../rules/generate.js';
import { loadValues } from '../../rules/lib/values.js';
import { RULES_DIR, promtool, run } from './helpers/tools.js';

const skip = promtool ? false : 'promtool not found (Debian package prometheus)';

t.test('promtool check rules rules/xcp-alerts.yml', { skip }, async (t) => {
  const r = run(promtool!, ['check', 'rules', join(RULES_DIR, 'xcp-alerts.yml')]);
  t.equal(r.status, 0, r.out);
  t.match(r.out, /SUCCESS: \d+ rules found/);
});

t.test('promtool test rules rules/tests/*.yml', { skip }, async (t) => {
  const files = readdirSync(join(RULES_DIR, 'tests')).filter((f) => f.endsWith('.yml'));
  t.ok(files.length >= 6, 'one test file per group');
  const r = run(promtool!, ['test', 'rules', ...files], join(RULES_DIR, 'tests'));
  t.equal(r.status, 0, r.out);
  t.notMatch(r.out, /FAILED/);
});

t.test('promtool test rules with another scrape job name (exporter_job_selector)', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'xcp-job-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'values.yml'), `exporter_job_selector: 'job="xcp"'\n`);
  writeFileSync(join(dir, 'xcp-alerts.yml'), generate(loadValues(join(dir, 'values.yml'))));
  copyFileSync(join(RULES_DIR, 'tests/job/exporter-job.yml'), join(dir, 'exporter-job.yml'));
  const r = run(promtool!, ['test', 'rules', 'exporter-job.yml'], dir);
  t.equal(r.status, 0, r.out);
  t.match(r.out, /SUCCESS/);
});
