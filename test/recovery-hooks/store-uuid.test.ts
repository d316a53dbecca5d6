// Notification uuids are RFC 9562 version 7: the creation millisecond first (so the uuid index is appended to), then
// random bits; unique, and ordered by time across milliseconds.
import t from 'tap';
import { timeOrderedUuid } from '../../recovery-hooks/store/uuid.js';

t.test('version 7 layout: the time in the first 48 bits, version 7, RFC variant, the rest random', async (t) => {
  const at = Date.UTC(2026, 11, 6, 15, 0, 0, 123);
  const u = timeOrderedUuid(at);
  t.match(u, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  t.equal(Number.parseInt(u.slice(0, 8) + u.slice(9, 13), 16), at, 'the first 48 bits are the millisecond');
  const many = Array.from({ length: 10_000 }, () => timeOrderedUuid(at));
  t.equal(new Set(many).size, many.length, 'no two alike within one millisecond');
});

t.test('later milliseconds sort after earlier ones', async (t) => {
  const at = Date.now();
  const uuids = [at - 86_400_000, at - 1, at, at + 1, at + 1000].map((ms) => timeOrderedUuid(ms));
  t.same([...uuids].sort(), uuids);
});
