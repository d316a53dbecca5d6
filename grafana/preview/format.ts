// Value formatting for the static preview, close to Grafana's for the units the dashboards use.
import type { ThresholdStep, ValueMapping } from '../lib/model.js';

const IEC = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
const SI_BYTES_RATE = ['B/s', 'kB/s', 'MB/s', 'GB/s', 'TB/s'];
const SHORT = ['', ' K', ' Mil', ' Bil', ' Tri'];

function auto(v: number): number {
  if (Number.isInteger(v)) return 0;
  const a = Math.abs(v);
  return a === 0 || a >= 100 ? 0 : a >= 10 ? 1 : 2;
}

function scaled(v: number, base: number, suffixes: string[], decimals?: number): string {
  let i = 0;
  let x = v;
  while (Math.abs(x) >= base && i < suffixes.length - 1) {
    x /= base;
    i++;
  }
  return `${x.toFixed(decimals ?? auto(x))} ${suffixes[i]}`.replace(/ $/, '');
}

function seconds(v: number, decimals?: number): string {
  const a = Math.abs(v);
  if (a === 0) return '0 s';
  if (a < 1e-3) return `${(v * 1e6).toFixed(decimals ?? auto(v * 1e6))} µs`;
  if (a < 1) return `${(v * 1e3).toFixed(decimals ?? auto(v * 1e3))} ms`;
  if (a < 60) return `${v.toFixed(decimals ?? auto(v))} s`;
  if (a < 3600) return `${(v / 60).toFixed(decimals ?? auto(v / 60))} min`;
  if (a < 86400) return `${(v / 3600).toFixed(decimals ?? auto(v / 3600))} hour`;
  return `${(v / 86400).toFixed(decimals ?? auto(v / 86400))} day`;
}

function durations(v: number): string {
  const units: [number, string][] = [
    [365 * 86400, 'year'],
    [7 * 86400, 'week'],
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
    [1, 'second'],
  ];
  let rest = Math.floor(Math.abs(v));
  const parts: string[] = [];
  for (const [size, name] of units) {
    if (rest >= size && parts.length < 2) {
      const n = Math.floor(rest / size);
      parts.push(`${n} ${name}${n === 1 ? '' : 's'}`);
      rest -= n * size;
    }
  }
  return parts.length ? parts.join(', ') : '0 seconds';
}

export function formatValue(v: number, unit?: string, decimals?: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf';
  switch (unit) {
    case 'percentunit':
      return `${(v * 100).toFixed(decimals ?? (Math.abs(v * 100) < 10 ? 1 : 0))}%`;
    case 'bytes':
      return scaled(v, 1024, IEC, decimals);
    case 'Bps':
      return scaled(v, 1000, SI_BYTES_RATE, decimals);
    case 's':
      return seconds(v, decimals);
    case 'dtdurations':
      return durations(v);
    case 'watt':
      return Math.abs(v) >= 1000 ? `${(v / 1000).toFixed(decimals ?? 2)} kW` : `${v.toFixed(decimals ?? auto(v))} W`;
    case 'celsius':
      return `${v.toFixed(decimals ?? 1)} °C`;
    case 'rotrpm':
      return `${v.toFixed(decimals ?? 0)} rpm`;
    case 'volt':
      return `${v.toFixed(decimals ?? 2)} V`;
    case 'amp':
      return `${v.toFixed(decimals ?? 2)} A`;
    case 'iops':
      return `${scaled(v, 1000, SHORT, decimals)} io/s`;
    case 'ops':
      return `${scaled(v, 1000, SHORT, decimals)} ops/s`;
    case 'none':
      return v.toFixed(decimals ?? auto(v));
    default:
      return scaled(v, 1000, SHORT, decimals);
  }
}

const NAMED: Record<string, string> = {
  green: '#73BF69',
  red: '#F2495C',
  orange: '#FF9830',
  yellow: '#FADE2A',
  blue: '#5794F2',
  purple: '#B877D9',
  text: '#CCCCDC',
  transparent: 'transparent',
};

export function color(c: string | undefined): string {
  if (!c) return NAMED.text!;
  return NAMED[c] ?? c;
}

/** Grafana's classic palette, in order. */
export const PALETTE = [
  '#7EB26D',
  '#EAB839',
  '#6ED0E0',
  '#EF843C',
  '#E24D42',
  '#1F78C1',
  '#BA43A9',
  '#705DA0',
  '#508642',
  '#CCA300',
  '#447EBC',
  '#C15C17',
  '#890F02',
  '#0A437C',
  '#6D1F62',
  '#584477',
];

export function thresholdColor(v: number, steps: ThresholdStep[] | undefined): string | undefined {
  if (!steps?.length) return undefined;
  let c = steps[0]!.color;
  for (const s of steps) if (s.value !== null && v >= s.value) c = s.color;
  return color(c);
}

/** A value mapping's text and colour for a value, if one applies. */
export function mapped(v: number | string, mappings: ValueMapping[] | undefined): { text: string; color?: string } | undefined {
  for (const m of mappings ?? []) {
    if (m.type !== 'value') continue;
    const hit = (m.options as Record<string, { text: string; color?: string }>)[String(v)];
    if (hit) return { text: hit.text, ...(hit.color ? { color: color(hit.color) } : {}) };
  }
  return undefined;
}
