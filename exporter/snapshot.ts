// One poll's result: the families and their rendered bodies. Replaced atomically after each poll, so a scrape
// always sees one consistent poll, and the text is rendered once per poll, not once per scrape.
import { gzipSync } from 'node:zlib';
import type { Family } from './metrics/families.js';
import { renderOpenMetrics, renderText } from './metrics/render.js';

export type Format = 'text' | 'openmetrics';

export class Snapshot {
  private readonly bodies = new Map<string, Buffer>();

  constructor(
    readonly families: Family[],
    readonly takenAt: number,
    readonly seriesCount: number,
  ) {
    // The common format is ready before the first scrape asks for it.
    this.body('text', false);
  }

  /** The rendered body, optionally gzipped; each variant is made once and kept. */
  body(format: Format, gzip: boolean): Buffer {
    const key = `${format}:${gzip}`;
    let b = this.bodies.get(key);
    if (!b) {
      if (gzip) b = gzipSync(this.body(format, false), { level: 6 });
      else b = Buffer.from(format === 'text' ? renderText(this.families) : renderOpenMetrics(this.families));
      this.bodies.set(key, b);
    }
    return b;
  }
}
