// Numbers as /rrd_updates writes them: JSON numbers, or strings holding one (every generation since xcp-rrd 1.10).

/** A number as XAPI may write it (number or string); NaN for anything else, including '' and whitespace. */
export function toNumber(x: unknown): number {
  if (typeof x === 'number') return x;
  if (typeof x !== 'string') return NaN;
  const n = +x;
  return n === 0 && x.trim() === '' ? NaN : n;
}

// 10^0 … 10^22: every one exactly representable as a double.
const POW10 = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));
/** The largest mantissa every integer up to which is a double. */
const EXACT = 2 ** 53 - 1;

/**
 * The number written in `b` from `start` to `end` (bytes of the body), as `toNumber` reads its text, without making
 * a string for the common case: a plain decimal whose digits make at most 2^53 - 1 (what rrdd's %0.15g writes, leading
 * zeros included) with a small exponent is exact as an integer, and one multiplication or division by an exact power of
 * ten rounds it correctly (Clinger's fast path); "NaN" (no sample) is known at once. Anything else goes through
 * `toNumber` of the decoded text.
 */
export function numberAt(b: Buffer, start: number, end: number): number {
  numberInto(ONE, 0, b, start, end);
  return ONE[0]!;
}

const ONE = new Float64Array(1);

/** `out[at] = numberAt(b, start, end)`: the double is stored, never boxed on its way out of a call. */
export function numberInto(out: Float64Array, at: number, b: Buffer, start: number, end: number): void {
  if (plainNumberInto(out, at, b, start, end) !== end) out[at] = toNumber(b.toString('utf8', start, end));
}

/**
 * The fast path of numberInto alone: reads the plain decimal (or "NaN") starting at `b[start]`, stopping at the first
 * byte that cannot continue it or at `end`; stores it in `out[at]` and returns where it stopped, or returns -1 when
 * the text there is not one it reads exactly (then `out[at]` is unchanged). The caller checks that the number ends
 * where it should (numberInto: at `end`; the JSON reader: at a closing quote, so a quoted sample is read in one pass).
 */
export function plainNumberInto(out: Float64Array, at: number, b: Buffer, start: number, end: number): number {
  let i = start;
  const negative = b[i] === 45; // -
  if (negative) i++;
  if (!negative && b[i] === 78 /* N */ && b[i + 1] === 97 /* a */ && b[i + 2] === 78 && i + 3 <= end) {
    out[at] = NaN; // no sample
    return i + 3;
  }
  // The integer part, then the fraction: two tight loops (a poll reads ~100 MB of these). While the digits read so far
  // make at most 2^53 - 1, every step is exact (the mantissa only grows, so checking the last suffices).
  let mantissa = 0;
  const digitsFrom = i;
  for (; i < end; i++) {
    const d = b[i]! - 48;
    if (d < 0 || d > 9) break;
    mantissa = mantissa * 10 + d;
  }
  let digits = i - digitsFrom;
  let fraction = 0;
  if (i < end && b[i] === 46 /* . */) {
    const dot = ++i;
    for (; i < end; i++) {
      const d = b[i]! - 48;
      if (d < 0 || d > 9) break;
      mantissa = mantissa * 10 + d;
    }
    fraction = i - dot;
    digits += fraction;
  }
  let exponent = 0;
  if (i < end && (b[i]! | 32) === 101 /* e */) {
    let j = i + 1;
    const sign = b[j] === 45 ? -1 : 1;
    if (b[j] === 45 || b[j] === 43) j++;
    const first = j;
    for (; j < end && b[j]! >= 48 && b[j]! <= 57 && j - first < 4; j++) exponent = exponent * 10 + (b[j]! - 48);
    if (j === first) return -1;
    exponent *= sign;
    i = j;
  }
  const scale = exponent - fraction;
  if (digits === 0 || mantissa > EXACT || scale < -22 || scale > 22) return -1;
  const v = scale < 0 ? mantissa / POW10[-scale]! : mantissa * POW10[scale]!;
  out[at] = negative ? -v : v;
  return i;
}
