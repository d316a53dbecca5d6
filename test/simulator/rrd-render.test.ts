import { readFileSync } from 'node:fs';
import JSON5 from 'json5';
import t from 'tap';
import { parseRrdUpdates, type RrdUpdate } from '../../core/rrd/parse.js';
import { type RrdShape, type RrdUpdatesInput, formatRrdValue, renderRrdUpdates } from '../../simulator/rrd/render.js';

const SHAPES: RrdShape[] = ['legacy', 'nested', 'current', 'xml'];

t.test('values print as OCaml "%0.15g" (C printf), with XAPI\'s NaN/Infinity/0.0', async (t) => {
  // Expected strings are C's: checked against glibc printf("%0.15g") and Python's '%.15g'.
  const cases: [number, string][] = [
    [0, '0.0'],
    [-0, '0.0'],
    [NaN, 'NaN'],
    [Infinity, 'Infinity'],
    [-Infinity, '-Infinity'],
    [5, '5'],
    [209715200, '209715200'],
    [1e14, '100000000000000'],
    [999999999999999, '999999999999999'],
    [1e15, '1e+15'],
    [1e21, '1e+21'],
    // biome-ignore lint/correctness/noPrecisionLoss: a value beyond double precision, as a producer may write it, is the case
    [123456789012345678, '1.23456789012346e+17'],
    [0.0282, '0.0282'],
    [0.1, '0.1'],
    [0.1 + 0.2, '0.3'],
    [1 / 3, '0.333333333333333'],
    [2 / 3, '0.666666666666667'],
    [-2.5, '-2.5'],
    [1234.5, '1234.5'],
    [123.456, '123.456'],
    [0.1249999999999999, '0.125'],
    [0.0001, '0.0001'],
    [0.00015, '0.00015'],
    [0.00012345678901234567, '0.000123456789012346'],
    [9.99999999999999e-5, '9.99999999999999e-05'],
    [2.5e-5, '2.5e-05'],
    [1e-5, '1e-05'],
    [1.5e-7, '1.5e-07'],
    [-1e-300, '-1e-300'],
    [1e300, '1e+300'],
    [5e-324, '4.94065645841247e-324'],
    // Exact halves at the 16th digit go to the even neighbour, where JavaScript would round up.
    [1234567890123455, '1.23456789012346e+15'],
    [1234567890123445, '1.23456789012344e+15'],
    [-0.1749420166015625, '-0.174942016601562'],
    [875930786132.8125, '875930786132.812'],
    [1379222332130.625, '1379222332130.62'],
  ];
  for (const [v, want] of cases) t.equal(formatRrdValue(v), want, `${Object.is(v, -0) ? '-0' : v}`);
});

t.test('each generation, byte for byte', async (t) => {
  const u: RrdUpdatesInput = {
    start: 1000,
    end: 1010,
    step: 5,
    legend: ['AVERAGE:host:h:cpu0', 'AVERAGE:host:h:memory_total_kib', 'AVERAGE:vm:v:cpu_usage'],
    rows: [
      { t: 1010, values: [0.25, NaN, Infinity] },
      { t: 1005, values: Float64Array.of(0, 1e20, 1.5e-7) },
    ],
  };
  const legend = '["AVERAGE:host:h:cpu0","AVERAGE:host:h:memory_total_kib","AVERAGE:vm:v:cpu_usage"]';
  const meta = `"start":"1000","step":"5","end":"1010","rows":"2","columns":"3","legend":${legend}`;
  const data = '[{"t":"1010","values":["0.25","NaN","Infinity"]},{"t":"1005","values":["0.0","1e+20","1.5e-07"]}]';
  t.equal(renderRrdUpdates(u, 'current'), `{"meta":{${meta}},"data":${data}}`);
  t.equal(renderRrdUpdates(u, 'nested'), `{"meta":{${meta},"data":${data}}}`);
  t.equal(
    renderRrdUpdates(u, 'legacy'),
    `{meta: {start:1000,step:5,end:1010,rows:2,columns:3,legend:${legend}},` +
      'data:[{t:1010,values:[0.25,NaN,Infinity]},{t:1005,values:[0.0,1e+20,1.5e-07]}]}',
  );
  t.equal(
    renderRrdUpdates(u, 'xml'),
    '<?xml version="1.0" encoding="UTF-8"?>\n<xport><meta><start>1000</start><step>5</step><end>1010</end>' +
      '<rows>2</rows><columns>3</columns><legend><entry>AVERAGE:host:h:cpu0</entry>' +
      '<entry>AVERAGE:host:h:memory_total_kib</entry><entry>AVERAGE:vm:v:cpu_usage</entry></legend></meta>' +
      '<data><row><t>1010</t><v>0.25</v><v>NaN</v><v>Infinity</v></row>' +
      '<row><t>1005</t><v>0.0</v><v>1e+20</v><v>1.5e-07</v></row></data></xport>',
  );
  // What made the legacy printer need JSON5 and the others not.
  t.throws(() => JSON.parse(renderRrdUpdates(u, 'legacy')));
  t.equal(JSON5.parse(renderRrdUpdates(u, 'legacy')).meta.columns, 3);
  t.equal(JSON.parse(renderRrdUpdates(u, 'nested')).meta.data.length, 2);
  t.equal(JSON.parse(renderRrdUpdates(u, 'current')).data[1].values[2], '1.5e-07');
});

