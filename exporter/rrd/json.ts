// A reader for the JSON generations of /rrd_updates. Strict JSON (nested, current), plus what xcp-rrd ≤ 1.9 wrote:
// unquoted (identifier) keys and bare NaN, Infinity and -Infinity. Every `values` list is read straight into a
// Float64Array (`toNumber` of each element), so the tens of thousands of samples of a body never become strings.
// Given the legend last read from the same host, a `legend` list equal to it is compared in place and not decoded:
// the document's legend is then that Legend object itself.
// Pure; throws SyntaxError for anything that is not such a document.
import type { Legend } from './legend.js';
import { numberAt, numberInto, toNumber } from './numbers.js';

const WORDS: Record<string, unknown> = { true: true, false: false, null: null, NaN: NaN, Infinity: Infinity };

export function parseRrdJson(text: string, previous?: Legend): unknown {
  const r = new Reader(text, previous);
  const value = r.value();
  r.space();
  if (r.pos < text.length) r.fail('unexpected text after the value');
  return value;
}

class Reader {
  pos = 0;
  /** Strings need JSON unescaping only when the body holds a backslash at all. */
  private readonly escapes: boolean;
  /** Length of the last `values` list (at first, of the previous legend): rows are all as wide as their legend. */
  private width: number;

  constructor(
    private readonly s: string,
    private readonly previous?: Legend,
  ) {
    this.escapes = s.includes('\\');
    this.width = Math.max(previous?.length ?? 1024, 1);
  }

  fail(what: string): never {
    throw new SyntaxError(`${what} at position ${this.pos}`);
  }

  space(): void {
    const s = this.s;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c !== 32 && c !== 10 && c !== 13 && c !== 9) return;
      this.pos++;
    }
  }

  value(): unknown {
    this.space();
    const c = this.s.charCodeAt(this.pos);
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
    if (this.s.charCodeAt(this.pos) === 125 /* } */) {
      this.pos++;
      return out;
    }
    for (;;) {
      this.space();
      const key = this.s.charCodeAt(this.pos) === 34 ? this.string() : this.identifier();
      if (!key) this.fail('expected a key');
      this.space();
      this.expect(58 /* : */);
      this.space();
      const value = this.s.charCodeAt(this.pos) === 91 ? this.list(key) : this.value();
      // As JSON.parse: "__proto__" is an ordinary key.
      if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      else out[key] = value;
      this.space();
      if (this.s.charCodeAt(this.pos) === 125) {
        this.pos++;
        return out;
      }
      this.expect(44 /* , */);
    }
  }

  /** A list: `values` read as samples, a `legend` equal to the previous one as that Legend. */
  private list(key: string): unknown {
    if (key === 'values') return this.samples();
    if (key === 'legend' && this.previous) {
      const end = this.previous.matchJson(this.s, this.pos);
      if (end >= 0) {
        this.pos = end;
        return this.previous;
      }
    }
    return this.array();
  }

  private array(): unknown[] {
    const out: unknown[] = [];
    this.pos++;
    this.space();
    if (this.s.charCodeAt(this.pos) === 93 /* ] */) {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value());
      this.space();
      if (this.s.charCodeAt(this.pos) === 93) {
        this.pos++;
        return out;
      }
      this.expect(44);
    }
  }

  /** A `values` list: each element as `toNumber` reads it, numeric strings without making the string. */
  private samples(): Float64Array {
    const s = this.s;
    let out = new Float64Array(this.width);
    let n = 0;
    this.pos++;
    this.space();
    if (s.charCodeAt(this.pos) === 93) {
      this.pos++;
      return new Float64Array(0);
    }
    for (;;) {
      this.space();
      if (n === out.length) {
        const bigger = new Float64Array(n * 2);
        bigger.set(out);
        out = bigger;
      }
      const c = s.charCodeAt(this.pos);
      if (c === 34) {
        const close = s.indexOf('"', this.pos + 1);
        if (close < 0) this.fail('unterminated string');
        let escaped = false;
        for (let j = this.pos + 1; this.escapes && j < close; j++) escaped ||= s.charCodeAt(j) === 92;
        if (escaped) out[n] = toNumber(this.string());
        else {
          numberInto(out, n, s, this.pos + 1, close);
          this.pos = close + 1;
        }
      } else out[n] = toNumber(this.value());
      n++;
      this.space();
      if (s.charCodeAt(this.pos) === 93) {
        this.pos++;
        this.width = Math.max(n, 1);
        return n === out.length ? out : out.slice(0, n);
      }
      this.expect(44);
    }
  }

  private string(): string {
    const s = this.s;
    const start = this.pos;
    let escaped = false;
    let j = start + 1;
    if (!this.escapes) j = s.indexOf('"', j);
    else
      for (; j < s.length; j++) {
        const c = s.charCodeAt(j);
        if (c === 92 /* \ */) {
          escaped = true;
          j++;
        } else if (c === 34) break;
      }
    if (j < 0 || j >= s.length) this.fail('unterminated string');
    this.pos = j + 1;
    return escaped ? (JSON.parse(s.slice(start, j + 1)) as string) : s.slice(start + 1, j);
  }

  /** A JSON number, or a signed Infinity. */
  private number(): number {
    const s = this.s;
    const start = this.pos;
    let j = start;
    if (s.charCodeAt(j) === 45 || s.charCodeAt(j) === 43) j++;
    if (s.startsWith('Infinity', j)) {
      this.pos = j + 8;
      return s.charCodeAt(start) === 45 ? -Infinity : Infinity;
    }
    for (; j < s.length; j++) {
      const c = s.charCodeAt(j);
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
      const c = s.charCodeAt(j);
      const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36;
      if (!letter && !(j > start && c >= 48 && c <= 57)) break;
    }
    this.pos = j;
    return s.slice(start, j);
  }

  private expect(c: number): void {
    if (this.s.charCodeAt(this.pos) !== c) this.fail(`expected "${String.fromCharCode(c)}"`);
    this.pos++;
  }
}
