// parseXapiDate reads by character codes what the regular expression it replaced accepted (kept here as the
// reference): every form XAPI writes (20261205T11:52:37Z, with dashes, fractions), and any string near them.
import fc from 'fast-check';
import t from 'tap';
import { parseXapiDate } from '../../exporter/metrics/inventory-metrics.js';

function reference(v: unknown): number {
  if (typeof v !== 'string') return NaN;
  const m = /^(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?Z?$/.exec(v);
  if (!m) return NaN;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  return ms <= 0 ? NaN : ms;
}

t.test('the forms XAPI writes, and what is not a date', async (t) => {
  const texts = [
    '20261205T11:52:37Z',
    '2026-12-05T11:52:37Z',
    '2026-1205T11:52:37',
    '202612-05T11:52:37.123Z',
    '2026-12-05T11:52:37.Z',
    '19700101T00:00:00Z',
    '19691231T23:59:59Z',
    '20261305T11:52:37Z',
    '2026-12-05 11:52:37Z',
    '2026-12-05T11:52:37ZZ',
    '2026-12-05T11:52',
    '2026--12-05T11:52:37Z',
    '٢٠٢٦1205T11:52:37Z',
    '',
  ];
  for (const v of [...texts, undefined, 20261205, null]) t.ok(Object.is(parseXapiDate(v), reference(v)), JSON.stringify(v));
});

t.test('any string made of date characters', async (t) => {
  const char = fc.constantFrom(...'0123456789-T:.Z x'.split(''));
  fc.assert(fc.property(fc.array(char, { maxLength: 26 }), (cs) => Object.is(parseXapiDate(cs.join('')), reference(cs.join('')))));
  const near = fc
    .tuple(fc.date({ min: new Date(0), max: new Date('2200-01-01') }), fc.nat(6), fc.nat(40), fc.constantFrom(...'0-T:.Zx'.split('')))
    .map(([d, form, at, c]) => {
      let s = d.toISOString();
      if (form & 1) s = s.replace(/-/g, '');
      if (form & 2) s = s.replace(/\.\d+/, '');
      if (form & 4) s = s.replace('Z', '');
      return at < s.length && at % 3 === 0 ? s.slice(0, at) + c + s.slice(at + 1) : s;
    });
  fc.assert(
    fc.property(near, (s) => Object.is(parseXapiDate(s), reference(s))),
    { numRuns: 20000 },
  );
  t.pass('no difference found');
});
