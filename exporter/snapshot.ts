// One poll's result: its rendered bodies, plain and gzip. Replaced atomically after each poll, so a scrape always
// sees one consistent poll; the sample lines are written once per poll and compressed once per poll (by the poll,
// in zlib's thread pool), never once per scrape. Text and OpenMetrics share their sample bytes, plain and
// compressed: only the family headers differ. A replaced snapshot gives its chunks back for the next render once no
// response or compression still reads them; its gzip bodies are buffers of their own.
import { mapSettledLimit } from '../core/concurrency.js';
import { type ChunkPool, ChunkWriter } from './metrics/chunks.js';
import type { Family } from './metrics/families.js';
import { type DeflatedPiece, deflatePiece, gzipOf, storedPiece } from './metrics/gzip.js';
import { type Format, OPENMETRICS_EOF, type RenderedFamily, bodyBuffers, renderFamilies } from './metrics/render.js';

export type { Format } from './metrics/render.js';

export interface Body {
  buffers: Buffer[];
  length: number;
}

/**
 * Runs of small buffers (family headers, short families) are joined: one socket write each instead of hundreds.
 * Joined bytes are copies, not shared between the formats: in gzip bodies only the smallest pieces are joined.
 */
const JOIN_PLAIN_BELOW = 64 * 1024;
const JOIN_GZIP_BELOW = 4 * 1024;

function bodyOf(pieces: Buffer[], joinBelow = JOIN_PLAIN_BELOW): Body {
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
  return { buffers, length: buffers.reduce((n, b) => n + b.length, 0) };
}

const FORMATS: readonly Format[] = ['text', 'openmetrics'];
/** From this size on, the formats share their compressed sample lines (family by family). */
const SHARE_ABOVE_BYTES = 4 * 2 ** 20;
/** Families compressed at once: one per core keeps the thread pool free for the rest (DNS, files). */
const COMPRESS_CONCURRENCY = 2;

let made = 0;

export class Snapshot {
  /** Snapshots in the order they were made. */
  readonly generation = ++made;
  private readonly rendered: RenderedFamily[];
  private readonly plain: Record<Format, Body>;
  private gzipped?: Promise<Record<Format, Body>>;
  private readonly chunks: Buffer[];
  private readers = 0;
  private retired = false;

  constructor(
    families: Family[],
    readonly takenAt: number,
    readonly seriesCount: number,
    private readonly pool: ChunkPool,
  ) {
    const writer = new ChunkWriter(pool);
    this.rendered = renderFamilies(families, writer);
    pool.trim();
    this.chunks = writer.chunks;
    this.plain = { text: bodyOf(bodyBuffers(this.rendered, 'text')), openmetrics: bodyOf(bodyBuffers(this.rendered, 'openmetrics')) };
  }

  body(format: Format): Body {
    return this.plain[format];
  }

  /**
   * The gzip body of `format`. Both formats are compressed together, once per snapshot: the poll asks right after
   * the render, so a scrape finds them made (or waits for the poll's compression; it never starts one of its own).
   */
  gzip(format: Format): Promise<Body> {
    this.gzipped ??= this.compress();
    return this.gzipped.then((bodies) => bodies[format]);
  }

  private async compress(): Promise<Record<Format, Body>> {
    const done = this.read();
    try {
      // A small body is compressed whole, once per format: family by family, its headers (stored) and short families
      // would cost more than the copy saves.
      if (this.plain.text.length < SHARE_ABOVE_BYTES) {
        const [text, openmetrics] = await Promise.all(FORMATS.map(async (f) => bodyOf(gzipOf([await deflatePiece(this.plain[f].buffers)]), JOIN_GZIP_BELOW)));
        return { text: text!, openmetrics: openmetrics! };
      }
      const settled = await mapSettledLimit(this.rendered, COMPRESS_CONCURRENCY, (r) => deflatePiece(r.samples));
      const samples = settled.map((s) => {
        if (s.status === 'rejected') throw s.reason;
        return s.value;
      });
      const gzipBody = (format: Format) => {
        const pieces: DeflatedPiece[] = this.rendered.flatMap((r, i) => [storedPiece(r.header[format]), samples[i]!]);
        if (format === 'openmetrics') pieces.push(storedPiece(OPENMETRICS_EOF));
        return bodyOf(gzipOf(pieces), JOIN_GZIP_BELOW);
      };
      return { text: gzipBody('text'), openmetrics: gzipBody('openmetrics') };
    } finally {
      done();
    }
  }

  /** Marks the plain bodies as being read; call the returned function (once) when done. */
  read(): () => void {
    this.readers++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.readers--;
      this.recycle();
    };
  }

  /** No longer served: the chunks go back to the pool as soon as nothing reads them. */
  retire(): void {
    this.retired = true;
    this.recycle();
  }

  private recycle(): void {
    if (this.retired && this.readers === 0 && this.chunks.length) this.pool.give(this.chunks.splice(0));
  }
}
