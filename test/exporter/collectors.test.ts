// The collector registry (exporter/collector/registry.ts): a collector turned off runs nothing and exports nothing
// but `xcp_exporter_collector_enabled 0`; a failing or hung collector sets its own up to 0 and never holds back
// the others; late samples of an abandoned run are dropped. Then the same through the exporter against the
// simulator, with `exporter.collectors` turning rrd and self off, and the config check naming the key; and the
// one way a family is declared (exporter/metrics/declare.ts). That every served family is declared, with the
// labels it carries: test/cli/metrics-doc.test.ts.
import t from 'tap';
import { parseConfig } from '../../cli/config/bundle.js';
import { memoryLogger } from '../../core/log.js';
import type { CollectContext, Collector } from '../../exporter/collector/collector.js';
import { CollectorRegistry } from '../../exporter/collector/registry.js';
import { type MetricSink, counter, declaredFamilies, gauge } from '../../exporter/metrics/declare.js';
import { FamilySet } from '../../exporter/metrics/families.js';
import { renderText } from '../../exporter/metrics/render.js';
import { lines, sample } from '../helpers/exposition.js';
import { exporterConfigYaml, startTestExporter } from '../helpers/exporter.js';
import { startSim } from '../helpers/sim.js';

/** A collector whose run is `run`, counting its calls. */
function fake(name: string, run: (sink: MetricSink, ctx: CollectContext) => Promise<void>, more: Partial<Collector> = {}) {
  const c = {
    name,
    enabled: true,
    calls: 0,
    deadlineMs: () => 2000,
    collect: async (sink: MetricSink, ctx: CollectContext) => {
      c.calls++;
      await run(sink, ctx);
    },
    ...more,
  };
  return c;
}

/** A test family, declared once per name. */
const put = (sink: MetricSink, name: string, value = 1) => sink.add(gauge(`test_${name}`, `${name} help`, []), '', value);

async function collect(registry: CollectorRegistry): Promise<{ text: string; ms: number }> {
  const set = new FamilySet();
  const started = performance.now();
  await registry.collect(set);
  return { text: renderText(set.families()), ms: performance.now() - started };
}

t.test('a collector turned off is never run, exports nothing, and says it is off', async (t) => {
  const registry = new CollectorRegistry('p', memoryLogger('warn'));
  const on = fake('on', async (s) => put(s, 'on_value'));
  const off = fake('off', async (s) => put(s, 'off_value'), { enabled: false });
  registry.register(on);
  registry.register(off);
  const { text } = await collect(registry);
  t.equal(off.calls, 0, 'not run');
  t.equal(lines(text, 'test_off_value').length, 0, 'none of its families');
  for (const family of ['up', 'duration_seconds', 'errors_total', 'last_success_timestamp_seconds'])
    t.equal(lines(text, `xcp_exporter_collector_${family}`).filter((l) => l.includes('collector="off"')).length, 0, `no ${family} series`);
  t.equal(sample(text, 'xcp_exporter_collector_enabled', { collector: 'off', pool_name: 'p' }), 0, 'its absence is visible: enabled 0');
  t.equal(sample(text, 'xcp_exporter_collector_enabled', { collector: 'on', pool_name: 'p' }), 1);
  t.equal(sample(text, 'xcp_exporter_collector_up', { collector: 'on' }), 1);
  t.equal(sample(text, 'test_on_value', {}), 1);
});

