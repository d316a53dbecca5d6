// The counter bank's slots (exporter/rrd/counters.ts): a slot is its counter's until `prune` drops the object; a
// plan that kept a pruned (slot, generation) sees it is no longer held, even when the slot went to another counter,
// and the counter asked for again starts afresh.
import t from 'tap';
import { CounterBank, type RateRows } from '../../exporter/rrd/counters.js';

const rows = (ts: number[], rate: number): RateRows => ({ rows: ts.map((t) => ({ t, values: Float64Array.of(rate) })), column: 0, step: 5 });

t.test('slots, generations and prune', async (t) => {
  const bank = new CounterBank();
  const a = bank.counter('vm-a', 'vif_0_rx');
  const b = bank.counter('vm-b', 'vif_0_rx');
  t.not(a, b, 'one slot per counter');
  t.equal(bank.counter('vm-a', 'vif_0_rx'), a, 'the same counter, the same slot');
  const genA = bank.generationOf(a);
  t.equal(bank.advance(a, rows([1000, 1005], 10)), 0, 'first sight: 0');
  t.equal(bank.advance(a, rows([1005, 1010, 1015], 10)), 100, 'then rate × seconds, rows already counted skipped');
  t.equal(bank.advance(b, rows([1005], 2)), 0);
  t.ok(bank.holds(a, genA));
  bank.prune((uuid) => uuid !== 'vm-a');
  t.notOk(bank.holds(a, genA), 'a pruned slot is not held');
  const c = bank.counter('vm-c', 'vbd_xvda_read');
  t.equal(c, a, 'its slot is reused');
  t.notOk(bank.holds(a, genA), 'and still not held by the old keeper');
  t.equal(bank.advance(c, rows([2000], 1)), 0, 'the new counter starts at its first sight');
  const again = bank.counter('vm-a', 'vif_0_rx');
  t.not(again, a, 'vm-a back: another slot');
  t.equal(bank.advance(again, rows([3000], 10)), 0, 'and a fresh start');
  t.equal(bank.advance(b, rows([1010], 2)), 10, 'the counter kept meanwhile is untouched');
  for (let i = 0; i < 5000; i++) bank.counter(`vm-${i}`, 'cpu'); // growth keeps what is there
  t.equal(bank.advance(b, rows([1015], 2)), 20);
});
