// One poll's result: its bodies, gzip and plain, in both formats. Made whole by the poll, then served as it is until
// the next one replaces it, so a scrape always sees one consistent poll and never renders or compresses anything.
// Text and OpenMetrics share their sample lines, plain and compressed: only the family headers differ.
//
// A body that fits in one batch (BATCH_BYTES) is kept plain as well as compressed. A larger one is held only
// compressed (a tenth of the bytes): it is rendered a batch of families at a time, each batch's lines compressed
// (zlib's thread pool) while the next batch renders, and the batch's chunks written again by the batch after next.
// Its lines are compressed in pieces of PIECE_BYTES (the last of a family shorter), each an independent deflate stream:
// a plain scrape of it inflates the next pieces in the thread pool while the socket sends the one before
// (PlainFromPieces) — or, for a body of at most HOLD_PLAIN_MAX_BYTES, inflates it whole once, held from then on while
// plain is asked for (PlainHeldWhenAsked) — and a piece whose bytes are those of the same piece of the previous poll's
// snapshot (same family, same place: inventory families, counters that stay at 0) keeps its compressed bytes instead
// of being compressed again — checked byte for byte, by inflating the old piece (in the thread pool, 2–3× cheaper than
// deflating).
import { Readable, type Writable } from 'node:stream';
import { mapBounded } from '../core/concurrency.js';
import { type ChunkPool, ChunkWriter } from './metrics/chunks.js';
import type { Family } from './metrics/families.js';
import { type DeflatedPiece, PieceDeflater, PieceInflater, checksumOf, deflatePiece, gzipOf, storedPiece } from './metrics/gzip.js';
import { type Format, OPENMETRICS_EOF, type RenderedFamily, bodyBuffers, renderFamily } from './metrics/render.js';

export type { Format } from './metrics/render.js';

/** What a response sends: its length, and a stream of its bytes (a new one per response). */
export interface Body {
  readonly length: number;
  stream(): Readable;
  /** Writes the bytes to `out` without a stream's buffering, then ends it; false if `out` closed first. */
  writeTo(out: Writable): Promise<boolean>;
}

/** Writes `bytes` to `out` and waits until `out` has taken them (its callback): false if `out` closed first. */
function written(out: Writable, bytes: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    if (out.destroyed || out.writableEnded) return resolve(false);
    const closed = () => resolve(false);
    out.once('close', closed);
    out.write(bytes, (err) => {
      out.off('close', closed);
      resolve(!err);
    });
  });
}

/** A body held in memory as buffers. */
export class HeldBody implements Body {
  readonly length: number;

  constructor(readonly buffers: Buffer[]) {
    this.length = buffers.reduce((n, b) => n + b.length, 0);
  }

  stream(): Readable {
    return Readable.from(this.buffers, { objectMode: false });
  }

  /**
   * Every buffer handed to `out` at once, corked (one writev for all, where a stream would send them one by one,
   * each through its own turn of the event loop); `out` keeps references, no copies. Then the end. Settles when `out`
   * finished (true) or closed first (false) — as Node tells: a client that leaves while the bytes wait in the socket's
   * queue still lets the response finish.
   */
  writeTo(out: Writable): Promise<boolean> {
    return new Promise((resolve) => {
      if (out.destroyed || out.writableEnded) return resolve(false);
      const closed = () => resolve(false);
      out.once('close', closed);
      out.cork();
      for (const b of this.buffers) out.write(b);
      out.uncork();
      out.end(() => {
        out.off('close', closed);
        resolve(true);
      });
    });
  }
}

/**
 * Pieces inflated ahead of the one being sent. Two keep the socket fed (one inflating while the other waits to be
 * sent) and leave the rest of the thread pool, and the other core, to the sending and to everything else.
 */
const INFLATE_AHEAD = 2;

/** Inflaters used again from one piece to the next (PieceInflater), at most as many as pieces inflate at once. */
class Inflaters {
  private readonly free: PieceInflater[] = [];
  private readonly all: PieceInflater[] = [];

