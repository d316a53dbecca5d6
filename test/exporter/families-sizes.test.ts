// A poll's families sized from the previous poll's (FamilySet `previous`, Exporter.pollOnce): the same samples in
// the same order whether the family is made that size, smaller (it grows) or larger (the room left is not written).
import t from 'tap';
import { FamilySet } from '../../exporter/metrics/families.js';
import { renderText } from '../../exporter/metrics/render.js';

function fill(set: FamilySet, n: number): void {
  for (let i = 0; i < n; i++) set.add('xcp_a', 'gauge', 'A', `i="${i}"`, i / 3, i % 2 ? 'odd="1"' : '');
  set.add('xcp_b_total', 'counter', 'B', '', NaN);
}

t.test('sized from the previous poll, smaller, larger or unknown: the same body', async (t) => {
  const fresh = new FamilySet();
  fill(fresh, 1000);
  const body = renderText(fresh.families());
  t.same(
    [...fresh.sizes()],
    [
      ['xcp_a', 1000],
      ['xcp_b_total', 1],
    ],
  );
  for (const [what, sizes] of [
    ['the same', fresh.sizes()],
    ['smaller', new Map([['xcp_a', 3]])],
    [
      'larger',
      new Map([
        ['xcp_a', 5000],
        ['xcp_b_total', 70],
      ]),
    ],
    ['a family not seen before', new Map([['xcp_c', 10]])],
  ] as const) {
    const set = new FamilySet(sizes);
    fill(set, 1000);
    t.equal(set.seriesCount, 1001, `${what}: series`);
    t.equal(renderText(set.families()), body, `${what}: body`);
  }
});

t.test('an empty family is left out, whatever room it was given', async (t) => {
  const set = new FamilySet(new Map([['xcp_a', 100]]));
  set.family('xcp_a', 'gauge', 'A');
  t.same(set.families(), []);
  t.equal(set.sizes().get('xcp_a'), 0);
});
