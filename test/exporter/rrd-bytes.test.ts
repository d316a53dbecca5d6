// /rrd_updates read from the body's bytes (core/rrd/json.ts, numbers.ts, legend.ts): every generation gives from
// a Buffer what it gives from the same text; names with multi-byte UTF-8 characters and JSON escapes decode right;
// numbers are read from bytes exactly as Number() reads their text; and a host's kept legend is recognised by the
// bytes of its list only when they are the same bytes — a change of one byte, even one that keeps the length, is a
// new legend.
import t from 'tap';
import { ProtocolError } from '../../core/errors.js';
import { numberAt, toNumber } from '../../core/rrd/numbers.js';
import { parseRrdUpdates, readRrdUpdates } from '../../core/rrd/parse.js';
import { type RrdShape, renderRrdUpdates } from '../../simulator/rrd/render.js';

const SHAPES: RrdShape[] = ['current', 'nested', 'legacy', 'xml'];
const HOST = 'a1b2c3d4-0000-4000-8000-000000000001';
const VM = 'b1b2c3d4-0000-4000-8000-000000000002';
const NAMES = ['cpu0', 'memory', 'vif_0_rx', 'données_é', '名前_ß', 'emoji_😀', 'a"b\\c', 'tab\tand\nnewline', 'x:y:z'];
const LEGEND = [...NAMES.map((n) => `AVERAGE:host:${HOST}:${n}`), ...NAMES.map((n) => `AVERAGE:vm:${VM}:${n}`)];

function body(legend: string[], ts: number[], shape: RrdShape): string {
  const rows = ts.map((t) => ({ t, values: legend.map((e, i) => (i % 5 === 4 ? NaN : ((e.length * 13 + t + i) % 101) / 7)) }));
  return renderRrdUpdates({ start: ts[ts.length - 1]!, end: ts[0]!, step: 5, legend, rows }, shape);
}

const plain = (u: ReturnType<typeof parseRrdUpdates>) => ({ ...u, rows: u.rows.map((r) => ({ t: r.t, values: Array.from(r.values) })) });

t.test('a Buffer reads as its text, in every generation, multi-byte names and escapes included', async (t) => {
  for (const shape of SHAPES) {
    const text = body(LEGEND, [1010, 1005], shape);
    const fromBytes = parseRrdUpdates(Buffer.from(text));
    t.same(plain(fromBytes), plain(parseRrdUpdates(text)), `${shape}: the same update`);
    t.same(
      fromBytes.columns.map((c) => c.name),
      [...NAMES, ...NAMES],
      `${shape}: names decoded`,
    );
    t.equal(fromBytes.rows[0]!.values.length, LEGEND.length, `${shape}: rows as wide as the legend`);
  }
});

t.test('a byte order mark, and bytes that are not UTF-8, as the text reader had them', async (t) => {
  const text = body(LEGEND, [1005], 'current');
  const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]);
  t.same(plain(parseRrdUpdates(bom)), plain(parseRrdUpdates(text)), 'BOM skipped');
  // A lone continuation byte inside a name decodes to U+FFFD, as Buffer#toString('utf8') has it.
  const bad = Buffer.from(text.replace('cpu0', 'cpu\u00ff'), 'utf8');
  const at = bad.indexOf(Buffer.from('cpu\u00ff'));
  bad[at + 3] = 0x80;
  bad[at + 4] = 0x41; // 'A': same length
  t.equal(parseRrdUpdates(bad).columns[0]!.name, 'cpu\ufffdA');
});

