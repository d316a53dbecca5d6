// Byte chunks that rendered sample lines are written into. A large body is rendered a batch at a time and each
// batch's chunks come back once its lines are compressed (snapshot.ts), so the same few chunks are written again and
// again, within a poll and from one poll to the next: the allocator is not asked for a body's worth of memory.

const CHUNK = 1 << 20;
/** Free chunks kept for the next batch or poll: two batches' worth (see snapshot.ts). */
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
 * Writes into chunks: `reserve` room for what comes next, then put its pieces (strings as UTF-8, single bytes).
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

  constructor(private readonly pool = new ChunkPool()) {}

  /** Room for `bytes` more bytes in the current chunk. */
  reserve(bytes: number): void {
    if (this.cur.length - this.pos < bytes) this.next(bytes);
  }

  /** Reserve 3 bytes per UTF-16 code unit, 1 for ASCII. */
  put(s: string): void {
    this.pos += this.cur.write(s, this.pos);
  }

  putBytes(b: Uint8Array): void {
    this.cur.set(b, this.pos);
    this.pos += b.length;
  }

  putByte(c: number): void {
    this.cur[this.pos++] = c;
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
