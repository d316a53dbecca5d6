// Sample lines written byte by byte (exporter/metrics/chunks.ts, families.ts): values exactly as formatValue prints
// them, label blocks (UTF-8, written straight from their strings) exactly as the strings they come from — the same
// bytes as a line-by-line string render of the same families.
import fc from 'fast-check';
import t from 'tap';
import { ChunkWriter } from '../../exporter/metrics/chunks.js';
import { FamilySet, formatValue, labelString } from '../../exporter/metrics/families.js';
import { renderFamily, renderText } from '../../exporter/metrics/render.js';

const written = (w: ChunkWriter, v: number) => {
  w.reserve(32);
  w.putValue(v);
  return Buffer.concat(w.cut()).toString('latin1');
};

t.test('putValue writes what formatValue prints', async (t) => {
  const w = new ChunkWriter();
  for (const v of [
    0,
    -0,
    1,
    -1,
    9,
    10,
    2 ** 31 - 1,
    -(2 ** 31),
    2 ** 31,
    -(2 ** 31) - 1,
    1e9,
    1e9 + 7,
    1e18,
    34359738368,
    2 ** 53 - 1,
    -(2 ** 53 - 1),
    1e15 - 1,
    -(1e15 - 1),
    1e15,
    1e21,
    2 ** 53,
    0.1,
    -2.5e-7,
    5e-324,
    Number.MAX_VALUE,
    NaN,
    Infinity,
    -Infinity,
  ])
    t.equal(written(w, v), formatValue(v), String(v));
  fc.assert(fc.property(fc.double(), (v) => written(w, v) === formatValue(v)));
  fc.assert(fc.property(fc.maxSafeInteger(), (v) => written(w, v) === formatValue(v)));
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 21 }), fc.integer({ min: 0, max: 1e9 - 1 }), fc.boolean(), (h, l, neg) => {
      const v = (neg ? -1 : 1) * (h * 1e9 + l); // every width of the lower half, zeros inside it
      return written(w, v) === formatValue(v);
    }),
  );
});

t.test('fractions of up to 15 digits (what xapi prints) are written from their digits, as formatValue prints them', async (t) => {
  const w = new ChunkWriter();
  const check = (v: number) => written(w, v) === formatValue(v);
  // Around every power of ten of the range (log10 one off either way), its edges, and digits that round up.
  for (let e = -7; e <= 16; e++)
    for (const f of [1, 1 - 2 ** -53, 1 + 2 ** -52, 0.99999999999999, 1.00000000000001, 9.99999999999999, 1.5])
      for (const v of [f * 10 ** e, -f * 10 ** e]) t.ok(check(v), String(v));
  for (const v of [1e-6, 9.99999999999999e-7, 1e15 - 0.5, 0.1 + 0.2, 0.30000000000000004, 123456789012345.6, 0.000123456789012345, 209715200.0001])
    t.ok(check(v), String(v));
  // xapi's %0.15g of any double, read back; and of values with fewer digits.
  fc.assert(
    fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => check(Number(x.toPrecision(15)))),
    { numRuns: 20_000 },
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 15 }), fc.double({ min: 1e-7, max: 1e16, noNaN: true }), fc.boolean(), (digits, x, neg) =>
      check((neg ? -1 : 1) * Number(x.toPrecision(digits))),
    ),
    { numRuns: 20_000 },
  );
  // Any double in the range (most have 17 digits: String(v) writes them).
  fc.assert(fc.property(fc.double({ min: 1e-6, max: 1e15, noNaN: true }), check), { numRuns: 20_000 });
});

t.test('sample lines: the label blocks as given', async (t) => {
  const set = new FamilySet();
  const vm = labelString({ uuid: 'u1', vm_name: 'vé "quoted"\\ \n' });
  set.add('xcp_vm_disk_read_bytes_total', 'counter', 'Bytes read', vm, 1024, 'device="xvda"');
  set.add('xcp_vm_disk_read_bytes_total', 'counter', 'Bytes read', vm, 0.5, '');
  set.add('xcp_vm_disk_read_bytes_total', 'counter', 'Bytes read', '', -3, 'device="日本"');
  set.add('xcp_exporter_up', 'gauge', 'Up', '', 1);
  t.equal(
    renderText(set.families()),
    [
      '# HELP xcp_exporter_up Up',
      '# TYPE xcp_exporter_up gauge',
      'xcp_exporter_up 1',
      '# HELP xcp_vm_disk_read_bytes_total Bytes read',
      '# TYPE xcp_vm_disk_read_bytes_total counter',
      'xcp_vm_disk_read_bytes_total{uuid="u1",vm_name="vé \\"quoted\\"\\\\ \\n",device="xvda"} 1024',
      'xcp_vm_disk_read_bytes_total{uuid="u1",vm_name="vé \\"quoted\\"\\\\ \\n"} 0.5',
      'xcp_vm_disk_read_bytes_total{device="日本"} -3',
      '',
    ].join('\n'),
  );
});

/** What a family's sample lines are: one string per line, the obvious way. */
const linesOf = (name: string, samples: [string, number, string][]) =>
  samples.map(([l, v, x]) => `${name}${l || x ? `{${[l, x].filter(Boolean).join(',')}}` : ''} ${formatValue(v)}\n`).join('');

t.test('renderFamily writes the bytes of a line-by-line string render', async (t) => {
  const label = fc.oneof(fc.constant(''), fc.string(), fc.fullUnicodeString(), fc.string({ minLength: 200, maxLength: 2000 }));
  fc.assert(
    fc.property(fc.array(fc.tuple(label, fc.oneof(fc.double(), fc.integer(), fc.maxSafeInteger()), label), { maxLength: 60 }), (samples) => {
      const set = new FamilySet();
      for (const [l, v, x] of samples) set.add('xcp_some_family', 'gauge', 'Help', l, v, x);
      const w = new ChunkWriter();
      const got = set.families().flatMap((f) => renderFamily(f, w).samples);
      return Buffer.concat(got).equals(Buffer.from(linesOf('xcp_some_family', samples)));
    }),
  );
  // Lines across many 1 MiB chunks, one of them longer than a chunk, and shared blocks of many lines.
  const vms = Array.from({ length: 500 }, (_, i) => labelString({ uuid: `u${i}`, vm_name: `vm ${'é'.repeat(i % 7)} ${i}`, pad: 'x'.repeat(i * 3) }));
  const samples: [string, number, string][] = [];
  for (let i = 0; i < 12_000; i++) samples.push([vms[i % vms.length]!, i % 3 ? i / 7 : i, i % 4 ? `device="xvd${i % 26}"` : '']);
  samples.push([`huge="${'h'.repeat(1_500_000)}"`, 1, 'z="日本"']);
  const set = new FamilySet();
  for (const [l, v, x] of samples) set.add('xcp_vm_something', 'gauge', 'Help', l, v, x);
  const w = new ChunkWriter();
  const got = Buffer.concat(set.families().flatMap((f) => renderFamily(f, w).samples));
  t.ok(w.chunks.length > 4, `${w.chunks.length} chunks`);
  t.ok(got.equals(Buffer.from(linesOf('xcp_vm_something', samples))), `${got.length} bytes as the string render`);
});
