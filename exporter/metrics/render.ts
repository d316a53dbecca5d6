// The Prometheus text format (0.0.4) and OpenMetrics 1.0 share their sample lines; only the family headers and
// the trailing `# EOF` differ. A rendered body is a list of buffers: headers and the families' sample lines, the
// latter written once and shared by both formats.
import { ChunkWriter } from './chunks.js';
import type { Family } from './families.js';

export const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_TEXT = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

export interface RenderedBodies {
  text: Buffer[];
  openmetrics: Buffer[];
}

const escapeHelp = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

export function renderBodies(families: Family[], writer: ChunkWriter): RenderedBodies {
  const text: Buffer[] = [];
  const openmetrics: Buffer[] = [];
  for (const f of families) {
    const help = escapeHelp(f.help);
    // OpenMetrics names a counter family without its `_total` suffix; samples keep it.
    const omName = f.type === 'counter' && f.name.endsWith('_total') ? f.name.slice(0, -6) : f.name;
    f.writeSamples(writer);
    const samples = writer.cut();
    text.push(Buffer.from(`# HELP ${f.name} ${help}\n# TYPE ${f.name} ${f.type}\n`), ...samples);
    openmetrics.push(Buffer.from(`# TYPE ${omName} ${f.type}\n# HELP ${omName} ${help}\n`), ...samples);
  }
  openmetrics.push(Buffer.from('# EOF\n'));
  return { text, openmetrics };
}

export const renderText = (families: Family[]): string => Buffer.concat(renderBodies(families, new ChunkWriter()).text).toString('utf8');
