// gzip bodies assembled from pieces compressed apart. Each piece is raw deflate ended by a sync flush (whole bytes,
// no final block), so pieces can follow one another in one deflate stream: the sample lines of a family are
// compressed once and shared by the text and the OpenMetrics body, whose family headers (a few hundred bytes) go in
// as stored blocks. A body is one ordinary gzip member (RFC 1952): header, the pieces, an empty final block, then
// the CRC-32 of the whole, combined from the pieces' own CRCs without reading the bytes again, and the size.
import type { Transform } from 'node:stream';
import { constants, crc32, createDeflateRaw, createInflateRaw } from 'node:zlib';

/** Deflate data of a piece, with what the gzip trailer needs. */
export interface DeflatedPiece {
  data: Buffer[];
  crc: number;
  /** Uncompressed bytes. */
  length: number;
}

/** CRC-32 and length of the bytes of `buffers`, in order. */
export function checksumOf(buffers: readonly Buffer[]): { crc: number; length: number } {
  let crc = 0;
  let length = 0;
  for (const b of buffers) {
    crc = crc32(b, crc);
    length += b.length;
  }
  return { crc, length };
}

/** The end of a sync flush: an empty stored block's LEN and NLEN. */
const SYNC_FLUSH_END = Buffer.from([0, 0, 0xff, 0xff]);

/**
 * A raw zlib stream of the thread pool used for one piece after another, reset between them: a new stream per piece
 * cost 0.2–0.35 ms of the event loop each in its synchronous writes (measured; a reused stream's: 0.04–0.05 ms — the
 * new stream's zlib state set up and its memory touched for the first time), ~200 pieces per poll at 609k series and
 * as many per plain scrape. One piece at a time per stream. A stream that failed is replaced by a new one.
 */
abstract class PieceStream {
  private stream: Transform;
  private output: Buffer[] = [];
  /** Rejects the piece being made. */
  private fail?: (err: Error) => void;

  constructor(private readonly open: () => Transform) {
    this.stream = this.started();
  }

  private started(): Transform {
    const stream = this.open();
    // Events of a stream already replaced are not the current piece's.
    stream.on('data', (c: Buffer) => this.stream === stream && this.output.push(c));
    stream.on('error', (err: Error) => this.stream === stream && this.fail?.(err));
    return stream;
  }

  /** `buffers` through the stream up to a sync flush (into `scratch` while it has room): what came out, in order. */
  protected async flushed(buffers: readonly Buffer[], scratch?: Buffer): Promise<Buffer[]> {
    const stream = this.stream;
    if (scratch) outputInto(stream, scratch);
    this.output = [];
    for (const b of buffers) stream.write(b);
    // A stream that failed or was closed calls back with the error, or emits it (then never calls back).
    try {
      await new Promise<void>((resolve, reject) => {
        this.fail = reject;
        const flushed = (err?: Error | null) => (err ? reject(err) : resolve());
        (stream as Transform & { flush(kind: number, callback: () => void): void }).flush(constants.Z_SYNC_FLUSH, flushed as () => void);
      });
    } catch (err) {
      stream.destroy();
      this.stream = this.started();
      throw err;
    } finally {
      this.fail = undefined;
    }
    // The flush's output is pushed before its callback runs (lib/zlib.js, processCallback).
    const out = this.output;
    this.output = [];
    (stream as Transform & { reset(): void }).reset();
    return out;
  }

  close(): void {
    this.stream.destroy();
  }
}

/**
 * Compresses pieces one after the other in one raw-deflate stream (PieceStream): each is still independent, no piece
 * refers to another's bytes (a reset clears the hash table).
 *
 * Level 1: most of the size gain for a third of the CPU of the default level on this repetitive text (levels 2–3,
 * memLevel 9, smaller windows or the filtered strategy cost the same within 10 % on a 609k-series body; RLE and
 * Huffman-only compress 1.5×, not 10×).
 */
export class PieceDeflater extends PieceStream {
  constructor() {
    super(() => createDeflateRaw({ level: 1, chunkSize: 128 * 1024 }));
  }

  /**
   * `buffers` as one piece. `sum`: the bytes' checksum if the caller has it already; `scratch`: a buffer zlib writes
   * into (used again once this resolves), so that the only buffer allocated is the result, of its exact size.
   */
  async piece(buffers: readonly Buffer[], sum = checksumOf(buffers), scratch?: Buffer): Promise<DeflatedPiece> {
    // One buffer of its own: zlib's output slices each keep their whole output buffer alive, or are of `scratch`.
    const data = Buffer.concat(await this.flushed(buffers, scratch));
    // A sync flush ends the piece on a byte boundary with no final block, so that pieces follow one another. Were
    // the flush's output ever pushed after its callback, the piece would lack its end.
    if (!data.subarray(-4).equals(SYNC_FLUSH_END)) throw new Error('deflate: a piece ended before its sync flush');
    return { data: [data], crc: sum.crc, length: sum.length };
  }
}

