// A host's legend kept between polls: an answer with the same legend reuses it (compared in place, not decoded), in
// every /rrd_updates generation; any difference (a VM gone or arrived, a source added, renamed or moved) is decoded
// afresh and read right; and the mapping plans kept per legend give the samples a fresh mapping gives (counters
// pruned under a plan included).
import t from 'tap';
import { ProtocolError } from '../../core/errors.js';
import { Inventory, type Rec } from '../../exporter/inventory/inventory.js';
import type { MetricSink } from '../../exporter/metrics/declare.js';
import { Catalogue } from '../../exporter/rrd/catalogue.js';
import { CounterBank } from '../../exporter/rrd/counters.js';
import { GuestReports } from '../../exporter/rrd/guest-reports.js';
import { LabelCache } from '../../exporter/rrd/label-cache.js';
import { type RrdUpdate, type RrdWindow, parseRrdUpdates, readRrdUpdates } from '../../core/rrd/parse.js';
import { type RrdContext, SamplePlans, addRrdSamples } from '../../exporter/rrd/samples.js';
import { PowerInputs } from '../../exporter/rrd/vm-power.js';
import { type RrdShape, renderRrdUpdates } from '../../simulator/rrd/render.js';

const SHAPES: RrdShape[] = ['current', 'nested', 'legacy', 'xml'];
const HOST = 'a1b2c3d4-0000-4000-8000-000000000001';
const VM1 = 'b1b2c3d4-0000-4000-8000-000000000002';
const VM2 = 'b1b2c3d4-0000-4000-8000-000000000003';

const host = (names: string[]) => names.map((n) => `AVERAGE:host:${HOST}:${n}`);
const vm = (uuid: string, names: string[]) => names.map((n) => `AVERAGE:vm:${uuid}:${n}`);
const VM_SOURCES = ['cpu0', 'cpu1', 'memory', 'memory_internal_free', 'vif_0_rx', 'vbd_xvda_read'];
const LEGEND = [...host(['cpu0', 'loadavg', 'DCMI-power-reading', 'pif_eth0_rx']), ...vm(VM1, VM_SOURCES), ...vm(VM2, VM_SOURCES)];

/** A body of `legend` with rows at `ts` (newest first); values depend on the entry and the row. */
function body(legend: string[], ts: number[], shape: RrdShape): string {
  const value = (entry: string, t: number) => ((entry.length * 7 + t) % 97) / 10;
  const rows = ts.map((t) => ({ t, values: legend.map((e) => value(e, t)) }));
  return renderRrdUpdates({ start: ts[ts.length - 1]!, end: ts[0]!, step: 5, legend, rows }, shape);
}

t.test('the same legend again is the same Legend, in every generation', async (t) => {
  for (const shape of SHAPES) {
    const first = readRrdUpdates(body(LEGEND, [1005, 1000], shape));
    const next = readRrdUpdates(body(LEGEND, [1010, 1005], shape), undefined, first.legend);
    t.equal(next.legend, first.legend, `${shape}: reused`);
    const fresh = parseRrdUpdates(body(LEGEND, [1010, 1005], shape));
    t.same(next.legend.columns(), fresh.columns, `${shape}: its columns are the answer's`);
    t.same(
      next.rows.map((r) => [r.t, Array.from(r.values)]),
      fresh.rows.map((r) => [r.t, Array.from(r.values)]),
      `${shape}: rows`,
    );
  }
});

t.test('a different legend is decoded afresh', async (t) => {
  const changes: [string, string[]][] = [
    ['a VM gone', LEGEND.filter((e) => !e.includes(VM2))],
    ['a source added at the end', [...LEGEND, `AVERAGE:vm:${VM2}:vbd_xvdb_read`]],
    ['a source renamed (same length)', LEGEND.map((e) => e.replace(':cpu1', ':cpu7'))],
    ['a name that only starts the same', LEGEND.map((e) => e.replace(':memory_internal_free', ':memory'))],
    ['two VMs swapped', [...LEGEND.slice(0, 4), ...vm(VM2, VM_SOURCES), ...vm(VM1, VM_SOURCES)]],
    ['an empty legend', []],
  ];
  for (const shape of SHAPES) {
    const first = readRrdUpdates(body(LEGEND, [1005], shape));
    for (const [what, legend] of changes) {
      const next = readRrdUpdates(body(legend, [1010], shape), undefined, first.legend);
      t.not(next.legend, first.legend, `${shape}, ${what}: a new Legend`);
      t.same(next.legend.columns(), parseRrdUpdates(body(legend, [1010], shape)).columns, `${shape}, ${what}: its columns`);
      t.equal(next.rows[0]!.values.length, legend.length, `${shape}, ${what}: rows as wide`);
    }
  }
});