t.test('numbers from bytes: quoted, bare, exponents, NaN and Infinity, and text Number() alone reads', async (t) => {
  for (const text of ['0.123', '-4.5e+07', '1e-30', '00012', '12345678901234567', 'NaN', '-NaN', 'Infinity', '-Infinity', ' 5', '0x1f', '٣', '\u00a05']) {
    const bytes = Buffer.from(`["${text}"]`);
    t.ok(Object.is(numberAt(bytes, 2, 2 + Buffer.byteLength(text)), toNumber(text)), JSON.stringify(text));
  }
  const legacy = Buffer.from(
    `{meta: {start: 1000, step: 5, end: 1005, legend: ["AVERAGE:host:${HOST}:a", "AVERAGE:host:${HOST}:b", "AVERAGE:host:${HOST}:c", "AVERAGE:host:${HOST}:d"]}, data: [{t: 1005, values: [1.5e3, -Infinity, NaN, "7"]}]}`,
  );
  t.same(Array.from(parseRrdUpdates(legacy).rows[0]!.values), [1500, NaN, NaN, 7], 'legacy bare numbers; ±Infinity is no sample');
  // Quoted samples (xapi ≥ 24.11): a plain decimal is read in one pass to its closing quote, anything else as
  // toNumber reads its text (NaN, ±Infinity: no sample).
  const texts = ['0.5', '-4.5e+07', '5 ', ' 5', 'NaNx', 'NaN', '1e', '', '0x1f', '12345678901234567', '-NaN', '007', '1.2.3', '\\u0035', '٣'];
  const legend = texts.map((_, i) => `"AVERAGE:host:${HOST}:s${i}"`).join(',');
  const quoted = Buffer.from(
    `{"meta":{"start":"1000","step":"5","end":"1005","legend":[${legend}]},"data":[{"t":"1005","values":[${texts.map((x) => `"${x}"`).join(',')}]}]}`,
  );
  const want = texts.map((x) => toNumber(JSON.parse(`"${x}"`)));
  t.same(
    Array.from(parseRrdUpdates(quoted).rows[0]!.values).map(String),
    want.map((v) => String(Number.isFinite(v) ? v : NaN)),
    'quoted samples',
  );
});

t.test('malformed bodies are still refused: cut inside a string, a number, an escape', async (t) => {
  const text = body(LEGEND, [1005], 'current');
  const bytes = Buffer.from(text);
  const cuts = [bytes.indexOf(Buffer.from('名')) + 1, bytes.indexOf(Buffer.from('"values"')) + 14, bytes.indexOf(Buffer.from('\\\\')) + 1, bytes.length - 2];
  for (const cut of cuts) t.throws(() => parseRrdUpdates(bytes.subarray(0, cut)), ProtocolError, `cut at ${cut}`);
});

t.test("the kept legend: recognised by its list's bytes, never by their length alone", async (t) => {
  for (const shape of ['current', 'nested', 'legacy'] as RrdShape[]) {
    const first = readRrdUpdates(Buffer.from(body(LEGEND, [1005], shape)));
    const again = readRrdUpdates(Buffer.from(body(LEGEND, [1010], shape)), undefined, first.legend);
    t.equal(again.legend, first.legend, `${shape}: the same bytes, the same Legend`);
    // One byte changed inside a multi-byte name, the list as long as before: a new legend, decoded right.
    const changed = LEGEND.map((e) => e.replace('名前_ß', '名前_ä'));
    const next = readRrdUpdates(Buffer.from(body(changed, [1015], shape)), undefined, again.legend);
    t.not(next.legend, first.legend, `${shape}: a byte changed`);
    t.equal(next.legend.column(4).name, '名前_ä', `${shape}: its name`);
    // And that legend is the one recognised next.
    t.equal(readRrdUpdates(Buffer.from(body(changed, [1020], shape)), undefined, next.legend).legend, next.legend, `${shape}: kept after`);
  }
  // A list that only starts like the kept one (a longer legend) is not taken for it.
  const first = readRrdUpdates(Buffer.from(body(LEGEND, [1005], 'current')));
  const longer = [...LEGEND, `AVERAGE:vm:${VM}:cpu1`];
  const next = readRrdUpdates(Buffer.from(body(longer, [1010], 'current')), undefined, first.legend);
  t.equal(next.legend.length, longer.length, 'a longer legend decoded');
  // The XML generation compares decoded entries: an equal legend is kept there too.
  const x1 = readRrdUpdates(Buffer.from(body(LEGEND, [1005], 'xml')));
  t.equal(readRrdUpdates(Buffer.from(body(LEGEND, [1010], 'xml')), undefined, x1.legend).legend, x1.legend, 'xml: kept');
});