/** `buffers` as one piece, in a deflater of its own. */
export async function deflatePiece(buffers: Buffer[]): Promise<DeflatedPiece> {
  const deflater = new PieceDeflater();
  try {
    return await deflater.piece(buffers);
  } finally {
    deflater.close();
  }
}

/** Inflates pieces one after the other in one raw-inflate stream (PieceStream), off the event loop. */
export class PieceInflater extends PieceStream {
  constructor() {
    super(() => createInflateRaw({ chunkSize: 64 }));
  }

  /**
   * The bytes of `piece` inflated into `out` (at least one byte longer than the piece: zlib then inflates it in one
   * go): the slice of `out` they fill. No buffer is allocated for them, so sending a plain body of 196 MB does not
   * add 196 MB of ArrayBuffers for V8 to account — which started 3–5 full marks of the heap per scrape.
   */
  async into(piece: DeflatedPiece, out: Buffer): Promise<Buffer> {
    if (out.length <= piece.length) throw new RangeError(`PieceInflater.into: ${out.length} bytes of room for ${piece.length}`);
    const parts = await this.flushed(piece.data, out);
    const bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    if (bytes.length !== piece.length) throw new Error(`inflate: a piece gave ${bytes.length} bytes, not its ${piece.length}`);
    return bytes;
  }

  /** The bytes of `piece` in a buffer of their own. */
  piece(piece: DeflatedPiece): Promise<Buffer> {
    return this.into(piece, Buffer.allocUnsafe(piece.length + 1));
  }
}

/**
 * Points a zlib stream's output at `out`. Node's zlib streams write from `_outOffset` into `_outBuffer`, `_chunkSize`
 * bytes of room (lib/zlib.js, processChunk), and take a new buffer only once that room is used up. Were these fields
 * ever renamed, zlib would write into buffers of its own: the bytes would be the same (test/exporter/gzip.test.ts
 * checks that they land in `out`).
 */
function outputInto(stream: object, out: Buffer): void {
  Object.assign(stream, { _outBuffer: out, _outOffset: 0, _chunkSize: out.length });
}

const STORED_MAX = 0xffff;

/** `bytes` as stored (uncompressed) deflate blocks: for pieces too small to be worth compressing. */
export function storedPiece(bytes: Buffer): DeflatedPiece {
  const data: Buffer[] = [];
  for (let at = 0; at < bytes.length || at === 0; at += STORED_MAX) {
    const part = bytes.subarray(at, at + STORED_MAX);
    // BFINAL 0, BTYPE 00 (stored), padded to the byte; then LEN and its one's complement, little-endian.
    const head = Buffer.from([0, part.length & 0xff, part.length >>> 8, ~part.length & 0xff, (~part.length >>> 8) & 0xff]);
    data.push(head, part);
    if (bytes.length === 0) break;
  }
  return { data, crc: crc32(bytes), length: bytes.length };
}

const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]); // deflate, no flags, no mtime, Unix
const FINAL_EMPTY_BLOCK = Buffer.from([3, 0]); // BFINAL 1, fixed Huffman, end of block

/** One gzip member made of `pieces`, in order. The pieces' buffers are shared, not copied. */
export function gzipOf(pieces: readonly DeflatedPiece[]): Buffer[] {
  const out: Buffer[] = [GZIP_HEADER];
  let crc = 0;
  let length = 0;
  for (const p of pieces) {
    out.push(...p.data);
    crc = crc32Combine(crc, p.crc, p.length);
    length += p.length;
  }
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(length % 2 ** 32, 4);
  out.push(FINAL_EMPTY_BLOCK, trailer);
  return out;
}

// CRC-32 of A followed by B from crc(A), crc(B) and B's length: zlib's crc32_combine (multiplication modulo the
// CRC polynomial, by x^(8·length)).
const POLY = 0xedb88320;

function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

/** x^(2^k) modulo the polynomial, k = 0..31. */
const X2N: number[] = [];
for (let k = 0, p = 0x40000000; k < 32; k++, p = multModP(p, p)) X2N.push(p);

/** x^(n·2^k) modulo the polynomial. */
function x2nModP(n: number, k: number): number {
  let p = 0x80000000;
  while (n) {
    if (n % 2) p = multModP(X2N[k & 31]!, p);
    n = Math.floor(n / 2);
    k++;
  }
  return p;
}

export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  return (multModP(x2nModP(lengthB, 3), crcA) ^ crcB) >>> 0;
}