  /** `piece`'s bytes by a free inflater of this set, or a new one (into `out`, else a buffer of their own). */
  async inflate(piece: DeflatedPiece, out?: Buffer): Promise<Buffer> {
    let inflater = this.free.pop();
    if (!inflater) this.all.push((inflater = new PieceInflater()));
    try {
      return await (out ? inflater.into(piece, out) : inflater.piece(piece));
    } finally {
      this.free.push(inflater);
    }
  }

  close(): void {
    for (const i of this.all) i.close();
  }
}

/** A plain body made from its compressed pieces as it is sent: family headers as they are, sample lines inflated. */
class PlainFromPieces implements Body {
  readonly length: number;

  constructor(private readonly parts: readonly (Buffer | DeflatedPiece)[]) {
    this.length = parts.reduce((n, p) => n + p.length, 0);
  }

  /**
   * Sends the body a piece at a time, each inflated into one of INFLATE_AHEAD + 1 buffers of this response while the
   * one before is written, and used again once `out` has taken its bytes (the write's callback): a plain scrape of
   * 196 MB allocates 3 MiB, not 196 MB of ArrayBuffers, whose accounting made V8 run 3–5 full marks of the poll's
   * heap during each one (--trace-gc, 609k series).
   */
  async writeTo(out: Writable): Promise<boolean> {
    const parts = this.parts;
    const room = parts.reduce((n, p) => Math.max(n, p.length), 1) + 1;
    const free: Buffer[] = [];
    const inflaters = new Inflaters();
    const queue: Promise<{ bytes: Buffer; into?: Buffer }>[] = [];
    let next = 0;
    let ahead = 0;
    const top = () => {
      for (; next < parts.length; next++) {
        const p = parts[next]!;
        if (Buffer.isBuffer(p)) {
          queue.push(Promise.resolve({ bytes: p }));
          continue;
        }
        if (ahead === INFLATE_AHEAD) break;
        ahead++;
        const into = free.pop() ?? Buffer.allocUnsafeSlow(room);
        const inflated = inflaters.inflate(p, into).then((bytes) => ({ bytes, into }));
        // Awaited in turn below; a response closed before then must not leave it unhandled.
        inflated.catch(() => {});
        queue.push(inflated);
      }
    };
    top();
    try {
      while (queue.length) {
        const { bytes, into } = await queue.shift()!;
        if (into) {
          ahead--;
          top();
        }
        if (bytes.length && !(await written(out, bytes))) return false;
        if (into) free.push(into);
      }
    } catch (err) {
      // A piece that does not inflate: the response cannot be whole, so it is cut (the scraper sees a short body);
      // the error is the caller's to report.
      out.destroy();
      throw err;
    } finally {
      // After the last piece; a response closed early stops at the piece being sent, the ones inflating end unread.
      void Promise.allSettled(queue).then(() => inflaters.close());
    }
    out.end();
    return true;
  }

  stream(): Readable {
    const parts = this.parts;
    let next = 0;
    let inflating = 0;
    const ready: Promise<Buffer>[] = [];
    const inflaters = new Inflaters();
    const fill = () => {
      for (; next < parts.length && inflating < INFLATE_AHEAD; next++) {
        const p = parts[next]!;
        if (Buffer.isBuffer(p)) {
          ready.push(Promise.resolve(p));
          continue;
        }
        inflating++;
        const inflated = inflaters.inflate(p).finally(() => inflating--);
        // Awaited in turn below; a response closed before then must not leave it unhandled.
        inflated.catch(() => {});
        ready.push(inflated);
      }
    };
    return new Readable({
      read() {
        fill();
        const b = ready.shift();
        if (!b) return void this.push(null);
        b.then(
          (bytes) => {
            if (this.destroyed) return;
            fill();
            this.push(bytes);
          },
          (err: Error) => this.destroy(err),
        );
      },
      // After the end too (autoDestroy), or when the reader leaves: the inflaters close once their pieces are done.
      destroy(err, callback) {
        void Promise.allSettled(ready).then(() => inflaters.close());
        callback(err);
      },
    });
  }
}

