// One poll's result: the families and their bodies. Replaced atomically after each poll, so a scrape always sees
// one consistent poll; bodies are assembled once per poll (gzip on the first request that asks for it), never
// once per scrape.
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import type { Family } from './metrics/families.js';
import { openMetricsBuffers, textBuffers } from './metrics/render.js';

export type Format = 'text' | 'openmetrics';

export interface Body {
  buffers: Buffer[];
  length: number;
}

const bodyOf = (buffers: Buffer[]): Body => ({ buffers, length: buffers.reduce((n, b) => n + b.length, 0) });

export class Snapshot {
  private readonly plain = new Map<Format, Body>();
  private readonly gzipped = new Map<Format, Promise<Body>>();

  constructor(
    readonly families: Family[],
    readonly takenAt: number,
    readonly seriesCount: number,
  ) {}

  body(format: Format): Body {
    let b = this.plain.get(format);
    if (!b) {
      b = bodyOf(format === 'text' ? textBuffers(this.families) : openMetricsBuffers(this.families));
      this.plain.set(format, b);
    }
    return b;
  }

  /** Compressed once per snapshot and format, off the event loop (zlib's thread pool); concurrent scrapes share it. */
  gzip(format: Format): Promise<Body> {
    let p = this.gzipped.get(format);
    if (!p) {
      p = new Promise<Body>((resolve, reject) => {
        const out: Buffer[] = [];
        // Level 1: most of the size gain for a third of the CPU of the default level on this repetitive text.
        const gz = createGzip({ level: 1, chunkSize: 256 * 1024 });
        gz.on('data', (c: Buffer) => out.push(c));
        gz.on('end', () => resolve(bodyOf(out)));
        gz.on('error', reject);
        Readable.from(this.body(format).buffers).pipe(gz);
      });
      this.gzipped.set(format, p);
    }
    return p;
  }
}
