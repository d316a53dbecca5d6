// Sample lines written byte by byte (exporter/metrics/chunks.ts, families.ts): values exactly as formatValue prints
// them, label blocks (UTF-8, encoded once per render) exactly as the strings they come from.
import fc from 'fast-check';
import t from 'tap';
import { ChunkWriter } from '../../exporter/metrics/chunks.js';
import { FamilySet, formatValue, labelString } from '../../exporter/metrics/families.js';
import { renderText } from '../../exporter/metrics/render.js';

const written = (w: ChunkWriter, v: number) => {
  w.reserve(32);
  w.putValue(v);
  return Buffer.concat(w.cut()).toString('latin1');
};

t.test('putValue writes what formatValue prints', async (t) => {
  const w = new ChunkWriter();
  for (const v of [0, -0, 1, -1, 9, 10, 1e15 - 1, -(1e15 - 1), 1e15, 1e21, 2 ** 53, 0.1, -2.5e-7, 5e-324, Number.MAX_VALUE, NaN, Infinity, -Infinity])
    t.equal(written(w, v), formatValue(v), String(v));
  fc.assert(fc.property(fc.double(), (v) => written(w, v) === formatValue(v)));
  fc.assert(fc.property(fc.maxSafeInteger(), (v) => written(w, v) === formatValue(v)));
});

t.test('sample lines: the label blocks as given, shared blocks encoded once', async (t) => {
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
  const w = new ChunkWriter();
  t.equal(w.bytesOf(vm), w.bytesOf(vm), 'one encoding per block');
});