/**
 * A large body's plain bytes, while no scraper asks for them, are not held (a tenth of the memory, compressed): most
 * scrapers ask for gzip. Once one asks, a body of at most this many bytes is inflated whole (in zlib's thread pool,
 * once for both formats: they share their sample lines) and held for the rest of its snapshot's life, and the next
 * snapshot, made while plain is asked for, holds its own as soon as it is made: served from memory like a small one
 * instead of inflated as it is sent, at half the speed (zlib's inflate on a core shared with the scraper). Above it
 * (a 609k-series body is 196 MB) holding would multiply the exporter's memory: inflated as it is sent.
 */
export const HOLD_PLAIN_MAX_BYTES = 64 * 2 ** 20;

/** A large body's plain bytes held once asked for (HOLD_PLAIN_MAX_BYTES), shared by the snapshot's two formats. */
class PlainHolder {
  /** A plain body of this snapshot was asked for: the next snapshot holds its own at once. */
  asked = false;
  /** The held bodies, once inflated. */
  ready: Record<Format, HeldBody> | undefined;
  #holding: Promise<Record<Format, HeldBody>> | undefined;

  constructor(private readonly parts: Record<Format, readonly (Buffer | DeflatedPiece)[]>) {}

  /** Inflates the sample lines once (a failure is not kept: the next request tries again). */
  hold(): Promise<Record<Format, HeldBody>> {
    this.#holding ??= inflatedBodies(this.parts).then(
      (held) => (this.ready = held),
      (err: unknown) => {
        this.#holding = undefined;
        throw err;
      },
    );
    return this.#holding;
  }
}

/** Both formats' plain bodies, each compressed piece inflated once (INFLATE_AHEAD at a time). */
async function inflatedBodies(parts: Record<Format, readonly (Buffer | DeflatedPiece)[]>): Promise<Record<Format, HeldBody>> {
  const pieces = [...new Set(FORMATS.flatMap((f) => parts[f].filter((p): p is DeflatedPiece => !Buffer.isBuffer(p))))];
  const inflated = new Map<DeflatedPiece, Buffer>();
  const inflaters = new Inflaters();
  try {
    await mapBounded(pieces, INFLATE_AHEAD, async (p) => void inflated.set(p, await inflaters.inflate(p)));
  } finally {
    inflaters.close();
  }
  const bodyOf = (f: Format) =>
    heldOf(
      parts[f].map((p) => (Buffer.isBuffer(p) ? p : inflated.get(p)!)),
      JOIN_PLAIN_BELOW,
    );
  return { text: bodyOf('text'), openmetrics: bodyOf('openmetrics') };
}

/** A large plain body that may be held (HOLD_PLAIN_MAX_BYTES): the first request inflates it whole, then sends it held. */
class PlainHeldWhenAsked implements Body {
  readonly length: number;

  constructor(
    private readonly holder: PlainHolder,
    private readonly format: Format,
    /** Inflated as it is sent: where a piece that does not inflate shows, as it would without holding. */
    private readonly fromPieces: PlainFromPieces,
  ) {
    this.length = fromPieces.length;
  }

  async writeTo(out: Writable): Promise<boolean> {
    const held = await this.holder.hold().catch(() => undefined);
    return held ? held[this.format].writeTo(out) : this.fromPieces.writeTo(out);
  }

  stream(): Readable {
    const { holder, format, fromPieces } = this;
    return Readable.from(
      (async function* () {
        const held = await holder.hold().catch(() => undefined);
        yield* held ? held[format].buffers : fromPieces.stream();
      })(),
      { objectMode: false },
    );
  }
}

/**
 * Runs of small buffers (family headers, short families) are joined: one socket write each instead of hundreds.
 * Joined bytes are copies, not shared between the formats: in gzip bodies only the smallest pieces are joined.
 */
