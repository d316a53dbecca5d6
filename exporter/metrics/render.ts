// The Prometheus text format (0.0.4) and OpenMetrics 1.0 share their sample lines; only the family headers and
// the trailing `# EOF` differ. A rendered body is a list of buffers: headers and the families' own chunks.
import type { Family } from './families.js';

export const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_TEXT = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

const escapeHelp = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

export function textBuffers(families: Family[]): Buffer[] {
  const out: Buffer[] = [];
  for (const f of families) {
    out.push(Buffer.from(`# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`));
    out.push(...f.sampleBuffers());
  }
  return out;
}

/** OpenMetrics names a counter family without its `_total` suffix; samples keep it. Ends with `# EOF`. */
export function openMetricsBuffers(families: Family[]): Buffer[] {
  const out: Buffer[] = [];
  for (const f of families) {
    const name = f.type === 'counter' && f.name.endsWith('_total') ? f.name.slice(0, -6) : f.name;
    out.push(Buffer.from(`# TYPE ${name} ${f.type}\n# HELP ${name} ${escapeHelp(f.help)}\n`));
    out.push(...f.sampleBuffers());
  }
  out.push(Buffer.from('# EOF\n'));
  return out;
}

export const renderText = (families: Family[]): string => Buffer.concat(textBuffers(families)).toString('utf8');
export const renderOpenMetrics = (families: Family[]): string => Buffer.concat(openMetricsBuffers(families)).toString('utf8');
