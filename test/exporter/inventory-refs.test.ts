// The inventory keeps one string per ref (a field naming a record it has is that record's key string): JavaScript
// cannot tell two equal strings apart, so the sharing itself is measured with a heap snapshot (bench/RESULTS.md);
// here, that fields keep their values whether the record they name comes in the same batch, an earlier one, or not
// at all, and across a delete, an add again and a reset.
import t from 'tap';
import { Inventory, type Rec, type XapiEventRecord } from '../../exporter/inventory/inventory.js';

/** A string as JSON.parse gives it from a large answer (not the literal the test wrote). */
const fresh = (s: string) => JSON.parse(JSON.stringify({ s, pad: 'x'.repeat(64) })).s as string;
const add = (cls: string, ref: string, snapshot: Rec): XapiEventRecord => ({ class: cls, operation: 'add', ref: fresh(ref), snapshot });
const keyOf = (inv: Inventory, cls: 'VM' | 'host', ref: string) => [...inv.tables.get(cls)!.keys()].find((k) => k === ref);

t.test('one string per ref, let go with its record', async (t) => {
  const inv = new Inventory();
  const host = 'OpaqueRef:11111111-2222-4333-8444-555555555555';
  const vm = 'OpaqueRef:aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
  inv.apply([
    add('VIF', 'OpaqueRef:vif-0000-0000-0000-000000000001', { uuid: 'vif-1', VM: fresh(vm), network: 'OpaqueRef:nowhere-00000000', device: '0' }),
    add('VM', vm, { uuid: 'vm-1', name_label: 'vm one', resident_on: fresh(host), is_control_domain: false }),
    add('host', host, { uuid: 'h-1', name_label: 'h' }),
  ]);
  const vif = inv.get('VIF', 'OpaqueRef:vif-0000-0000-0000-000000000001')!;
  t.equal(vif.VM, vm, 'value unchanged');
  t.equal(vif.network, 'OpaqueRef:nowhere-00000000', 'a ref to a record not had: kept as is');
  t.equal(inv.get('VM', vm)!.resident_on, keyOf(inv, 'host', host));
  // A later batch names the VM again.
  inv.apply([add('VBD', 'OpaqueRef:vbd-0000-0000-0000-000000000001', { uuid: 'vbd-1', VM: fresh(vm), VDI: 'OpaqueRef:NULL', device: 'xvda' })]);
  t.equal(inv.get('VBD', 'OpaqueRef:vbd-0000-0000-0000-000000000001')!.VM, vm);
  inv.apply([{ class: 'VM', operation: 'del', ref: vm }]);
  t.equal(inv.get('VM', vm), undefined, 'deleted');
  inv.apply([add('VM', vm, { uuid: 'vm-1', name_label: 'vm one again' })]);
  t.equal(inv.get('VM', vm)!.name_label, 'vm one again', 'added again');
  inv.reset();
  t.equal(inv.get('host', host), undefined, 'reset');
});