const JOIN_PLAIN_BELOW = 64 * 1024;
const JOIN_GZIP_BELOW = 4 * 1024;

function heldOf(pieces: Buffer[], joinBelow: number): HeldBody {
  const buffers: Buffer[] = [];
  let run: Buffer[] = [];
  let runLength = 0;
  const endRun = () => {
    if (run.length) buffers.push(run.length === 1 ? run[0]! : Buffer.concat(run, runLength));
    run = [];
    runLength = 0;
  };
  for (const b of pieces) {
    if (b.length >= joinBelow) {
      endRun();
      buffers.push(b);
      continue;
    }
    run.push(b);
    runLength += b.length;
    if (runLength >= joinBelow) endRun();
  }
  endRun();
  return new HeldBody(buffers);
}

const FORMATS: readonly Format[] = ['text', 'openmetrics'];
/** Sample lines rendered before they are compressed and their chunks reused; a body this small is kept plain. */
const BATCH_BYTES = 8 * 2 ** 20;
/** Pieces compressed at once: one per core keeps the thread pool free for the rest (DNS, files). */
const COMPRESS_CONCURRENCY = 2;
/**
 * Sample lines compressed as one piece: large enough that starting a new deflate stream costs nothing measurable in
 * size, small enough that a plain scrape sends its first bytes after inflating one and inflates the rest as it sends.
 * A family's pieces start at multiples of it from the family's first byte, so that the same lines make the same
 * pieces from one poll to the next, wherever the render's chunks happened to end.
 */
const PIECE_BYTES = 2 ** 20;
/** Room zlib writes a piece into, compressed (at most a little over its size) or inflated (its size and one byte). */
const SCRATCH_BYTES = PIECE_BYTES + 64 * 1024;

/** A family once its sample lines are compressed: the chunks they were written in are free again. */
interface CompressedFamily {
  name: string;
  header: Record<Format, Buffer>;
  samples: DeflatedPiece[];
}

/** A large body's compressed sample lines by family name: what the next poll may reuse. */
export type PiecesByFamily = ReadonlyMap<string, readonly DeflatedPiece[]>;

let made = 0;

export class Snapshot {
  private constructor(
    /** Snapshots in the order their polls started making them. */
    readonly generation: number,
    readonly takenAt: number,
    readonly seriesCount: number,
    private readonly plain: Record<Format, Body>,
    private readonly gzipped: Record<Format, HeldBody>,
    /** Compressed sample lines by family (large bodies only), for the next snapshot to reuse. */
    readonly pieces: PiecesByFamily = new Map(),
    /** Bytes of sample lines whose compressed pieces were taken from the previous snapshot. */
    readonly reusedBytes = 0,
    /** A large body's plain bytes, held once asked for (at most HOLD_PLAIN_MAX_BYTES); undefined: never held. */
    private readonly holder?: PlainHolder,
  ) {}

  /**
   * Renders and compresses `families`, yielding to the event loop between batches. `previous`: the snapshot served
   * until now, whose unchanged pieces are reused (never referenced by the new one otherwise); if a plain body of it
   * was asked for, the new one starts holding its own (HOLD_PLAIN_MAX_BYTES, the default of `holdPlainMaxBytes`).
   */
  static async make(
    families: Family[],
    takenAt: number,
    seriesCount: number,
    pool: ChunkPool,
    previous?: Snapshot,
    holdPlainMaxBytes = HOLD_PLAIN_MAX_BYTES,
  ): Promise<Snapshot> {
    const generation = ++made;
    const reuse: Reuse = {
      from: previous?.pieces ?? new Map(),
      bytes: 0,
      workers: Array.from({ length: COMPRESS_CONCURRENCY }, () => ({
        scratch: Buffer.allocUnsafeSlow(SCRATCH_BYTES),
        deflater: new PieceDeflater(),
        inflater: new PieceInflater(),
      })),
    };
    let snapshot: Snapshot;
    try {
      snapshot = await Snapshot.rendered(families, takenAt, seriesCount, pool, generation, reuse, holdPlainMaxBytes);
    } finally {
      for (const w of reuse.workers) {
        w.deflater.close();
        w.inflater.close();
      }
    }
    // In zlib's thread pool, while the snapshot is already served; a failure shows to the request that meets it.
    if (previous?.holder?.asked) snapshot.holder?.hold().catch(() => undefined);
    return snapshot;
  }

