// One poll's result: its rendered bodies. Replaced atomically after each poll, so a scrape always sees one
// consistent poll; the sample lines are written once per poll (gzip on the first request that asks for it), never
// once per scrape. A replaced snapshot gives its chunks back for the next render once no response or compression
// still reads them.
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { type ChunkPool, ChunkWriter } from './metrics/chunks.js';
import type { Family } from './metrics/families.js';
import { renderBodies } from './metrics/render.js';

export type Format = 'text' | 'openmetrics';

export interface Body {
  buffers: Buffer[];
  length: number;
}

const bodyOf = (buffers: Buffer[]): Body => ({ buffers, length: buffers.reduce((n, b) => n + b.length, 0) });

export class Snapshot {
  private readonly plain: Record<Format, Body>;
  private readonly gzipped = new Map<Format, Promise<Body>>();
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
    const bodies = renderBodies(families, writer);
    pool.trim();
    this.chunks = writer.chunks;
    this.plain = { text: bodyOf(bodies.text), openmetrics: bodyOf(bodies.openmetrics) };
  }

  body(format: Format): Body {
    return this.plain[format];
  }

  /** Compressed once per snapshot and format, off the event loop (zlib's thread pool); concurrent scrapes share it. */
  gzip(format: Format): Promise<Body> {
    let p = this.gzipped.get(format);
    if (!p) {
      const done = this.read();
      p = new Promise<Body>((resolve, reject) => {
        const out: Buffer[] = [];
        // Level 1: most of the size gain for a third of the CPU of the default level on this repetitive text.
        const gz = createGzip({ level: 1, chunkSize: 256 * 1024 });
        gz.on('data', (c: Buffer) => out.push(c));
        gz.on('end', () => resolve(bodyOf(out)));
        gz.on('error', reject);
        Readable.from(this.body(format).buffers).pipe(gz);
      }).finally(done);
      this.gzipped.set(format, p);
    }
    return p;
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