t.test('empty windows, empty legends, escaping, misuse', async (t) => {
  const empty: RrdUpdatesInput = { start: 1010, end: 1005, step: 5, legend: ['AVERAGE:host:h:cpu0'], rows: [] };
  const meta = '"start":"1010","step":"5","end":"1005","rows":"0","columns":"1","legend":["AVERAGE:host:h:cpu0"]';
  t.equal(renderRrdUpdates(empty, 'current'), `{"meta":{${meta}},"data":[]}`);
  t.equal(renderRrdUpdates(empty, 'nested'), `{"meta":{${meta},"data":[]}}`);
  t.match(renderRrdUpdates(empty, 'xml'), /<\/legend><\/meta><data\/><\/xport>$/, 'Xmlm writes an empty element as <data/>');
  // The ad-hoc printer indexed the last row unconditionally; XAPI answered with an error, not a body.
  t.throws(() => renderRrdUpdates(empty, 'legacy'), RangeError);

  const noColumns: RrdUpdatesInput = { start: 0, end: 5, step: 5, legend: [], rows: [{ t: 5, values: [] }] };
  t.match(renderRrdUpdates(noColumns, 'xml'), /<columns>0<\/columns><legend\/><\/meta><data><row><t>5<\/t><\/row><\/data>/);
  t.match(renderRrdUpdates(noColumns, 'current'), /"legend":\[\]\},"data":\[\{"t":"5","values":\[\]\}\]\}$/);
  for (const shape of SHAPES) {
    const back = parseRrdUpdates(renderRrdUpdates(noColumns, shape));
    t.same([back.columns.length, back.rows.length, back.rows[0]!.values.length], [0, 1, 0], `${shape}: no columns`);
  }

  const odd: RrdUpdatesInput = { start: 0, end: 5, step: 5, legend: ['AVERAGE:vm:v:a&b<c>"d\\e'], rows: [{ t: 5, values: [1] }] };
  t.match(renderRrdUpdates(odd, 'xml'), '<entry>AVERAGE:vm:v:a&amp;b&lt;c&gt;&quot;d\\e</entry>');
  for (const shape of SHAPES) t.equal(parseRrdUpdates(renderRrdUpdates(odd, shape)).columns[0]!.name, 'a&b<c>"d\\e', `${shape}: name survives`);

  const ragged: RrdUpdatesInput = { start: 0, end: 5, step: 5, legend: ['AVERAGE:host:h:a', 'AVERAGE:host:h:b'], rows: [{ t: 5, values: [1] }] };
  t.throws(() => renderRrdUpdates(ragged, 'current'), RangeError, 'a row must have one value per legend entry');
});