t.test('names with JSON escapes, spaces between entries, a bad entry', async (t) => {
  const odd = [...LEGEND.slice(0, 3), `AVERAGE:vm:${VM1}:a"b\\c`];
  const first = readRrdUpdates(body(odd, [1005], 'current'));
  const next = readRrdUpdates(body(odd, [1010], 'current'), undefined, first.legend);
  t.equal(next.legend, first.legend, 'escaped entries: decoded, found equal, reused');
  t.equal(next.legend.column(3).name, 'a"b\\c');
  const spaced = body(LEGEND, [1010], 'current').replace(/","AVERAGE/g, '" , \n "AVERAGE');
  t.equal(readRrdUpdates(spaced, undefined, first.legend).legend.length, LEGEND.length, 'whitespace between entries');
  const kept = readRrdUpdates(body(LEGEND, [1005], 'current'));
  const bad = body([...LEGEND.slice(0, -1), 'AVERAGE:vm'], [1010], 'current');
  t.throws(() => readRrdUpdates(bad, undefined, kept.legend), ProtocolError, 'a bad entry still fails');
  t.equal(readRrdUpdates(body(LEGEND, [1015], 'current'), undefined, kept.legend).legend, kept.legend, 'the kept legend is untouched');
});

/** The pool of the answers above: one host, two guests. */
function inventory(): Inventory {
  const inv = new Inventory();
  const records: [string, string, Rec][] = [
    ['pool', 'P', { uuid: 'pool-uuid', name_label: 'lab', master: 'H' }],
    ['host', 'H', { uuid: HOST, name_label: 'host-a', address: '10.0.0.1' }],
    ...[VM1, VM2].map((uuid, i): [string, string, Rec] => ['vm', `V${i}`, { uuid, name_label: `vm-${i}`, is_control_domain: false }]),
  ];
  inv.apply(records.map(([cls, ref, snapshot]) => ({ class: cls, operation: 'add', ref, snapshot })));
  return inv;
}

t.test('plans kept between polls give what a fresh mapping gives, across legend changes', async (t) => {
  const inv = inventory();
  const context = (plans?: SamplePlans): RrdContext => ({
    catalogue: new Catalogue(),
    counters: new CounterBank(),
    guestReports: new GuestReports(),
    labels: new LabelCache(),
    lookups: inv.lookups(),
    poolId: 'pool-uuid',
    poolName: 'lab',
    host: inv.get('host', 'H')!,
    plans,
  });
  const kept = context(new SamplePlans());
  const fresh = context();
  const collect = (window: RrdWindow | RrdUpdate, ctx: RrdContext) => {
    const out: unknown[] = [];
    const sink: MetricSink = { add: (f, labels, value, extra) => out.push([f.name, labels, value, extra ?? '']) };
    ctx.power = new PowerInputs();
    const t = addRrdSamples(sink, window, ctx);
    return { out, t, watts: [...ctx.power.rrdHostWatts], guests: [...ctx.power.guests] };
  };
  const withoutCpuUsage = LEGEND; // cpu_usage derived from cpu0, cpu1
  const polls = [
    withoutCpuUsage,
    withoutCpuUsage,
    LEGEND.filter((e) => !e.includes(VM1)),
    [...LEGEND, ...vm(VM1, ['cpu_usage'])],
    [...LEGEND, ...vm(VM1, ['cpu_usage'])],
  ];
  let legendKept: RrdWindow['legend'] | undefined;
  polls.forEach((legend, i) => {
    const ts = [1010 + 10 * i, 1005 + 10 * i];
    const a = readRrdUpdates(body(legend, ts, 'current'), undefined, legendKept);
    const b = parseRrdUpdates(body(legend, ts, 'current'));
    legendKept = a.legend;
    const x = collect(a, kept);
    const y = collect(b, fresh);
    t.ok(x.out.length > 0, `poll ${i}: samples`);
    t.same(x, y, `poll ${i}: the same samples, in the same order, and the same power inputs`);
    if (i === 0) {
      // VM2 left and came back: its counters start again, whatever a plan kept.
      for (const ctx of [kept, fresh]) ctx.counters.prune((uuid) => uuid !== VM2);
    }
  });
});
