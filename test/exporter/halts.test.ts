// Unexpected halts from XAPI's events (exporter/inventory/halts.ts): a crash counts, an API shutdown does not
// (ha_always_run cleared first), a VM of a dead host does not (the host workflow's), and a crash that happened
// while the exporter re-read the inventory still counts.
import t from 'tap';
import { HaltTracker } from '../../exporter/inventory/halts.js';
import { Inventory, type XapiEventRecord } from '../../exporter/inventory/inventory.js';

const host = (ref: string, live: boolean): XapiEventRecord[] => [
  { class: 'host', operation: 'add', ref, snapshot: { uuid: `${ref}-uuid`, name_label: ref, metrics: `${ref}-m` } },
  { class: 'host_metrics', operation: 'add', ref: `${ref}-m`, snapshot: { uuid: `${ref}-m-uuid`, live } },
];
const vm = (ref: string, power: string, alwaysRun: boolean, hostRef = 'h1'): XapiEventRecord => ({
  class: 'VM',
  operation: 'mod',
  ref,
  snapshot: {
    uuid: `${ref}-uuid`,
    name_label: ref,
    power_state: power,
    resident_on: power === 'Halted' ? 'OpaqueRef:NULL' : hostRef,
    ha_always_run: alwaysRun,
    is_control_domain: false,
    is_a_template: false,
  },
});

function feed(inv: Inventory, tracker: HaltTracker, events: XapiEventRecord[], now = 1000): void {
  inv.apply(events);
  tracker.observe(inv, events, now);
}

t.test('crash, API shutdown, VM of a dead host, re-read', async (t) => {
  const inv = new Inventory();
  const tracker = new HaltTracker();
  let told = 0;
  tracker.onHalt = () => told++;
  feed(inv, tracker, [
    ...host('h1', true),
    ...host('h2', false),
    vm('crash', 'Running', true),
    vm('stop', 'Running', true),
    vm('dead', 'Running', true, 'h2'),
    vm('later', 'Running', true),
  ]);
  t.same([...tracker.halts.keys()], [], 'nothing at first sight');

  feed(inv, tracker, [vm('crash', 'Halted', true), vm('stop', 'Halted', false), vm('dead', 'Halted', true)], 5000);
  t.same([...tracker.halts.entries()], [['crash-uuid', { count: 1, lastAt: 5000, hostUuid: 'h1-uuid', hostName: 'h1' }]], 'only the crash, with its host');
  t.equal(told, 1, 'the exporter is told once for the batch');

  // Started again and crashed again: counted again.
  feed(inv, tracker, [vm('crash', 'Running', true)]);
  feed(inv, tracker, [vm('crash', 'Halted', true)], 9000);
  t.match(tracker.halts.get('crash-uuid'), { count: 2, lastAt: 9000 });

  // The exporter lost its event token and reads everything again: a crash in between is still seen.
  inv.reset();
  feed(
    inv,
    tracker,
    [...host('h1', true), ...host('h2', false), vm('later', 'Halted', true)].map((e) => ({ ...e, operation: 'add' })),
    12_000,
  );
  t.match(tracker.halts.get('later-uuid'), { count: 1, lastAt: 12_000 });

  tracker.prune((uuid) => uuid !== 'crash-uuid');
  t.notOk(tracker.halts.has('crash-uuid'), 'a VM that left the pool is forgotten');
  t.equal(told, 3);
});
