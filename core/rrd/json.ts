// A reader for the JSON generations of /rrd_updates, from the body's bytes (the body never becomes one string: a
// 1.5 MB string per host and poll would sit in V8's large-object space until a full collection). Strict JSON (nested,
// current), plus what xcp-rrd ≤ 1.9 wrote: unquoted (identifier) keys and bare NaN, Infinity and -Infinity. Every
// `values` list is read straight into a Float64Array (`toNumber` of each element), so the tens of thousands of
// samples of a body never become strings; only keys and a legend's entries are decoded (UTF-8).
// Given the legend last read from the same host, a `legend` list whose bytes are that legend's is not decoded (see
// Legend.matchJson): the document's legend is then that Legend object itself. A `legend` list decoded afresh is
// reported with where its bytes are, so the Legend made of it can recognise them next time.
// Pure; throws SyntaxError for anything that is not such a document.
import type { Legend } from './legend.js';
import { numberAt, numberInto, plainNumberInto, toNumber } from './numbers.js';

const WORDS: Record<string, unknown> = { true: true, false: false, null: null, NaN: NaN, Infinity: Infinity };

export interface RrdJson {
  doc: unknown;
  /** The last `legend` list decoded afresh (`entries`, an array of the document) and where it is in the body: from
   * its '[' to after its ']'. */
  legendAt?: LegendAt;
}

export interface LegendAt {
  entries: unknown[];
  start: number;
  end: number;
}

export function parseRrdJson(body: Buffer, previous?: Legend): RrdJson {
  const r = new Reader(body, previous);
  const doc = r.value();
  r.space();
  if (r.pos < body.length) r.fail('unexpected text after the value');
  return { doc, legendAt: r.legendAt };
}

class Reader {
  pos = 0;
  legendAt?: LegendAt;
  /** Length of the last `values` list (at first, of the previous legend): rows are all as wide as their legend. */
  private width: number;

  constructor(
    private readonly s: Buffer,
    private readonly previous?: Legend,
  ) {
    this.width = Math.max(previous?.length ?? 1024, 1);
  }

  fail(what: string): never {
    throw new SyntaxError(`${what} at byte ${this.pos}`);
  }

  /** The byte at `i`; -1 past the end. */
  private at(i: number): number {
    return i < this.s.length ? this.s[i]! : -1;
  }

  space(): void {
    const s = this.s;
    while (this.pos < s.length) {
      const c = s[this.pos]!;
      if (c !== 32 && c !== 10 && c !== 13 && c !== 9) return;
      this.pos++;
    }
  }

  value(): unknown {
    this.space();
    const c = this.at(this.pos);
    if (c === 123 /* { */) return this.object();
    if (c === 91 /* [ */) return this.array();
    if (c === 34 /* " */) return this.string();
    if (c === 45 /* - */ || c === 43 /* + */ || c === 46 /* . */ || (c >= 48 && c <= 57)) return this.number();
    const word = this.identifier();
    if (!Object.hasOwn(WORDS, word)) this.fail(`unexpected ${word ? `"${word}"` : 'character'}`);
    return WORDS[word];
  }

  private object(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.pos++;
    this.space();
    if (this.at(this.pos) === 125 /* } */) {
      this.pos++;
      return out;
    }
    for (;;) {
      this.space();
      const key = this.at(this.pos) === 34 ? this.string() : this.identifier();
      if (!key) this.fail('expected a key');
      this.space();
      this.expect(58 /* : */);
      this.space();
      const value = this.at(this.pos) === 91 ? this.list(key) : this.value();
      // As JSON.parse: "__proto__" is an ordinary key.
      if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      else out[key] = value;
      this.space();
      if (this.at(this.pos) === 125) {
        this.pos++;
        return out;
      }
      this.expect(44 /* , */);
    }
  }

  /** A list: `values` read as samples, a `legend` whose bytes are the previous one's as that Legend. */
  private list(key: string): unknown {
    if (key === 'values') return this.samples();
    if (key !== 'legend') return this.array();
    const start = this.pos;
    if (this.previous) {
      const end = this.previous.matchJson(this.s, start);
      if (end >= 0) {
        this.pos = end;
        return this.previous;
      }
    }
    const entries = this.array();
    this.legendAt = { entries, start, end: this.pos };
    return entries;
  }