  private static async rendered(
    families: Family[],
    takenAt: number,
    seriesCount: number,
    pool: ChunkPool,
    generation: number,
    reuse: Reuse,
    holdPlainMaxBytes: number,
  ): Promise<Snapshot> {
    const compressed: CompressedFamily[] = [];
    let batch: RenderedFamily[] = [];
    let writer = new ChunkWriter(pool);
    let compressing: Promise<void> = Promise.resolve();
    for (const f of families) {
      batch.push(renderFamily(f, writer));
      if (writer.written < BATCH_BYTES) continue;
      // The batch before compresses while this one rendered; at most two batches' chunks are in use.
      await compressing;
      compressing = compressBatch(batch, writer.chunks, pool, compressed, reuse);
      batch = [];
      writer = new ChunkWriter(pool);
    }
    await compressing;
    if (compressed.length === 0) {
      // Everything fits in one batch: kept plain; each format compressed whole (better than family by family, whose
      // headers and short families would cost more than sharing saves at this size).
      const plain = { text: heldOf(bodyBuffers(batch, 'text'), JOIN_PLAIN_BELOW), openmetrics: heldOf(bodyBuffers(batch, 'openmetrics'), JOIN_PLAIN_BELOW) };
      const [text, openmetrics] = await Promise.all(FORMATS.map(async (f) => heldOf(gzipOf([await deflatePiece(plain[f].buffers)]), JOIN_GZIP_BELOW)));
      return new Snapshot(generation, takenAt, seriesCount, plain, { text: text!, openmetrics: openmetrics! });
    }
    if (batch.length) await compressBatch(batch, writer.chunks, pool, compressed, reuse);
    const gzipped = { text: gzipBody(compressed, 'text'), openmetrics: gzipBody(compressed, 'openmetrics') };
    const parts = { text: bodyParts(compressed, 'text'), openmetrics: bodyParts(compressed, 'openmetrics') };
    const fromPieces = { text: new PlainFromPieces(parts.text), openmetrics: new PlainFromPieces(parts.openmetrics) };
    const pieces = new Map(compressed.map((c) => [c.name, c.samples]));
    if (Math.max(fromPieces.text.length, fromPieces.openmetrics.length) > holdPlainMaxBytes)
      return new Snapshot(generation, takenAt, seriesCount, fromPieces, gzipped, pieces, reuse.bytes);
    const holder = new PlainHolder(parts);
    const plain = {
      text: new PlainHeldWhenAsked(holder, 'text', fromPieces.text),
      openmetrics: new PlainHeldWhenAsked(holder, 'openmetrics', fromPieces.openmetrics),
    };
    return new Snapshot(generation, takenAt, seriesCount, plain, gzipped, pieces, reuse.bytes, holder);
  }

  /**
   * The plain body of `format`. Asking for it to send it is what makes a large one held (HOLD_PLAIN_MAX_BYTES);
   * `sending: false` (a HEAD request: its length only) does not, or a probe's HEAD would keep a large body in memory.
   */
  body(format: Format, sending = true): Body {
    if (!this.holder) return this.plain[format];
    if (sending) this.holder.asked = true;
    return this.holder.ready?.[format] ?? this.plain[format];
  }

  /** The gzip body of `format`, made by the poll. */
  gzip(format: Format): HeldBody {
    return this.gzipped[format];
  }
}

