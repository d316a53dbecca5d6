// Render families as the Prometheus text format (0.0.4) or OpenMetrics 1.0. Done once per poll; scrapes are
// served from the result.
import type { Family } from './families.js';

export const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_TEXT = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

const escapeHelp = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

export function renderText(families: Family[]): string {
  const parts: string[] = [];
  for (const f of families) {
    parts.push(`# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`);
    writeSamples(parts, f);
  }
  return parts.join('');
}

/** OpenMetrics names a counter family without its `_total` suffix; samples keep it. Ends with `# EOF`. */
export function renderOpenMetrics(families: Family[]): string {
  const parts: string[] = [];
  for (const f of families) {
    const name = f.type === 'counter' && f.name.endsWith('_total') ? f.name.slice(0, -6) : f.name;
    parts.push(`# TYPE ${name} ${f.type}\n# HELP ${name} ${escapeHelp(f.help)}\n`);
    writeSamples(parts, f);
  }
  parts.push('# EOF\n');
  return parts.join('');
}

function writeSamples(parts: string[], f: Family): void {
  const { name, labels, values } = f;
  for (let i = 0; i < values.length; i++) {
    const l = labels[i];
    parts.push(l ? `${name}{${l}} ${formatValue(values[i]!)}\n` : `${name} ${formatValue(values[i]!)}\n`);
  }
}