t.test('a failing collector sets its own up to 0; the others are up with their series', async (t) => {
  const registry = new CollectorRegistry('p', memoryLogger('warn'));
  registry.register(fake('good', async (s) => put(s, 'good_value', 7)));
  registry.register(
    fake('bad', async (s) => {
      put(s, 'bad_partial');
      throw new SyntaxError('unparsable answer');
    }),
  );
  const { text } = await collect(registry);
  t.equal(sample(text, 'xcp_exporter_collector_up', { collector: 'bad' }), 0);
  t.equal(sample(text, 'xcp_exporter_collector_errors_total', { collector: 'bad', kind: 'parse' }), 1, 'the error counted by kind');
  t.equal(sample(text, 'xcp_exporter_collector_errors_total', { collector: 'bad', kind: 'timeout' }), 0, 'every kind from the start');
  t.equal(sample(text, 'test_bad_partial', {}), 1, 'what it added before failing is kept (xcp_pool_connected 0 of a lost pool)');
  t.equal(sample(text, 'xcp_exporter_collector_up', { collector: 'good' }), 1);
  t.equal(sample(text, 'test_good_value', {}), 7);
  t.equal(registry.health.collectors.get('bad')?.lastError?.message, 'unparsable answer', '/health has the error');
});

t.test('a hung collector is abandoned at its deadline: its up 0 (timeout), the others not held back, its late samples dropped', async (t) => {
  const logger = memoryLogger('warn');
  const registry = new CollectorRegistry('p', logger);
  let release: () => void = () => undefined;
  const hung = fake(
    'hung',
    async (s, ctx) => {
      await new Promise<void>((r) => (release = r));
      t.ok(ctx.signal.aborted, 'its signal was aborted at the deadline');
      put(s, 'hung_late');
    },
    { deadlineMs: () => 300 },
  );
  registry.register(hung);
  registry.register(fake('quick', async (s) => put(s, 'quick_value')));
  const set = new FamilySet();
  const started = performance.now();
  await registry.collect(set);
  const ms = performance.now() - started;
  t.ok(ms >= 290 && ms < 10_000, `the poll ends at the hung collector's deadline (${Math.round(ms)} ms), not when it ends`);
  release();
  await new Promise((r) => setImmediate(r));
  const text = renderText(set.families());
  t.equal(sample(text, 'xcp_exporter_collector_up', { collector: 'hung' }), 0);
  t.equal(sample(text, 'xcp_exporter_collector_errors_total', { collector: 'hung', kind: 'timeout' }), 1);
  t.equal(lines(text, 'test_hung_late').length, 0, 'a sample added after the deadline is not in the poll');
  t.equal(sample(text, 'xcp_exporter_collector_up', { collector: 'quick' }), 1);
  t.equal(sample(text, 'test_quick_value', {}), 1);
  t.equal(logger.lines.filter((l) => /abandoned at its deadline/.test(String(l.msg))).length, 1, 'logged once');
});

t.test('`after`: a collector starts when those it needs have ended, even when they failed', async (t) => {
  const registry = new CollectorRegistry(undefined, memoryLogger('warn'));
  const order: string[] = [];
  registry.register(
    fake('first', async () => {
      await new Promise((r) => setTimeout(r, 50));
      order.push('first');
      throw new Error('down');
    }),
  );
  registry.register(fake('second', async () => void order.push('second'), { after: ['first'] }));
  registry.register(fake('free', async () => void order.push('free')));
  const { text } = await collect(registry);
  t.same(order, ['free', 'first', 'second']);
  t.notOk(/pool_name=/.test(lines(text, 'xcp_exporter_collector_up').join('\n')), 'the exporter’s own collectors carry no pool_name');
  t.throws(() => registry.register(fake('orphan', async () => undefined, { after: ['nowhere'] })), /not registered/);
  t.throws(() => registry.register(fake('free', async () => undefined)), /twice/);
});

t.test('errors counted during a run leave it up; a background collector keeps the up of its own cycle', async (t) => {
  const registry = new CollectorRegistry('p', memoryLogger('warn'));
  registry.register(fake('partial', async (_, ctx) => ctx.countError(new SyntaxError('one host'))));
  registry.register(fake('background', async (s) => put(s, 'bg_value'), { background: true }));
  registry.health.failure('background', new Error('its last cycle failed'), 1.5);
  const { text } = await collect(registry);
  t.equal(sample(text, 'xcp_exporter_collector_up', { collector: 'partial' }), 1);
  t.equal(sample(text, 'xcp_exporter_collector_errors_total', { collector: 'partial', kind: 'parse' }), 1);
  t.equal(sample(text, 'xcp_exporter_collector_up', { collector: 'background' }), 0, 'not set to 1 by reading its results');
  t.equal(sample(text, 'xcp_exporter_collector_duration_seconds', { collector: 'background' }), 1.5, "its cycle's duration");
  t.equal(sample(text, 'test_bg_value', {}), 1);
});

