// /rrd_updates bodies as each XAPI generation writes them (rrd_updates.ml; reference §2.2–2.3):
//   legacy   xcp-rrd ≤ 1.9 ad-hoc printer: unquoted keys, bare numbers and bare NaN/Infinity (not JSON)
//   nested   xcp-rrd 1.10–1.12 (yojson): like current, but `data` inside `meta`. The nesting came with the yojson
//            rewrite (xen-api PR #5456), whose Json helpers print every number as a string (XO PR #7383, Feb 2024:
//            "starting from XAPI 23.31 ... numbers are encoded as strings")
//   current  xapi ≥ 24.11: every number a string, `data` beside `meta`
//   xml      Xmlm output: XML declaration and newline, then no whitespace; empty elements as <x/>
// Times are printed as %Ld and samples with today's Utils.f_to_s (%0.15g) in every shape; older releases printed
// samples with %0.4f or %0.5g, losing precision, which is not imitated. Legend strings are JSON- or XML-escaped; the
// OCaml printers only differ for quotes and control characters, which data-source names do not contain.

export type RrdShape = 'legacy' | 'nested' | 'current' | 'xml';

export interface RrdUpdatesInput {
  start: number;
  end: number;
  step: number;
  legend: string[];
  /** Emitted in this order (XAPI: newest first). Each row has one value per legend entry. */
  rows: { t: number; values: ArrayLike<number> }[];
}

export function renderRrdUpdates(u: RrdUpdatesInput, shape: RrdShape): string {
  const width = u.legend.length;
  const rows = u.rows.map((row) => {
    if (row.values.length !== width) throw new RangeError(`row t=${row.t} has ${row.values.length} values for ${width} legend entries`);
    const v = new Array<string>(width);
    for (let i = 0; i < width; i++) v[i] = formatRrdValue(row.values[i]!);
    return { t: int(row.t), v };
  });
  const head = { start: int(u.start), step: int(u.step), end: int(u.end), rows: String(rows.length), columns: String(width) };

  if (shape === 'xml') {
    const legend = width ? `<legend><entry>${u.legend.map(xmlText).join('</entry><entry>')}</entry></legend>` : '<legend/>';
    const data = rows.length
      ? `<data>${rows.map((r) => `<row><t>${r.t}</t>${width ? `<v>${r.v.join('</v><v>')}</v>` : ''}</row>`).join('')}</data>`
      : '<data/>';
    return (
      '<?xml version="1.0" encoding="UTF-8"?>\n<xport><meta>' +
      `<start>${head.start}</start><step>${head.step}</step><end>${head.end}</end>` +
      `<rows>${head.rows}</rows><columns>${head.columns}</columns>${legend}</meta>${data}</xport>`
    );
  }

  const legend = JSON.stringify(u.legend);
  if (shape === 'legacy') {
    // The ad-hoc printer indexed the last row unconditionally: an empty window raised instead of answering.
    if (rows.length === 0) throw new RangeError('the legacy /rrd_updates generator cannot render an empty window');
    const data = rows.map((r) => `{t:${r.t},values:[${r.v.join(',')}]}`).join(',');
    return `{meta: {start:${head.start},step:${head.step},end:${head.end},rows:${head.rows},columns:${head.columns},` + `legend:${legend}},data:[${data}]}`;
  }

  const meta = `"start":"${head.start}","step":"${head.step}","end":"${head.end}",` + `"rows":"${head.rows}","columns":"${head.columns}","legend":${legend}`;
  const data = `[${rows.map((r) => `{"t":"${r.t}","values":[${width ? `"${r.v.join('","')}"` : ''}]}`).join(',')}]`;
  return shape === 'nested' ? `{"meta":{${meta},"data":${data}}}` : `{"meta":{${meta}},"data":${data}}`;
}

/**
 * OCaml `Utils.f_to_s`: "%0.15g" (C semantics: exponent form when the decimal exponent is < -4 or ≥ 15, trailing
 * zeros dropped, at least two exponent digits, exact halves rounded to even), with "NaN", "Infinity", "-Infinity"
 * and zero as "0.0".
 */
export function formatRrdValue(v: number): string {
  if (v === 0) return '0.0';
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '-Infinity';
  const a = v < 0 ? -v : v;
  if (a < 1e15 && Number.isInteger(a)) return String(v);
  let e = a.toExponential(14); // "d.dddddddddddddde±x": 15 digits, but an exact half rounded away from zero
  const x = +e.slice(17);
  if (isExactHalf(a, x)) {
    const exact = a.toExponential(99);
    if (exact.charCodeAt(15) % 2 === 0) e = exact.slice(0, 16); // round down to the even digit (x is unchanged)
  }
  let end = 16; // after the last non-zero digit of the mantissa
  while (e.charCodeAt(end - 1) === 48) end--;
  const sign = v < 0 ? '-' : '';
  if (x < -4 || x >= 15) {
    const ax = x < 0 ? -x : x;
    return `${sign}${end > 2 ? e.slice(0, end) : e[0]}e${x < 0 ? '-' : '+'}${ax < 10 ? '0' : ''}${ax}`;
  }
  const digits = end > 2 ? e[0] + e.slice(2, end) : e[0]!;
  if (x < 0) return `${sign}0.${'0'.repeat(-x - 1)}${digits}`;
  if (digits.length <= x + 1) return sign + digits + '0'.repeat(x + 1 - digits.length);
  return `${sign}${digits.slice(0, x + 1)}.${digits.slice(x + 1)}`;
}

/**
 * Whether `a` lies exactly halfway between two 15-digit decimals (exponent x). Such a value is D×10^(x-15) with D
 * ending in 5, so for x < 15 it has exactly 15-x fractional bits (a cheap exact test), and for x ≥ 15 it is an
 * integer; candidates are confirmed on the exact decimal expansion.
 */
function isExactHalf(a: number, x: number): boolean {
  if (!Number.isInteger(x >= 15 ? a : a * 2 ** (15 - x))) return false;
  const exact = a.toExponential(99);
  return exact.charCodeAt(16) === 53 && /^0*e/.test(exact.slice(17));
}

/** Int64 printed with %Ld: whole seconds. */
function int(x: number): string {
  return String(Math.trunc(x));
}

/** Xmlm escapes the markup delimiters and the double quote in character data. */
function xmlText(s: string): string {
  return /[<>&"]/.test(s) ? s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;') : s;
}
