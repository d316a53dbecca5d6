// Byte chunks that rendered sample lines are written into. A large body is rendered a batch at a time and each
// batch's chunks come back once its lines are compressed (snapshot.ts), so the same few chunks are written again and
// again within a poll: the allocator is not asked for a body's worth of memory. A pool lives for one poll (exporter.ts).

import { formatValue } from './families.js';

const CHUNK = 1 << 20;
/** 10^k, k = 0..20: exact doubles. */
const POW10 = Array.from({ length: 21 }, (_, k) => 10 ** k);
/** Free chunks kept for the next batch: two batches' worth (see snapshot.ts). */
const KEEP_FREE = 20;

export class ChunkPool {
  private readonly free: Buffer[] = [];

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(CHUNK);
  }

  /** Chunks nothing reads any more. */
  give(chunks: Buffer[]): void {
    for (const c of chunks) if (c.length === CHUNK && this.free.length < KEEP_FREE) this.free.push(c);
  }
}

/**
 * What `buf.write(s, offset)` calls once it has sorted out its optional arguments (lib/buffer.js, Node 20); called
 * directly, it costs a fifth less per label block. Not in Node's typings; test/exporter/render.test.ts checks the bytes.
 */
type Utf8Writable = Buffer & { utf8Write(s: string, offset: number): number };

/**
 * Writes into chunks: `reserve` room for what comes next, then put its pieces (bytes, a value, single bytes).
 * `cut()` returns what was written since the last cut.
 */
export class ChunkWriter {
  /** Every chunk taken, to give back to the pool when the body is no longer read. */
  readonly chunks: Buffer[] = [];
  private cur: Buffer = Buffer.alloc(0);
  private pos = 0;
  private start = 0;
  private pieces: Buffer[] = [];
  private before = 0;
  /** A fraction's digits, last first (putShortDecimal). */
  private readonly digits = new Uint8Array(16);

  constructor(private readonly pool = new ChunkPool()) {}

  /** Room for `bytes` more bytes in the current chunk. */
  reserve(bytes: number): void {
    if (this.cur.length - this.pos < bytes) this.next(bytes);
  }

  putBytes(b: Uint8Array): void {
    this.cur.set(b, this.pos);
    this.pos += b.length;
  }

  /**
   * `s` as UTF-8, written straight from the string (room: 3 bytes per UTF-16 unit). Label blocks are written this way
   * in every line: looking each one up in a map of encoded blocks cost more (cache misses on ~70k entries at 609k
   * series) than encoding it again.
   */
  putString(s: string): void {
    this.pos += (this.cur as Utf8Writable).utf8Write(s, this.pos);
  }

  putByte(c: number): void {
    this.cur[this.pos++] = c;
  }

  /** A sample value as the exposition formats write it (NaN, ±Inf, else as JavaScript prints it); up to 24 bytes. */
  putValue(v: number): void {
    let n = v | 0;
    if (n === v) {
      // 32-bit integers (states, counts, most counters) digit by digit in integer arithmetic: no string made.
      if (n < 0) {
        this.cur[this.pos++] = 0x2d; // -
        n = -n;
      }
      this.putDigits(n, 1);
      return;
    }
    if (Number.isSafeInteger(v)) {
      // Larger integers (bytes, memory sizes) as two halves of at most 9 digits; JavaScript prints every digit of an
      // integer below 1e21, no exponent.
      let a = v;
      if (a < 0) {
        this.cur[this.pos++] = 0x2d; // -
        a = -a;
      }
      const high = Math.floor(a / 1e9);
      this.putDigits(high, 1);
      this.putDigits(a - high * 1e9, 9);
      return;
    }
    if (this.putShortDecimal(v)) return;
    const s = formatValue(v);
    const cur = this.cur;
    for (let i = 0; i < s.length; i++) cur[this.pos++] = s.charCodeAt(i);
  }

  /**
   * A fraction of at most 15 significant digits, 1e-6 ≤ |v| < 1e15, as JavaScript prints it, from integer arithmetic
   * (no string made; String(v) was most of the render's time at 609k series). xapi prints RRD samples with %0.15g
   * (simulator/rrd/render.ts), so most gauges are such values; others (17 digits) return false.
   *
   * With m the value scaled to 15 digits and rounded: the decimal m·10^-k is v when m / 10^k === v, since with m below
   * 2^53 and 10^k exact that division rounds as reading the decimal does (Clinger's fast path). Decimals of at most 15
   * digits are at least 1e-15 apart relatively, doubles at most 2.3e-16: no other such decimal reads as v, so m without
   * its trailing zeros is the shortest decimal that does, which String(v) prints (ECMA-262 Number::toString), in
   * positional notation in this range. Checked against String(v) in test/exporter/render.test.ts.
   */
  private putShortDecimal(v: number): boolean {
    const a = v < 0 ? -v : v;
    if (!(a >= 1e-6 && a < 1e15)) return false;
    // Digits after the point for 15 significant digits; log10 may be one off near a power of ten: then m has 14
    // digits (still exact if it passes) or 16 (refused below).
    let k = 14 - Math.floor(Math.log10(a));
    let m = Math.round(a * POW10[k]!);
    if (m >= 1e15 || m / POW10[k]! !== a) return false;
    while (m % 10 === 0) {
      m /= 10;
      k--;
    }
    const digits = this.digits;
    let d = 0;
    // m < 2^50: the double quotient floors to the integer one.
    do {
      const q = Math.floor(m / 10);
      digits[d++] = 0x30 + m - q * 10;
      m = q;
    } while (m > 0);
    const cur = this.cur;
    if (v < 0) cur[this.pos++] = 0x2d; // -
    if (d <= k) {
      cur[this.pos++] = 0x30; // 0
      cur[this.pos++] = 0x2e; // .
      for (let z = k - d; z > 0; z--) cur[this.pos++] = 0x30;
      while (d > 0) cur[this.pos++] = digits[--d]!;
    } else {
      while (d > k) cur[this.pos++] = digits[--d]!;
      cur[this.pos++] = 0x2e; // .
      while (d > 0) cur[this.pos++] = digits[--d]!;
    }
    return true;
  }

  /** `n` (0 ≤ n ≤ 2^31) in decimal, with leading zeros up to `width` digits. */
  private putDigits(n: number, width: number): void {
    const cur = this.cur;
    let digits = 1;
    for (let m = n; m >= 10; m = (m / 10) | 0) digits++;
    let at = this.pos + Math.max(digits, width);
    const start = this.pos;
    this.pos = at;
    do {
      const q = (n / 10) | 0;
      cur[--at] = 0x30 + n - q * 10;
      n = q;
    } while (n > 0);
    while (at > start) cur[--at] = 0x30;
  }

  /** Bytes written so far. */
  get written(): number {
    return this.before + this.pos;
  }

  cut(): Buffer[] {
    this.keepPiece();
    const out = this.pieces;
    this.pieces = [];
    return out;
  }

  private next(min: number): void {
    this.keepPiece();
    this.before += this.pos;
    this.cur = min > CHUNK ? Buffer.allocUnsafeSlow(min) : this.pool.take();
    this.chunks.push(this.cur);
    this.pos = this.start = 0;
  }

  private keepPiece(): void {
    if (this.pos > this.start) this.pieces.push(this.cur.subarray(this.start, this.pos));
    this.start = this.pos;
  }
}