  private array(): unknown[] {
    const out: unknown[] = [];
    this.pos++;
    this.space();
    if (this.at(this.pos) === 93 /* ] */) {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value());
      this.space();
      if (this.at(this.pos) === 93) {
        this.pos++;
        return out;
      }
      this.expect(44);
    }
  }

  /** A `values` list: each element as `toNumber` reads it, numeric strings without making the string. The position is
   * kept in a local while it reads (rrdd writes `"0.1","0.2",…`: a quoted sample then a comma, nothing between). */
  private samples(): Float64Array {
    const s = this.s;
    const length = s.length;
    let out = new Float64Array(this.width);
    let n = 0;
    this.pos++;
    this.space();
    if (this.at(this.pos) === 93) {
      this.pos++;
      return new Float64Array(0);
    }
    let pos = this.pos;
    for (;;) {
      while (pos < length && s[pos]! <= 32 && (s[pos] === 32 || s[pos] === 10 || s[pos] === 13 || s[pos] === 9)) pos++;
      if (n === out.length) {
        const bigger = new Float64Array(n * 2);
        bigger.set(out);
        out = bigger;
      }
      // rrdd's "0.123": read in one pass, up to the closing quote; anything else as toNumber reads its text.
      const stop = pos < length && s[pos] === 34 ? plainNumberInto(out, n, s, pos + 1, length) : -1;
      if (stop >= 0 && stop < length && s[stop] === 34) pos = stop + 1;
      else {
        this.pos = pos;
        if (s[pos] === 34) this.quotedSample(out, n);
        else out[n] = toNumber(this.value());
        pos = this.pos;
      }
      n++;
      if (pos < length && s[pos] === 44 /* , */) {
        pos++;
        continue;
      }
      this.pos = pos;
      this.space();
      if (this.at(this.pos) === 93) {
        this.pos++;
        this.width = Math.max(n, 1);
        return n === out.length ? out : out.slice(0, n);
      }
      this.expect(44);
      pos = this.pos;
    }
  }

  /** A quoted sample that is not a plain decimal: the closing quote; a backslash means the string needs unescaping
   * first (never seen from rrdd). */
  private quotedSample(out: Float64Array, n: number): void {
    const s = this.s;
    let j = this.pos + 1;
    let c = 0;
    for (; j < s.length; j++) {
      c = s[j]!;
      if (c === 34 || c === 92) break;
    }
    if (j >= s.length) this.fail('unterminated string');
    if (c === 92) out[n] = toNumber(this.string());
    else {
      numberInto(out, n, s, this.pos + 1, j);
      this.pos = j + 1;
    }
  }

  private string(): string {
    const s = this.s;
    const start = this.pos;
    let escaped = false;
    let j = start + 1;
    for (; j < s.length; j++) {
      const c = s[j]!;
      if (c === 92 /* \ */) {
        escaped = true;
        j++;
      } else if (c === 34) break;
    }
    if (j >= s.length) this.fail('unterminated string');
    this.pos = j + 1;
    return escaped ? (JSON.parse(s.toString('utf8', start, j + 1)) as string) : s.toString('utf8', start + 1, j);
  }

  /** A JSON number, or a signed Infinity. */
  private number(): number {
    const s = this.s;
    const start = this.pos;
    let j = start;
    if (s[j] === 45 || s[j] === 43) j++;
    if (INFINITY.every((c, k) => s[j + k] === c)) {
      this.pos = j + INFINITY.length;
      return s[start] === 45 ? -Infinity : Infinity;
    }
    for (; j < s.length; j++) {
      const c = s[j]!;
      if (!((c >= 48 && c <= 57) || c === 46 || c === 101 || c === 69 || c === 43 || c === 45)) break;
    }
    const n = numberAt(s, start, j);
    if (Number.isNaN(n)) this.fail('malformed number');
    this.pos = j;
    return n;
  }

  private identifier(): string {
    const s = this.s;
    const start = this.pos;
    let j = start;
    for (; j < s.length; j++) {
      const c = s[j]!;
      const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36;
      if (!letter && !(j > start && c >= 48 && c <= 57)) break;
    }
    this.pos = j;
    return s.toString('latin1', start, j);
  }

  private expect(c: number): void {
    if (this.at(this.pos) !== c) this.fail(`expected "${String.fromCharCode(c)}"`);
    this.pos++;
  }
}

const INFINITY = [...Buffer.from('Infinity')];
