// The Prometheus text format (0.0.4) and OpenMetrics 1.0 share their sample lines; only the family headers and
// the trailing `# EOF` differ. A family is rendered as its two headers and its sample lines, written once; a body is
// the list of buffers of one format, sharing the sample lines with the other.
import { ChunkWriter } from './chunks.js';
import type { Family } from './families.js';

export const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_TEXT = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

export type Format = 'text' | 'openmetrics';

export interface RenderedFamily {
  name: string;
  header: Record<Format, Buffer>;
  samples: Buffer[];
}

export const OPENMETRICS_EOF = Buffer.from('# EOF\n');

const escapeHelp = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

/** Writes the family's sample lines into `writer`; its headers are buffers of their own. */
export function renderFamily(f: Family, writer: ChunkWriter): RenderedFamily {
  const help = escapeHelp(f.help);
  // OpenMetrics names a counter family without its `_total` suffix; samples keep it.
  const omName = f.type === 'counter' && f.name.endsWith('_total') ? f.name.slice(0, -6) : f.name;
  f.writeSamples(writer);
  return {
    name: f.name,
    header: {
      text: Buffer.from(`# HELP ${f.name} ${help}\n# TYPE ${f.name} ${f.type}\n`),
      openmetrics: Buffer.from(`# TYPE ${omName} ${f.type}\n# HELP ${omName} ${help}\n`),
    },
    samples: writer.cut(),
  };
}

/** The buffers of one format's body. */
export function bodyBuffers(rendered: readonly RenderedFamily[], format: Format): Buffer[] {
  const out = rendered.flatMap((r) => [r.header[format], ...r.samples]);
  if (format === 'openmetrics') out.push(OPENMETRICS_EOF);
  return out;
}

export const renderText = (families: Family[]): string => {
  const writer = new ChunkWriter();
  return Buffer.concat(
    bodyBuffers(
      families.map((f) => renderFamily(f, writer)),
      'text',
    ),
  ).toString('utf8');
};
