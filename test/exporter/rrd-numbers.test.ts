// numberAt (the JSON reader's number parser, without cutting strings out of the body) reads exactly what Number()
// reads, for every way rrdd writes a value (%0.15g, older %0.4f, integers, exponents, NaN, ±Infinity) and for text
// around the fast path's limits (leading zeros, 15 and 16 significant digits, mantissas around 2^53, large exponents).
import t from 'tap';
import { numberAt, toNumber } from '../../core/rrd/numbers.js';
import { rng } from '../../simulator/model/random.js';
import { formatRrdValue } from '../../simulator/rrd/render.js';

/** numberAt on the bytes of `text` embedded in a longer body, as the reader calls it. */
const at = (text: string) => numberAt(Buffer.from(`"${text}",`), 1, 1 + Buffer.byteLength(text));

t.test('every value rrdd writes, and Number() beside it', async (t) => {
  const random = rng(25);
  const wrong: string[] = [];
  for (let i = 0; i < 200_000; i++) {
    const magnitude = 10 ** Math.floor(random() * 40 - 20);
    const v = (random() - 0.3) * magnitude;
    for (const text of [formatRrdValue(v), v.toFixed(4), v.toPrecision(1 + (i % 17)), String(Math.round(v))]) {
      if (!Object.is(at(text), toNumber(text))) wrong.push(text);
    }
  }
  t.same(wrong.slice(0, 10), [], 'no difference in 800,000 texts');
});

t.test('edges of the fast path', async (t) => {
  const texts = [
    '0.0',
    '-0.0',
    '0',
    '-0',
    '00012',
    '0.000123456789012345',
    '0.0000000000000000000001234',
    '123456789012345',
    '1234567890123456',
    '9007199254740993',
    '9007199254740991',
    '9007199254740992',
    '0.9007199254740991',
    '900719925474099.1e-7',
    '-0.9007199254740993',
    '00000000000000000000000000000012.5',
    '0.1',
    '0.30000000000000004',
    '1e22',
    '1e23',
    '1e-22',
    '1.5e-23',
    '4.35e+05',
    '4.35E5',
    '1e',
    '1e+',
    '.5',
    '5.',
    '.',
    '-',
    '',
    ' ',
    'NaN',
    '-NaN',
    'nan',
    'NaNa',
    'Infinity',
    '-Infinity',
    '+1',
    '1.2.3',
    '0x10',
    '1_000',
  ];
  for (const text of texts) t.ok(Object.is(at(text), toNumber(text)), JSON.stringify(text));
});