/** The previous snapshot's pieces, the bytes reused from them so far, and each compressing worker's buffer and streams. */
interface Reuse {
  from: PiecesByFamily;
  bytes: number;
  workers: { scratch: Buffer; deflater: PieceDeflater; inflater: PieceInflater }[];
}

/** `samples` cut at every `size` bytes from their start: each piece the buffers (or parts of them) it spans. */
export function cutPieces(samples: readonly Buffer[], size: number): Buffer[][] {
  const out: Buffer[][] = [];
  let piece: Buffer[] = [];
  let room = size;
  for (let b of samples) {
    while (b.length > room) {
      piece.push(b.subarray(0, room));
      out.push(piece);
      piece = [];
      b = b.subarray(room);
      room = size;
    }
    if (b.length) piece.push(b);
    room -= b.length;
    if (room === 0) {
      out.push(piece);
      piece = [];
      room = size;
    }
  }
  if (piece.length) out.push(piece);
  return out;
}

/** Whether `bytes` are the bytes of `buffers`, in order. */
function sameBytes(bytes: Buffer, buffers: readonly Buffer[]): boolean {
  let at = 0;
  for (const b of buffers) {
    if (!bytes.subarray(at, at + b.length).equals(b)) return false;
    at += b.length;
  }
  return at === bytes.length;
}

/**
 * Compresses each family's lines of `batch` (appended to `out` in order), then gives `chunks` back to the pool. A
 * piece of the same family and place in `reuse.from`, with the same CRC and length, is inflated and compared; if
 * its bytes are these, it is kept instead of compressing these again.
 */
async function compressBatch(batch: RenderedFamily[], chunks: Buffer[], pool: ChunkPool, out: CompressedFamily[], reuse: Reuse): Promise<void> {
  const pieces: { family: number; buffers: Buffer[]; sum: { crc: number; length: number }; before?: DeflatedPiece }[] = [];
  batch.forEach((f, family) => {
    const before = reuse.from.get(f.name);
    for (const [i, buffers] of cutPieces(f.samples, PIECE_BYTES).entries()) pieces.push({ family, buffers, sum: checksumOf(buffers), before: before?.[i] });
  });
  const deflated: DeflatedPiece[] = new Array(pieces.length);
  // zlib writes into the worker's scratch buffer: ArrayBuffers allocated are the compressed pieces alone (V8 runs a
  // full mark of the heap for about every 64 MB of them).
  const one = async (p: (typeof pieces)[number], { scratch, deflater, inflater }: Reuse['workers'][number]): Promise<DeflatedPiece> => {
    const was = p.before;
    if (was && was.crc === p.sum.crc && was.length === p.sum.length && sameBytes(await inflater.into(was, scratch), p.buffers)) {
      reuse.bytes += was.length;
      return was;
    }
    return deflater.piece(p.buffers, p.sum, scratch);
  };
  let next = 0;
  const worker = async (w: Reuse['workers'][number]) => {
    for (let i = next++; i < pieces.length; i = next++) deflated[i] = await one(pieces[i]!, w);
  };
  await Promise.all(reuse.workers.slice(0, pieces.length).map(worker));
  const families: CompressedFamily[] = batch.map((f) => ({ name: f.name, header: f.header, samples: [] }));
  for (const [i, p] of pieces.entries()) families[p.family]!.samples.push(deflated[i]!);
  out.push(...families);
  pool.give(chunks);
}

/** A large body's parts in order: family headers (plain) and compressed sample lines. */
function bodyParts(families: CompressedFamily[], format: Format): (Buffer | DeflatedPiece)[] {
  const parts = families.flatMap((c) => [c.header[format], ...c.samples]);
  if (format === 'openmetrics') parts.push(OPENMETRICS_EOF);
  return parts;
}

function gzipBody(families: CompressedFamily[], format: Format): HeldBody {
  const pieces = bodyParts(families, format).map((p) => (Buffer.isBuffer(p) ? storedPiece(p) : p));
  return heldOf(gzipOf(pieces), JOIN_GZIP_BELOW);
}