t.test('exporter.collectors: rrd and self off against the simulator', async (t) => {
  const sim = await startSim({ size: { hosts: 2, vmsPerHost: 1, disksPerVm: 1, vifsPerVm: 1, vcpusPerVm: 1, hostCpus: 2 } });
  t.teardown(() => sim.stop());
  const ex = await startTestExporter([sim], '  collectors: { rrd: false, self: false }\n');
  t.teardown(() => ex.stop());
  await ex.exporter.pools[0]!.watcher.whenSynced(5000);
  await ex.exporter.pollOnce();
  const text = await (await fetch(`${ex.url}/metrics`)).text();
  t.equal(sample(text, 'xcp_pool_connected', {}), 1, 'the xapi collector runs');
  t.equal(sample(text, 'xcp_exporter_collector_up', { collector: 'xapi' }), 1);
  t.equal(lines(text, 'xcp_host_rrd_up').length, 0, 'no RRD family');
  t.equal(lines(text, 'xcp_host_cpu_average').length, 0);
  t.equal(lines(text, 'process_cpu_seconds_total').length, 0, 'no process metrics');
  t.equal(lines(text, 'xcp_exporter_collector_up').filter((l) => /collector="(rrd|self|ipmi|smart)"/.test(l)).length, 0, 'no up series for those off');
  for (const c of ['rrd', 'self', 'ipmi', 'smart']) t.equal(sample(text, 'xcp_exporter_collector_enabled', { collector: c }), 0, `${c}: enabled 0`);
  const health = (await (await fetch(`${ex.url}/health`)).json()) as { status: string };
  t.equal(health.status, 'ok', 'a collector turned off does not fail /health');
});

t.test('exporter.collectors is checked: errors name the key', async (t) => {
  const check = (extra: string) => {
    try {
      parseConfig(
        `pools:\n  - { name: a, url: "https://127.0.0.1:1", username: u, password: p }\n${exporterConfigYaml([], extra).slice('pools:\n'.length)}`,
        'test.yml',
        {},
      );
      return '';
    } catch (err) {
      return (err as Error).message;
    }
  };
  t.match(check('  collectors: { xapi: false }\n'), /exporter\.collectors\.xapi: unknown key/);
  t.match(check('  collectors: { rrd: "no" }\n'), /exporter\.collectors\.rrd/);
  t.equal(check('  collectors: { rrd: false }\n'), '');
});

t.test('a family is declared one way, checked when declared', async (t) => {
  t.throws(() => counter('test_requests', 'no _total', []), /only counters, and every counter, end in _total/);
  t.throws(() => gauge('test_open_total', 'a gauge named as a counter', []), /_total/);
  t.throws(() => gauge('test-dash', 'bad name', []), /not a valid name/);
  t.throws(() => gauge('test_label', 'bad label', ['ok', 'no-dash']), /"no-dash" is not a valid label name/);
  t.throws(() => gauge('test_label_reserved', 'reserved label', ['__name__']), /not a valid label name/);
  const once = gauge('test_declared_once', 'help', ['a']);
  t.equal(gauge('test_declared_once', 'help', ['a']), once, 'declared alike: the same family');
  t.throws(() => gauge('test_declared_once', 'other help', ['a']), /declared twice, differently/);
  t.equal(declaredFamilies().get('xcp_exporter_collector_up')?.type, 'gauge', 'the exporter’s families are declared');
});
