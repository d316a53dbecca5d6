// The inventory's series keep their label strings with the records (exporter/inventory/record-labels.ts): a poll
// after a change must label like a fresh render would — the changed record, a record the labels are made from (the
// VM's host, the VDI's SR and VM), the pool name and the tags mode — and unchanged labels are the very same strings.
import t from 'tap';
import { HaltTracker } from '../../exporter/inventory/halts.js';
import { Inventory, type Rec } from '../../exporter/inventory/inventory.js';
import type { MetricSink } from '../../exporter/metrics/declare.js';
import { addHaltMetrics } from '../../exporter/metrics/halt-metrics.js';
import { addInventoryMetrics } from '../../exporter/metrics/inventory-metrics.js';

const ev = (cls: string, ref: string, snapshot: Rec) => ({ class: cls, operation: 'mod', ref, snapshot });
const HOST = { uuid: 'h-uuid', name_label: 'host-a', address: '10.0.0.1', metrics: 'HM', enabled: true };
const VM = { uuid: 'v-uuid', name_label: 'web', power_state: 'Running', resident_on: 'H', tags: ['a'], is_control_domain: false };
const SR = { uuid: 's-uuid', name_label: 'nfs', type: 'nfs', shared: true, PBDs: ['PB'] };

function inventory(): Inventory {
  const inv = new Inventory();
  inv.apply([
    ev('pool', 'P', { uuid: 'pool-uuid', name_label: 'lab', master: 'H' }),
    ev('host', 'H', HOST),
    ev('host_metrics', 'HM', { uuid: 'hm', live: true }),
    ev('VM', 'V', VM),
    ev('SR', 'S', SR),
    ev('PBD', 'PB', { uuid: 'pbd', SR: 'S', host: 'H', currently_attached: true }),
    ev('VDI', 'D', { uuid: 'd-uuid', name_label: 'root', SR: 'S', VBDs: ['B'], virtual_size: 10 }),
    ev('VBD', 'B', { uuid: 'b-uuid', VM: 'V', VDI: 'D', device: 'xvda' }),
  ]);
  return inv;
}

/** Every series as `name{labels}`, and the label strings themselves. */
function collect(inv: Inventory, poolName = 'lab', tags: 'all' | 'info' | 'none' = 'all') {
  const lines: string[] = [];
  const strings: string[] = [];
  const sink: MetricSink = {
    // As Family.add writes them: `extra` after the labels.
    add: (f, labels, _value, extra = '') => {
      lines.push(`${f.name}{${[labels, extra].filter(Boolean).join(',')}}`);
      strings.push(labels);
      if (extra) strings.push(extra);
    },
  };
  addInventoryMetrics(sink, inv, poolName, 1_800_000_000_000, undefined, tags);
  addHaltMetrics(sink, new HaltTracker(), inv, poolName);
  return { lines, strings };
}

const find = (lines: string[], name: string) => lines.filter((l) => l.startsWith(`${name}{`));

t.test('a changed record, or one its labels are made from, is labelled afresh', async (t) => {
  const inv = inventory();
  const first = collect(inv);
  const again = collect(inv);
  t.same(again.lines, first.lines, 'nothing changed: the same series');
  t.ok(
    again.strings.every((s, i) => s === first.strings[i]),
    'the very same strings',
  );

  inv.apply([ev('VM', 'V', { ...VM, name_label: 'web-2', power_state: 'Paused', tags: ['b'] })]);
  const vm = collect(inv).lines;
  t.match(find(vm, 'xcp_vm_status')[0], 'power_state="Paused"');
  for (const name of ['xcp_vm_status', 'xcp_vm_info', 'xcp_vdi_virtual_size_bytes', 'xcp_vm_unexpected_halts_total'])
    t.match(find(vm, name)[0], /vm_name="web-2"/, `${name}: the VM's new name`);
  t.match(find(vm, 'xcp_vm_info')[0], 'tags="b"', 'new tags');

  inv.apply([ev('host', 'H', { ...HOST, name_label: 'host-b' })]);
  const host = collect(inv).lines;
  for (const name of ['xcp_vm_info', 'xcp_host_info', 'xcp_pbd_attached']) t.match(find(host, name)[0], 'host_name="host-b"', `${name}: the host's new name`);

  inv.apply([ev('SR', 'S', { ...SR, name_label: 'nfs-2' })]);
  const sr = collect(inv).lines;
  for (const name of ['xcp_sr_info', 'xcp_vdi_virtual_size_bytes', 'xcp_pbd_attached'])
    t.match(find(sr, name)[0], 'sr_name="nfs-2"', `${name}: the SR's new name`);

  inv.apply([ev('host_metrics', 'HM', { uuid: 'hm', live: false })]);
  t.match(find(collect(inv).lines, 'xcp_host_status')[0], 'power_state="Halted"', 'host liveness from its metrics record');

  const renamed = collect(inv, 'lab-2').lines;
  t.ok(
    renamed.every((l) => !l.includes('pool_name="lab"')),
    'another pool name: every series',
  );
  const info = collect(inv, 'lab-2', 'info').lines;
  t.notMatch(find(info, 'xcp_vm_status')[0], 'tags=', 'tags mode info: no tags on the status series');
  t.match(find(info, 'xcp_vm_info')[0], 'tags="b"', 'tags mode info: on the _info series');
});
