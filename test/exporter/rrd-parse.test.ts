import { readFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import { ProtocolError } from '../../core/errors.js';
import { newestValues, parseRrdUpdates } from '../../core/rrd/parse.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/xapi-rrd/${name}`, import.meta.url));
const PERFMON = 'rrd_updates-xml__xen-api__python3-tests-test_perfmon_fixture.xml';
const DOC = 'rrd_updates-xml__xen-api__doc-content-xen-api-topics-metrics-md.xml';
const ISSUE16 = 'rrd_updates-json__MikeDombo-xen-exporter-issue16__partial-python-repr.txt';

const VM = 'ecd8d7a0-1be3-4d91-bd0e-4888c0e30ab3';
// The row both xen-api XML samples show, read off the fixture: cpu1, cpu0, memory for AVERAGE, MIN, MAX, LAST.
const SAMPLE_ROW = [0, 0.0282, 209715200, 0, 0.0201, 209715200, 0, 0.0445, 209715200, 0, 0.0243, 209715200];

function rejects(t: Test, body: string | Buffer, message: RegExp, what: string, contentType?: string): void {
  try {
    parseRrdUpdates(body, contentType);
    t.fail(`${what}: accepted`);
  } catch (err) {
    t.ok(err instanceof ProtocolError, `${what}: ProtocolError`);
    t.match((err as Error).message, message, `${what}: message`);
  }
}

t.test('xen-api perfmon test fixture (XML with upstream "# ..." remarks)', async (t) => {
  const u = parseRrdUpdates(fixture(PERFMON), 'text/xml');
  t.same([u.start, u.step, u.end], [1213578000, 3600, 1213617600]);
  t.equal(u.columns.length, 12);
  t.same(u.columns[0], { cf: 'AVERAGE', objectType: 'vm', uuid: VM, name: 'cpu1' });
  t.same(
    u.columns.map((c) => `${c.cf}/${c.name}`),
    ['AVERAGE', 'MIN', 'MAX', 'LAST'].flatMap((cf) => ['cpu1', 'cpu0', 'memory'].map((n) => `${cf}/${n}`)),
  );
  t.ok(u.columns.every((c) => c.objectType === 'vm' && c.uuid === VM));
  t.same(
    u.rows.map((r) => r.t),
    [1213617600, 1213616600],
    'rows in input order, newest first',
  );
  t.same(Array.from(u.rows[0]!.values), SAMPLE_ROW);
  t.same(Array.from(u.rows[1]!.values), SAMPLE_ROW);

  const avg = newestValues(u);
  t.equal(avg.t, 1213617600, 'the "end time" row');
  t.same(
    avg.columns.map((c) => c.name),
    ['cpu1', 'cpu0', 'memory'],
  );
  t.same(Array.from(avg.values), [0, 0.0282, 209715200]);
  t.same(Array.from(avg.times), [1213617600, 1213617600, 1213617600]);
  t.same(Array.from(newestValues(u, 'MIN').values), [0, 0.0201, 209715200]);
  t.same(Array.from(newestValues(u, 'MAX').values), [0, 0.0445, 209715200]);
  t.same(Array.from(newestValues(u, 'LAST').values), [0, 0.0243, 209715200]);
  t.equal(newestValues(u, 'NONE').columns.length, 0, 'a CF the legend lacks selects nothing');
});

t.test('xen-api metrics.md example (XML comments and a "..." elision)', async (t) => {
  const u = parseRrdUpdates(fixture(DOC));
  t.same([u.start, u.step, u.end], [1213578000, 3600, 1213617600]);
  t.equal(u.columns.length, 12);
  t.same(u.columns[11], { cf: 'LAST', objectType: 'vm', uuid: VM, name: 'memory' });
  // <rows> says 12 but the document elides all rows but one: the rows present are what counts.
  t.equal(u.rows.length, 1);
  t.equal(u.rows[0]!.t, 1213617600);
  t.same(Array.from(u.rows[0]!.values), SAMPLE_ROW);
});

t.test('MikeDombo/xen-exporter#16: a real current-shape answer, quoted as a truncated Python repr', async (t) => {
  const text = fixture(ISSUE16).toString('utf8');
  // As saved (a '#' header, Python quoting, a legend cut off mid-entry) it is not an /rrd_updates body at all.
  rejects(t, text, /neither JSON nor XML/, 'the file itself');

  // What XAPI sent, transcribed from the repr: every meta value is a quoted string, `data` is [], and the legend
  // holds the complete entries only. The repr quotes with ' and none of the strings contains a quote or backslash,
  // so each 'x' is the JSON string "x".
  const lines = text.split('\n').filter((l) => !l.startsWith('#'));
  const repr = lines.join('\n');
  const scalars = Object.fromEntries([...repr.matchAll(/'(\w+)': '([^']*)'/g)].map((m) => [m[1], m[2]]));
  const legend = lines.map((l) => /^\s*'([^':]+:[^']*)',?$/.exec(l)?.[1]).filter((e) => e !== undefined);
  const truncated = lines.filter((l) => l.includes('[truncated in source]'));
  t.same(scalars, { start: '1740534010', step: '5', end: '1740533965', rows: '0', columns: '372' });
  t.equal(legend.length, 6, 'six complete legend entries');
  t.equal(truncated.length, 1, 'and one cut short, which is left out');
  t.match(repr, /'data': \[\],/);
  t.notOk(/["\\]/.test(repr), 'no character that would need escaping in JSON');
  const body = JSON.stringify({ meta: { ...scalars, legend }, data: [] });

  const u = parseRrdUpdates(body, 'application/json');
  t.same([u.start, u.step, u.end], [1740534010, 5, 1740533965], 'strings are numbers; end < start is accepted');
  t.same(u.rows, [], 'empty window');
  t.same(
    u.columns.map((c) => c.name),
    ['CPU0-avg-freq', 'CPU1-avg-freq', 'CPU10-avg-freq', 'CPU11-avg-freq', 'CPU2-avg-freq', 'CPU3-avg-freq'],
  );
  t.ok(u.columns.every((c) => c.cf === 'AVERAGE' && c.objectType === 'host' && c.uuid === '0844f276-6eef-4658-a5a6-6d0bd5ed740a'));
  // meta.columns (372) describes the untruncated legend; the parser goes by the legend it was given.
  const newest = newestValues(u);
  t.ok(Number.isNaN(newest.t), 'no rows: no time');
  t.same(Array.from(newest.values).map(Number.isNaN), [true, true, true, true, true, true]);
});

t.test('the format is decided by content, not by content-type', async (t) => {
  t.equal(parseRrdUpdates(fixture(PERFMON), 'application/json').rows.length, 2);
  const json = '{"meta":{"start":"0","step":"5","end":"5","rows":"1","columns":"1","legend":["AVERAGE:host:h:cpu0"]},"data":[{"t":"5","values":["0.5"]}]}';
  t.equal(parseRrdUpdates(json, 'text/xml').rows[0]!.values[0], 0.5);
  t.equal(parseRrdUpdates(Buffer.from(`\uFEFF \n${json}`)).rows[0]!.values[0], 0.5, 'Buffer, byte order mark, leading space');
  const xml = '<xport><meta><start>0</start><step>5</step><end>5</end><legend><entry>AVERAGE:host:h:cpu0</entry></legend></meta><data/></xport>';
  t.equal(parseRrdUpdates(Buffer.from(`\n  ${xml}`)).columns.length, 1, 'XML after leading whitespace');
});

t.test('XML markup the reader skips or refuses: CDATA, quoted ">" in attributes, broken tags', async (t) => {
  const doc = (entry: string, attrs = '') =>
    `<xport${attrs}><meta><start>0</start><step>5</step><end>5</end><legend><entry>${entry}</entry></legend></meta><data><row><t>5</t><v>0.5</v></row></data></xport>`;
  t.same(
    parseRrdUpdates(doc('<![CDATA[AVERAGE:host:h:cpu0]]>')).columns.map((c) => c.name),
    ['cpu0'],
    'CDATA is text',
  );
  t.equal(parseRrdUpdates(doc('AVERAGE:host:h:cpu0', ' note="a > b" other=\'<\'')).rows[0]!.values[0], 0.5, 'a ">" inside a quoted attribute value');
  rejects(t, `<![CDATA[x]]>${doc('AVERAGE:host:h:cpu0')}`, /CDATA outside the root element/, 'CDATA before the root');
  rejects(t, '<xport><meta <start>0</start></meta></xport>', /unterminated tag/, 'a tag without its ">"');
});

t.test('current shape: strings everywhere, newest sample by max t whatever the row order', async (t) => {
  const legend = ['AVERAGE:host:h1:cpu0', 'AVERAGE:host:h1:memory_free_kib', 'AVERAGE:vm:v1:cpu0', 'AVERAGE:vm:v1:vbd_xvda_read', 'AVERAGE:vm:v1:gone'];
  const rows = {
    1000: '{"t":"1000","values":["0.1","100","0.5","7","NaN"]}',
    1005: '{"t":"1005","values":["0.2","NaN","0.6","Infinity","NaN"]}',
    1010: '{"t":"1010","values":["0.3","NaN","-Infinity","NaN","NaN"]}',
  };
  const body = (order: (keyof typeof rows)[]) =>
    `{"meta":{"start":"1000","step":"5","end":"1010","rows":"3","columns":"5","legend":${JSON.stringify(legend)}},"data":[${order.map((k) => rows[k]).join(',')}]}`;

  const oldestFirst = parseRrdUpdates(body([1000, 1005, 1010]));
  t.same(
    oldestFirst.rows.map((r) => r.t),
    [1000, 1005, 1010],
    'rows kept in input order',
  );
  t.same(
    Array.from(oldestFirst.rows[1]!.values).map((v) => (Number.isNaN(v) ? 'none' : v)),
    [0.2, 'none', 0.6, 'none', 'none'],
    '"NaN" and "Infinity" are no sample',
  );
  t.ok(Number.isNaN(oldestFirst.rows[2]!.values[2]!), '"-Infinity" is no sample');

  for (const order of [
    [1000, 1005, 1010],
    [1010, 1005, 1000],
    [1005, 1010, 1000],
  ] as (keyof typeof rows)[][]) {
    const n = newestValues(parseRrdUpdates(body(order)));
    t.equal(n.t, 1010, `order ${order}: t is the max t`);
    t.same(
      n.columns.map((c) => `${c.objectType}:${c.name}`),
      ['host:cpu0', 'host:memory_free_kib', 'vm:cpu0', 'vm:vbd_xvda_read', 'vm:gone'],
    );
    // cpu0 from the newest row; memory falls back past two NaN rows; -Infinity and Infinity are skipped too.
    t.same(Array.from(n.values.subarray(0, 4)), [0.3, 100, 0.6, 7], `order ${order}: values`);
    t.same(Array.from(n.times.subarray(0, 4)), [1010, 1000, 1005, 1000], `order ${order}: each value's own row time`);
    t.ok(Number.isNaN(n.values[4]!) && Number.isNaN(n.times[4]!), `order ${order}: never sampled → NaN`);
  }
});

t.test('sample values: anything but a finite number is no sample', async (t) => {
  const cells = ['""', '"  "', '"abc"', 'null', 'true', '{}', '[]', '"1e3"', '"-0.5"', '42', '" 7 "'];
  const legend = cells.map((_, i) => `AVERAGE:host:h:c${i}`);
  const body = `{"meta":{"start":1,"step":5,"end":1,"legend":${JSON.stringify(legend)}},"data":[{"t":1,"values":[${cells.join(',')}]}]}`;
  const got = Array.from(parseRrdUpdates(body).rows[0]!.values).map((v) => (Number.isNaN(v) ? 'none' : v));
  t.same(got, ['none', 'none', 'none', 'none', 'none', 'none', 'none', 1000, -0.5, 42, 7], 'plain JSON numbers work too');
});

t.test('legacy shape (xcp-rrd ≤ 1.9): unquoted keys, bare NaN/Infinity, read with JSON5', async (t) => {
  // Exactly what the ad-hoc printer in rrd_updates.ml (json_of_t) wrote.
  const body =
    '{meta: {start:1000,step:5,end:1005,rows:2,columns:3,legend:["AVERAGE:host:h1:cpu0","AVERAGE:host:h1:cpu1","AVERAGE:host:h1:loadavg"]},' +
    'data:[{t:1005,values:[0.25,NaN,Infinity]},{t:1000,values:[0.0,0.5,-Infinity]}]}';
  const u = parseRrdUpdates(body, 'application/json');
  t.same([u.start, u.step, u.end], [1000, 5, 1005]);
  t.same(
    u.rows.map((r) => r.t),
    [1005, 1000],
  );
  t.same(Array.from(u.rows[1]!.values.subarray(0, 2)), [0, 0.5]);
  t.ok(Number.isNaN(u.rows[0]!.values[2]!), 'bare Infinity is no sample');
  const n = newestValues(u);
  t.same(Array.from(n.values.subarray(0, 2)), [0.25, 0.5]);
  t.same(Array.from(n.times.subarray(0, 2)), [1005, 1000]);
  t.ok(Number.isNaN(n.values[2]!), 'Infinity then -Infinity: nothing');
});

t.test('nested shape (xcp-rrd 1.10–1.12): data inside meta', async (t) => {
  const body =
    '{"meta":{"start":"1000","step":"5","end":"1005","rows":"2","columns":"2","legend":["AVERAGE:sr:s1:size","MAX:sr:s1:size"],' +
    '"data":[{"t":"1005","values":["1.5e+10","NaN"]},{"t":"1000","values":["1.25e+10","2e+10"]}]}}';
  const u = parseRrdUpdates(body);
  t.same(u.columns[0], { cf: 'AVERAGE', objectType: 'sr', uuid: 's1', name: 'size' });
  t.same(
    u.rows.map((r) => r.t),
    [1005, 1000],
  );
  t.equal(newestValues(u).values[0], 1.5e10);
  const max = newestValues(u, 'MAX');
  t.same([max.columns[0]!.cf, max.values[0], max.times[0]], ['MAX', 2e10, 1000], 'MAX only, newest finite');
  // The same document with JSON numbers instead of strings.
  const numeric = parseRrdUpdates('{"meta":{"start":1000,"step":5,"end":1005,"legend":["AVERAGE:sr:s1:size"],"data":[{"t":1005,"values":[3]}]}}');
  t.equal(numeric.rows[0]!.values[0], 3);
});

t.test('legend entries: split on the first three colons only', async (t) => {
  const body =
    '{"meta":{"start":"0","step":"5","end":"5","legend":["AVERAGE:vm:v-1:name:with:colons","LAST:host:h:a:"]},' + '"data":[{"t":"5","values":["1","2"]}]}';
  const u = parseRrdUpdates(body);
  t.same(u.columns, [
    { cf: 'AVERAGE', objectType: 'vm', uuid: 'v-1', name: 'name:with:colons' },
    { cf: 'LAST', objectType: 'host', uuid: 'h', name: 'a:' },
  ]);
  for (const entry of ['AVERAGE:host:h1', 'AVERAGE::h1:cpu0', ':host:h1:cpu0', 'AVERAGE:host::cpu0', 'AVERAGE:host:h1:', 'cpu0', 42]) {
    const bad = `{"meta":{"start":"0","step":"5","end":"5","legend":[${JSON.stringify(entry)}]},"data":[]}`;
    rejects(t, bad, /legend entry 0 .* is not CF:type:uuid:name/, `legend ${JSON.stringify(entry)}`);
  }
});

t.test('empty windows', async (t) => {
  const json = parseRrdUpdates('{"meta":{"start":"1010","step":"5","end":"1005","rows":"0","columns":"1","legend":["AVERAGE:host:h:cpu0"]},"data":[]}');
  t.same([json.start, json.end, json.rows.length, json.columns.length], [1010, 1005, 0, 1]);
  const xml = parseRrdUpdates(
    '<?xml version="1.0" encoding="UTF-8"?>\n<xport><meta><start>1</start><step>5</step><end>1</end><rows>0</rows><columns>0</columns><legend/></meta><data/></xport>',
  );
  t.same([xml.columns.length, xml.rows.length], [0, 0]);
  const n = newestValues(json);
  t.ok(Number.isNaN(n.t) && n.values.length === 1 && Number.isNaN(n.values[0]!));
});

t.test('unusable bodies are ProtocolErrors', async (t) => {
  const PERFMON_META = '<xport><meta><start>0</start><step>5</step><end>5</end><legend><entry>AVERAGE:host:h:a</entry></legend></meta></xport>';
  const good =
    '{"meta":{"start":"0","step":"5","end":"5","rows":"1","columns":"2","legend":["AVERAGE:host:h:a","AVERAGE:host:h:b"]},"data":[{"t":"5","values":["1","2"]}]}';
  t.equal(parseRrdUpdates(good).rows.length, 1, 'the control case parses');
  const withRow = (row: string) => good.replace('{"t":"5","values":["1","2"]}', row);
  const cases: [string, string | Buffer, RegExp][] = [
    ['empty', '', /empty body/],
    ['blank', Buffer.from(' \n\t'), /empty body/],
    ['plain text', 'Internal error', /neither JSON nor XML/],
    ['truncated JSON', good.slice(0, good.length >> 1), /neither JSON nor XML/],
    ['HTML error page', '<html><body><h1>HTTP 500 internal server error</h1></body></html>', /not an <xport> document/],
    ['XML declaration only', '<?xml version="1.0" encoding="UTF-8"?>\n', /not an <xport> document/],
    ['empty <xport/>', '<xport/>', /not an <xport> document/],
    ['truncated XML', fixture(PERFMON).subarray(0, 700), /malformed XML/],
    ['JSON array', '[]', /not an object/],
    ['JSON null', 'null', /not an object/],
    ['no meta', '{"data":[]}', /no "meta"/],
    ['no start', good.replace('"start":"0",', ''), /meta\.start is not a number \(missing\)/],
    ['step not a number', good.replace('"step":"5"', '"step":"five"'), /meta\.step is not a number \("five"\)/],
    ['no legend', good.replace(/"legend":\[[^\]]*\]/, '"legend":"x"'), /no legend list/],
    ['no data', good.replace(/,"data":.*\}$/, '}'), /no data list/],
    ['row not an object', withRow('5'), /data row 0 is not an object/],
    ['row without t', withRow('{"values":["1","2"]}'), /data row 0 has no numeric t/],
    ['row with t "NaN"', withRow('{"t":"NaN","values":["1","2"]}'), /data row 0 has no numeric t/],
    ['row without values', withRow('{"t":"5"}'), /data row 0 \(t=5\) has no values list/],
    ['short row', withRow('{"t":"5","values":["1"]}'), /data row 0 \(t=5\) has 1 values, the legend has 2 columns/],
    ['long row', withRow('{"t":"5","values":["1","2","3"]}'), /has 3 values, the legend has 2 columns/],
    [
      'short XML row',
      '<xport><meta><start>0</start><step>5</step><end>5</end><legend><entry>AVERAGE:host:h:a</entry><entry>AVERAGE:host:h:b</entry></legend></meta><data><row><t>5</t><v>1</v></row></data></xport>',
      /data row 0 \(t=5\) has 1 values, the legend has 2 columns/,
    ],
    ['XML without meta', '<xport><data/></xport>', /<xport> has no <meta>/],
    ['XML without legend', '<xport><meta><start>0</start><step>5</step><end>5</end></meta><data/></xport>', /no legend list/],
    ['XML without data', PERFMON_META, /no data list/],
    ['XML row without t', PERFMON_META.replace('</xport>', '<data><row><v>1</v></row></data></xport>'), /data row 0 has no numeric t/],
    ['XML empty row', PERFMON_META.replace('</xport>', '<data><row/></data></xport>'), /data row 0 is not an object/],
  ];
  for (const [what, body, message] of cases) rejects(t, body, message, what);
  rejects(t, 'Service Unavailable', /neither JSON nor XML \(content-type text\/plain\)/, 'content-type named', 'text/plain');
});
