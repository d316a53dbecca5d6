// Byte chunks that rendered bodies are written into, recycled between snapshots: a body of hundreds of MB is
// written into the previous snapshot's chunks once nothing reads them any more, so the process holds one body's
// worth of chunks, not two, and does not ask the allocator for a new body's worth of memory on every poll.

const CHUNK = 1 << 20;

export class ChunkPool {
  private free: Buffer[] = [];

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(CHUNK);
  }

  give(chunks: Buffer[]): void {
    for (const c of chunks) if (c.length === CHUNK) this.free.push(c);
  }

  /** Drop the chunks a render did not need (the body shrank). */
  trim(): void {
    this.free = [];
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

  cut(): Buffer[] {
    this.keepPiece();
    const out = this.pieces;
    this.pieces = [];
    return out;
  }

  private next(min: number): void {
    this.keepPiece();
    this.cur = min > CHUNK ? Buffer.allocUnsafeSlow(min) : this.pool.take();
    this.chunks.push(this.cur);
    this.pos = this.start = 0;
  }

  private keepPiece(): void {
    if (this.pos > this.start) this.pieces.push(this.cur.subarray(this.start, this.pos));
    this.start = this.pos;
  }
}
