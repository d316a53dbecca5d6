// Buffers reused for response bodies that are read whole and parsed at once (a host's /rrd_updates: ~1.5 MB per
// 160-VM host, every host every poll). Concatenated, each body costs its chunks plus their concatenation in
// external memory, ~2 × 96 MB per poll at 64 hosts, which is what started V8's "external memory pressure"
// mark-compacts. A body is copied chunk by chunk into a buffer taken from the pool (grown when too small, never past
// the request's maxBodyBytes), given to its reader, and the buffer goes back to the pool when the reader returns: a
// reader copies what it keeps and never keeps a view into the body.

/** At most `slots` buffers are kept (one per fetch in flight); a buffer taken beyond them is dropped on return. */
export class BodyPool {
  private readonly free: Buffer[] = [];

  constructor(readonly slots: number) {}

  /** A buffer of at least `size` bytes that no one else holds until it is given back. */
  take(size: number): Buffer {
    const buf = this.free.pop();
    // Grow-only: a buffer too small is dropped for one of the size asked.
    return buf && buf.length >= size ? buf : Buffer.allocUnsafeSlow(size);
  }

  give(buf: Buffer): void {
    if (this.free.length < this.slots && !this.free.includes(buf)) this.free.push(buf);
  }

  /** Bytes held by the free buffers (tests, benchmarks). */
  heldBytes(): number {
    return this.free.reduce((n, b) => n + b.length, 0);
  }
}

/** Where a response's body goes while it arrives. */
export interface BodySink {
  /** The response's Content-Length (NaN when it has none), before any chunk. */
  expect?(contentLength: number): void;
  add(chunk: Buffer): void;
  /** The whole body, once it has ended. */
  body(): Buffer;
  /** Done with the body: a pooled buffer is free again. */
  release(): void;
}

/** The chunks, concatenated at the end (a body the caller keeps). */
export class ConcatSink implements BodySink {
  private readonly chunks: Buffer[] = [];

  add(chunk: Buffer): void {
    this.chunks.push(chunk);
  }

  body(): Buffer {
    return Buffer.concat(this.chunks);
  }

  release(): void {}
}

const FIRST_SIZE = 256 * 1024;

/** Each chunk copied into a buffer of `pool`: sized from Content-Length when there is one, else doubled as needed, up
 * to `maxBytes` (the request refuses a larger body before it gets here). */
export class PooledSink implements BodySink {
  private buf: Buffer | undefined;
  private size = 0;

  constructor(
    private readonly pool: BodyPool,
    private readonly maxBytes = Number.POSITIVE_INFINITY,
  ) {}

  /** The announced length, when the response has a valid one: the buffer is taken at that size. */
  expect(contentLength: number): void {
    if (!this.buf && Number.isSafeInteger(contentLength) && contentLength > 0) this.buf = this.pool.take(Math.min(contentLength, this.maxBytes));
  }

  add(chunk: Buffer): void {
    const need = this.size + chunk.length;
    let buf = this.buf ?? this.pool.take(Math.min(Math.max(need, FIRST_SIZE), this.maxBytes));
    if (need > buf.length) {
      // The announced length was wrong, or there was none: a larger buffer replaces this one (the pool keeps the larger).
      const larger = this.pool.take(Math.min(Math.max(need, buf.length * 2), Math.max(need, this.maxBytes)));
      buf.copy(larger, 0, 0, this.size);
      buf = larger;
    }
    this.buf = buf;
    chunk.copy(buf, this.size);
    this.size = need;
  }

  body(): Buffer {
    return this.buf ? this.buf.subarray(0, this.size) : Buffer.alloc(0);
  }

  release(): void {
    if (this.buf) this.pool.give(this.buf);
    this.buf = undefined;
    this.size = 0;
  }
}