t.test('the xen-api fixture re-rendered in every shape reads back the same', async (t) => {
  const original = parseRrdUpdates(
    readFileSync(new URL('../fixtures/xapi-rrd/rrd_updates-xml__xen-api__python3-tests-test_perfmon_fixture.xml', import.meta.url)),
  );
  const input: RrdUpdatesInput = {
    ...original,
    legend: original.columns.map((c) => `${c.cf}:${c.objectType}:${c.uuid}:${c.name}`),
  };
  for (const shape of SHAPES) t.same(plain(parseRrdUpdates(renderRrdUpdates(input, shape))), plain(original), shape);
});

t.test('round trip: generated windows in all four shapes', async (t) => {
  const random = mulberry32(20250226);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');

  const width = 240;
  const expectedColumns = Array.from({ length: width }, () => ({
    cf: pick(['AVERAGE', 'AVERAGE', 'MAX', 'MIN', 'LAST']),
    objectType: pick(['host', 'vm', 'sr']),
    uuid: `${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}`,
    name: pick(['cpu0', 'memory_free_kib', 'vbd_xvda_read', 'pif_aggr_rx', 'CPU3-avg-freq', 'odd:name:with:colons', 'x&y<z>']),
  }));
  const legend = expectedColumns.map((c) => `${c.cf}:${c.objectType}:${c.uuid}:${c.name}`);

  // Each value with what reading it back must give: exactly v for values with at most 15 significant digits, v to
  // within %.15g's rounding (half a unit in the 15th digit) for full-precision doubles, NaN for non-finite ones.
  type Kind = 'exact' | 'rounded' | 'none';
  const kinds: Kind[][] = [];
  const value = (kind: number): [number, Kind] => {
    const sign = random() < 0.3 ? -1 : 1;
    switch (kind) {
      case 0:
        return [NaN, 'none'];
      case 1:
        return [Infinity, 'none'];
      case 2:
        return [-Infinity, 'none'];
      case 3:
        return [0, 'exact'];
      case 4:
        return [sign * Math.floor(random() * 1e12), 'exact'];
      case 5:
        return [(sign * Math.round(random() * 1e9)) / 1e6, 'exact'];
      default:
        return [sign * random() * 10 ** Math.floor(random() * 40 - 15), 'rounded'];
    }
  };
  const end = 1740534000;
  const rows = [0, 1, 2].map((i) => {
    const values = new Float64Array(width);
    kinds.push([]);
    for (let j = 0; j < width; j++) {
      const [v, kind] = value(Math.floor(random() * 9));
      values[j] = v;
      kinds[i]!.push(kind);
    }
    return { t: end - 5 * i, values };
  });
  const input: RrdUpdatesInput = { start: end - 10, end, step: 5, legend, rows };
  t.ok(kinds.flat().includes('none') && kinds.flat().includes('exact') && kinds.flat().includes('rounded'), 'every kind of value generated');

  for (const shape of SHAPES) {
    const back = parseRrdUpdates(renderRrdUpdates(input, shape));
    t.same([back.start, back.end, back.step], [end - 10, end, 5], `${shape}: meta`);
    t.same(back.columns, expectedColumns, `${shape}: columns`);
    t.same(
      back.rows.map((r) => r.t),
      [end, end - 5, end - 10],
      `${shape}: rows in the order given (newest first)`,
    );
    const wrong: string[] = [];
    rows.forEach((row, i) => {
      row.values.forEach((v, j) => {
        const got = back.rows[i]!.values[j]!;
        const kind = kinds[i]![j]!;
        const ok = kind === 'none' ? Number.isNaN(got) : kind === 'exact' ? got === v : Math.abs(got - v) <= 5.1e-15 * Math.abs(v);
        if (!ok) wrong.push(`row ${i} col ${j}: ${v} → ${got}`);
      });
    });
    t.same(wrong, [], `${shape}: every value`);
  }
});

/** An update as plain arrays, for deep comparison. */
function plain(u: RrdUpdate) {
  return { ...u, rows: u.rows.map((r) => ({ t: r.t, values: Array.from(r.values) })) };
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), a | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
