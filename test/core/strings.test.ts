// detach: a copy of a string that keeps nothing of the text it was cut from, equal to it whatever its characters
// (Latin-1 ones are copied through bytes, others by a fresh concatenation: the Latin-1 copy must never be taken for
// a string it is not).
import t from 'tap';
import { detach, detachDeep } from '../../core/strings.js';

t.test('equal copies, whatever the characters', async (t) => {
  const body = JSON.stringify({
    uuid: '79f34703-6ef8-4248-942b-c55f1139d233',
    latin1: 'Données de la machine virtuelle numéro 7',
    wide: 'VM 名前 with a wide name, long enough',
    astral: 'an emoji 😀 among long enough text',
    lone: 'a lone surrogate \ud800 in long enough text',
    short: 'vm-1',
  });
  const parsed = JSON.parse(body) as Record<string, string>;
  for (const [k, v] of Object.entries(parsed)) t.equal(detach(v), v, k);
  t.same(detachDeep({ a: [parsed.uuid, { b: parsed.wide }], n: 3, z: null }), { a: [parsed.uuid, { b: parsed.wide }], n: 3, z: null });
});
