// A static HTML rendering of a dashboard from Prometheus query results: panels laid out by gridPos, time series as
// SVG line charts, stats, bar gauges, donuts and tables (with the table transformations the dashboards use). It
// is a preview for the README's pictures, not Grafana: it draws what the queries return, nothing more.
import type { Dashboard, FieldConfig, Panel, Target, ThresholdStep, ValueMapping } from '../lib/model.js';
import type { QueryResult, Sample } from '../lib/prometheus.js';
import { PALETTE, color, formatValue, mapped, thresholdColor } from './format.js';

export interface TargetData {
  target: Target;
  result: QueryResult;
}

export interface RenderInput {
  dashboard: Dashboard;
  /** Panel id → the result of each target (range results for time series, instant results otherwise). */
  data: Map<number, TargetData[]>;
  /** e.g. "$pool=All $host=xcp-host-01" */
  variables: string;
  from: number;
  to: number;
  caption?: string;
  width?: number;
}

const ROW_PX = 30;
const GAP = 6;
const HEADER = 26;

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function legendName(target: Target, metric: Record<string, string>): string {
  if (target.legendFormat) return target.legendFormat.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, l: string) => metric[l] ?? '').trim() || target.refId;
  const labels = Object.entries(metric).filter(([k]) => k !== '__name__');
  // A series with neither name nor labels (an aggregate such as sum(...)) is named by its query, as Grafana does.
  if (!labels.length && !metric.__name__) return target.expr;
  return `${metric.__name__ ?? ''}{${labels.map(([k, v]) => `${k}="${v}"`).join(', ')}}`;
}

function samples(r: QueryResult): Sample[] {
  if (r.resultType === 'scalar' && Array.isArray(r.result)) return [{ metric: {}, value: r.result as [number, string] }];
  return r.resultType === 'vector' || r.resultType === 'matrix' ? (r.result as Sample[]) : [];
}

interface Series {
  name: string;
  points: [number, number][];
  color: string;
}

function override(fc: FieldConfig | undefined, name: string, id: string): unknown {
  for (const o of fc?.overrides ?? []) {
    const hit =
      o.matcher.id === 'byRegexp' ? new RegExp(`^${o.matcher.options as string}$`).test(name) : o.matcher.id === 'byName' && o.matcher.options === name;
    if (!hit) continue;
    const p = o.properties.find((x) => x.id === id);
    if (p) return p.value;
  }
  return undefined;
}

function niceTicks(min: number, max: number, count = 4): number[] {
  if (min === max) {
    const d = Math.abs(min) || 1;
    min -= d / 2;
    max += d / 2;
  }
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return ticks;
}

function timeLabel(t: number): string {
  const d = new Date(t * 1000);
  return `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}:${String(d.getUTCSeconds()).padStart(2, '0')}`;
}

function calc(points: [number, number][], name: string): number {
  const vs = points.map((p) => p[1]).filter(Number.isFinite);
  if (!vs.length) return NaN;
  switch (name) {
    case 'mean':
      return vs.reduce((a, b) => a + b, 0) / vs.length;
    case 'max':
      return Math.max(...vs);
    case 'min':
      return Math.min(...vs);
    case 'sum':
      return vs.reduce((a, b) => a + b, 0);
    default:
      return vs[vs.length - 1]!;
  }
}

const CALC_TITLE: Record<string, string> = { mean: 'Mean', max: 'Max', min: 'Min', sum: 'Total', lastNotNull: 'Last' };

function timeseries(p: Panel, data: TargetData[], w: number, h: number, from: number, to: number): string {
  const fc = p.fieldConfig;
  const unit = fc?.defaults.unit;
  const decimals = fc?.defaults.decimals;
  const custom = (fc?.defaults.custom ?? {}) as { stacking?: { mode: string }; fillOpacity?: number; thresholdsStyle?: { mode: string } };
  const stacked = custom.stacking?.mode === 'normal';
  const series: Series[] = [];
  for (const d of data)
    for (const s of samples(d.result)) {
      const name = legendName(d.target, s.metric);
      const sign = override(fc, name, 'custom.transform') === 'negative-Y' ? -1 : 1;
      const points = (s.values ?? (s.value ? [s.value] : [])).map(([t, v]) => [t, sign * Number(v)] as [number, number]);
      series.push({ name, points, color: PALETTE[series.length % PALETTE.length]! });
    }
  if (!series.length) return noData();
  if (stacked) {
    const acc = new Map<number, number>();
    for (const s of series)
      s.points = s.points.map(([t, v]) => {
        const base = acc.get(t) ?? 0;
        const top = Number.isFinite(v) ? base + v : base;
        acc.set(t, top);
        return [t, top];
      });
  }

  const legend = (p.options?.legend ?? {}) as { displayMode?: string; placement?: string; calcs?: string[] };
  const calcs = legend.calcs ?? [];
  const right = legend.placement === 'right';
  const listMode = legend.displayMode === 'list';
  const legendH = right ? 0 : listMode ? Math.min(40, 16 * Math.ceil(series.length / 8) + 4) : Math.min(h * 0.45, 18 * (series.length + 1) + 4);
  const chartW = right ? Math.floor(w * 0.62) : w;
  const chartH = Math.max(60, h - legendH);

  let lo = Infinity;
  let hi = -Infinity;
  for (const s of series)
    for (const [, v] of s.points)
      if (Number.isFinite(v)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
  if (!Number.isFinite(lo)) [lo, hi] = [0, 1];
  if (fc?.defaults.min !== undefined && !series.some((s) => s.points.some(([, v]) => v < fc.defaults.min!))) lo = Math.min(lo, fc.defaults.min);
  if (fc?.defaults.max !== undefined && hi <= fc.defaults.max)
    hi = Math.max(hi, fc.defaults.max === 1 && hi < 0.5 && unit === 'percentunit' ? hi : fc.defaults.max);
  if (lo > 0 && (fc?.defaults.min !== undefined || unit === 'bytes' || unit === 'Bps' || unit === 'percentunit')) lo = 0;
  // Byte axes step in powers of 1024 (GiB, MiB…), as Grafana's do.
  const scale = unit === 'bytes' ? 1024 ** Math.max(0, Math.floor(Math.log(Math.max(Math.abs(lo), Math.abs(hi), 1)) / Math.log(1024))) : 1;
  const ticks = niceTicks(lo / scale, hi / scale).map((v) => v * scale);
  lo = Math.min(lo, ticks[0]!);
  hi = Math.max(hi, ticks[ticks.length - 1]!);
  const axisW = 62;
  const plotW = chartW - axisW - 8;
  const plotH = chartH - 22;
  const x = (t: number) => axisW + ((t - from) / (to - from)) * plotW;
  const y = (v: number) => 4 + (1 - (v - lo) / (hi - lo || 1)) * plotH;

  const parts: string[] = [];
  for (const t of ticks)
    parts.push(
      `<line x1="${axisW}" x2="${axisW + plotW}" y1="${y(t)}" y2="${y(t)}" class="grid"/><text x="${axisW - 6}" y="${y(t) + 4}" class="tick" text-anchor="end">${esc(formatValue(t, unit, decimals))}</text>`,
    );
  const tcount = Math.max(2, Math.floor(plotW / 110));
  for (let i = 0; i <= tcount; i++) {
    const t = from + ((to - from) * i) / tcount;
    parts.push(`<text x="${x(t)}" y="${plotH + 18}" class="tick" text-anchor="${i === 0 ? 'start' : i === tcount ? 'end' : 'middle'}">${timeLabel(t)}</text>`);
  }
  if (custom.thresholdsStyle?.mode === 'dashed' || custom.thresholdsStyle?.mode === 'line')
    for (const s of fc?.defaults.thresholds?.steps ?? [])
      if (s.value !== null && s.value >= lo && s.value <= hi)
        parts.push(
          `<line x1="${axisW}" x2="${axisW + plotW}" y1="${y(s.value)}" y2="${y(s.value)}" stroke="${color(s.color)}" stroke-dasharray="6 4" stroke-width="1"/>`,
        );
  const fill = (custom.fillOpacity ?? 10) / 100;
  const drawOrder = stacked ? [...series].reverse() : series;
  for (const s of drawOrder) {
    const segs: [number, number][][] = [[]];
    let prevT: number | undefined;
    const step = s.points.length > 1 ? Math.min(...s.points.slice(1).map((pt, i) => pt[0] - s.points[i]![0])) : 0;
    for (const [t, v] of s.points) {
      if (!Number.isFinite(v) || (prevT !== undefined && step > 0 && t - prevT > step * 2.5)) segs.push([]);
      if (Number.isFinite(v)) segs[segs.length - 1]!.push([x(t), y(Math.max(lo, Math.min(hi, v)))]);
      prevT = t;
    }
    for (const seg of segs.filter((g) => g.length)) {
      const line = seg.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' ');
      const base = y(Math.max(lo, Math.min(hi, 0)));
      if (fill > 0 && seg.length > 1)
        parts.push(
          `<polygon points="${seg[0]![0].toFixed(1)},${base} ${line} ${seg[seg.length - 1]![0].toFixed(1)},${base}" fill="${s.color}" fill-opacity="${fill}" stroke="none"/>`,
        );
      if (seg.length === 1) parts.push(`<circle cx="${seg[0]![0]}" cy="${seg[0]![1]}" r="2" fill="${s.color}"/>`);
      else parts.push(`<polyline points="${line}" fill="none" stroke="${s.color}" stroke-width="1.3"/>`);
    }
  }
  const svg = `<svg width="${chartW}" height="${chartH}" class="chart">${parts.join('')}</svg>`;

  // Legend: values as displayed (negative-Y series show their real sign).
  const legendRows = series.map((s, i) => {
    const raw = data.length ? s.points : [];
    const unstacked = stacked ? raw.map(([t, v], k) => [t, v - (i > 0 ? (series[i - 1]!.points[k]?.[1] ?? 0) : 0)] as [number, number]) : raw;
    const sign = override(fc, s.name, 'custom.transform') === 'negative-Y' ? -1 : 1;
    const shown = unstacked.map(([t, v]) => [t, sign * v] as [number, number]);
    const seriesUnit = (override(fc, s.name, 'unit') as string | undefined) ?? unit;
    return { s, values: calcs.map((c) => formatValue(calc(shown, c), seriesUnit, decimals)) };
  });
  let legendHtml: string;
  if (listMode)
    legendHtml = `<div class="legend-list">${legendRows.map(({ s }) => `<span><i style="background:${s.color}"></i>${esc(s.name)}</span>`).join('')}</div>`;
  else
    legendHtml = `<table class="legend"><tr><th></th>${calcs.map((c) => `<th>${CALC_TITLE[c] ?? c}</th>`).join('')}</tr>${legendRows
      .map(
        ({ s, values }) =>
          `<tr><td><i style="background:${s.color}"></i>${esc(s.name)}</td>${values.map((v) => `<td class="num">${esc(v)}</td>`).join('')}</tr>`,
      )
      .join('')}</table>`;
  if (right) return `<div class="ts-right">${svg}<div class="legend-wrap" style="height:${h}px">${legendHtml}</div></div>`;
  return `${svg}<div class="legend-wrap" style="height:${legendH}px">${legendHtml}</div>`;
}

function noData(): string {
  return '<div class="nodata">No data</div>';
}

interface Shown {
  text: string;
  color?: string;
}

function display(
  v: number,
  fc: FieldConfig['defaults'] | undefined,
  mappings?: ValueMapping[],
  steps?: ThresholdStep[],
  unit?: string,
  decimals?: number,
): Shown {
  const m = mapped(v, mappings ?? fc?.mappings);
  if (m) return m;
  return { text: formatValue(v, unit ?? fc?.unit, decimals ?? fc?.decimals), color: thresholdColor(v, steps ?? fc?.thresholds?.steps) };
}

function stat(p: Panel, data: TargetData[], w: number, h: number): string {
  const fc = p.fieldConfig?.defaults;
  const opts = (p.options ?? {}) as { textMode?: string; colorMode?: string };
  const items: { name: string; shown: Shown }[] = [];
  for (const d of data) for (const s of samples(d.result)) items.push({ name: legendName(d.target, s.metric), shown: display(Number(s.value?.[1]), fc) });
  if (!items.length) return `<div class="stat"><div class="stat-value" style="font-size:${Math.min(34, h / 2)}px">${esc(fc?.noValue ?? 'No data')}</div></div>`;
  const cols = Math.min(items.length, Math.max(1, Math.floor(w / 150)));
  const rows = Math.ceil(items.length / cols);
  const cellH = (h - 4) / rows - 4;
  const mode = opts.textMode ?? 'auto';
  const showName = mode === 'value_and_name' || (mode === 'auto' && items.length > 1);
  const bg = opts.colorMode === 'background';
  return `<div class="stat-grid" style="grid-template-columns:repeat(${cols},1fr)">${items
    .map(({ name, shown }) => {
      const c = shown.color ?? color('text');
      const main = mode === 'name' ? name : shown.text;
      const size = Math.max(12, Math.min(cellH * (showName ? 0.45 : 0.6), (w / cols / Math.max(main.length, 3)) * 1.6, 40));
      const style = bg ? `background:${c};color:#fff` : `color:${c}`;
      return `<div class="stat-cell" style="${style};height:${cellH}px">${showName ? `<div class="stat-name">${esc(name)}</div>` : ''}<div class="stat-value" style="font-size:${size}px">${esc(main)}</div></div>`;
    })
    .join('')}</div>`;
}

function bargauge(p: Panel, data: TargetData[], h: number): string {
  const fc = p.fieldConfig?.defaults;
  const items = data.flatMap((d) => samples(d.result).map((s) => ({ name: legendName(d.target, s.metric), v: Number(s.value?.[1]) })));
  if (!items.length) return noData();
  const max = fc?.max ?? Math.max(...items.map((i) => i.v), 1e-9);
  const min = fc?.min ?? 0;
  const rowH = Math.min(26, (h - 6 - 2 * items.length) / items.length);
  return `<div class="bars">${items
    .map(({ name, v }) => {
      const shown = display(v, fc);
      const frac = Math.max(0, Math.min(1, (v - min) / (max - min || 1)));
      return `<div class="bar-row" style="height:${rowH}px"><span class="bar-name">${esc(name)}</span><span class="bar-track"><span class="bar-fill" style="width:${(frac * 100).toFixed(1)}%;background:linear-gradient(90deg, ${shown.color ?? PALETTE[0]}55, ${shown.color ?? PALETTE[0]})"></span></span><span class="bar-value" style="color:${shown.color ?? color('text')}">${esc(shown.text)}</span></div>`;
    })
    .join('')}</div>`;
}

function piechart(p: Panel, data: TargetData[], w: number, h: number): string {
  const fc = p.fieldConfig?.defaults;
  const items = data.flatMap((d) => samples(d.result).map((s) => ({ name: legendName(d.target, s.metric), v: Number(s.value?.[1]) }))).filter((i) => i.v > 0);
  if (!items.length) return noData();
  const total = items.reduce((a, b) => a + b.v, 0);
  const r = Math.min(h, w * 0.5) / 2 - 8;
  const cx = r + 8;
  const cy = h / 2;
  let angle = -Math.PI / 2;
  const arcs = items.map((it, i) => {
    const a = (it.v / total) * Math.PI * 2;
    const c = PALETTE[i % PALETTE.length]!;
    if (items.length === 1) return `<circle cx="${cx}" cy="${cy}" r="${r * 0.8}" fill="none" stroke="${c}" stroke-width="${r * 0.4}"/>`;
    const [x1, y1, x2, y2] = [cx + r * Math.cos(angle), cy + r * Math.sin(angle), cx + r * Math.cos(angle + a), cy + r * Math.sin(angle + a)];
    const [ix1, iy1, ix2, iy2] = [
      cx + r * 0.6 * Math.cos(angle + a),
      cy + r * 0.6 * Math.sin(angle + a),
      cx + r * 0.6 * Math.cos(angle),
      cy + r * 0.6 * Math.sin(angle),
    ];
    const large = a > Math.PI ? 1 : 0;
    angle += a;
    return `<path d="M${x1},${y1} A${r},${r} 0 ${large} 1 ${x2},${y2} L${ix1},${iy1} A${r * 0.6},${r * 0.6} 0 ${large} 0 ${ix2},${iy2} Z" fill="${c}"/>`;
  });
  const legend = items
    .map(
      (it, i) =>
        `<tr><td><i style="background:${PALETTE[i % PALETTE.length]}"></i>${esc(it.name)}</td><td class="num">${esc(formatValue(it.v, fc?.unit, 0))}</td></tr>`,
    )
    .join('');
  return `<div class="pie"><svg width="${2 * r + 16}" height="${h}">${arcs.join('')}</svg><table class="legend">${legend}</table></div>`;
}

type Row = Record<string, string | number>;

/** Prometheus table frames (one per target) → Grafana's merge → filterFieldsByName → convertFieldType → organize. */
export function tableRows(p: Panel, data: TargetData[]): { columns: string[]; rows: Row[] } {
  const single = (p.targets ?? []).length === 1;
  const frames = data
    .map((d) =>
      samples(d.result).map((s) => {
        const row: Row = { Time: Number(s.value?.[0] ?? 0) };
        for (const [k, v] of Object.entries(s.metric)) row[k] = v;
        row[single ? 'Value' : `Value #${d.target.refId}`] = Number(s.value?.[1]);
        return row;
      }),
    )
    .filter((f) => f.length > 0);
  let rows: Row[] = [];
  if (frames.length === 1) rows = frames[0]!;
  else if (frames.length > 1) {
    const fieldSets = frames.map((f) => new Set(f.flatMap((r) => Object.keys(r))));
    const keys = [...fieldSets[0]!].filter((k) => fieldSets.every((s) => s.has(k)));
    const byKey = new Map<string, Row[]>();
    const order: Row[] = [];
    for (const f of frames)
      for (const r of f) {
        const key = keys.map((k) => String(r[k] ?? '')).join('\u0000');
        const list = byKey.get(key) ?? [];
        const target = list.find((e) => Object.entries(r).every(([k, v]) => e[k] === undefined || e[k] === v));
        if (target) Object.assign(target, r);
        else {
          const copy = { ...r };
          list.push(copy);
          order.push(copy);
          byKey.set(key, list);
        }
      }
    rows = order;
  }
  let columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  for (const tr of p.transformations ?? []) {
    if (tr.id === 'filterFieldsByName') {
      const names = (tr.options.include as { names: string[] }).names;
      columns = names.filter((n) => columns.includes(n));
    } else if (tr.id === 'convertFieldType') {
      for (const c of tr.options.conversions as { targetField: string }[])
        for (const r of rows) if (r[c.targetField] !== undefined) r[c.targetField] = Number(r[c.targetField]);
    } else if (tr.id === 'organize') {
      const index = tr.options.indexByName as Record<string, number>;
      const rename = tr.options.renameByName as Record<string, string>;
      columns.sort((a, b) => (index[a] ?? 99) - (index[b] ?? 99));
      rows = rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [rename[k] ?? k, v])));
      columns = columns.map((c) => rename[c] ?? c);
    }
  }
  const sortBy = (p.options?.sortBy as { displayName: string; desc: boolean }[] | undefined)?.[0];
  if (sortBy)
    rows.sort((a, b) => {
      const [x, y] = [a[sortBy.displayName], b[sortBy.displayName]];
      const cmp = typeof x === 'number' && typeof y === 'number' ? x - y : String(x ?? '').localeCompare(String(y ?? ''), 'en', { numeric: true });
      return sortBy.desc ? -cmp : cmp;
    });
  return { columns, rows };
}

function table(p: Panel, data: TargetData[], h: number): string {
  const { columns, rows } = tableRows(p, data);
  if (!rows.length) return noData();
  const fc = p.fieldConfig;
  const prop = (col: string, id: string) => override(fc, col, id);
  const maxRows = Math.max(1, Math.floor((h - 24) / 22));
  const shownRows = rows.slice(0, maxRows);
  const head = `<tr>${columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>`;
  const body = shownRows
    .map(
      (r) =>
        `<tr>${columns
          .map((c) => {
            const v = r[c];
            if (v === undefined || v === '') return '<td></td>';
            const cell = (prop(c, 'custom.cellOptions') as { type?: string } | undefined)?.type;
            const links = prop(c, 'links') as unknown[] | undefined;
            if (typeof v !== 'number') {
              const m = mapped(v, prop(c, 'mappings') as ValueMapping[] | undefined);
              const text = m?.text ?? v;
              return `<td${cell === 'color-background' && m?.color ? ` style="background:${m.color};color:#fff"` : ''}>${links?.length ? `<u>${esc(text)}</u>` : esc(text)}</td>`;
            }
            const shown = display(
              v,
              fc?.defaults,
              prop(c, 'mappings') as ValueMapping[] | undefined,
              (prop(c, 'thresholds') as { steps: ThresholdStep[] } | undefined)?.steps,
              prop(c, 'unit') as string | undefined,
              prop(c, 'decimals') as number | undefined,
            );
            if (cell === 'color-background') return `<td style="background:${shown.color ?? 'transparent'};color:#fff">${esc(shown.text)}</td>`;
            if (cell === 'color-text') return `<td class="num" style="color:${shown.color ?? color('text')}">${esc(shown.text)}</td>`;
            if (cell === 'gauge') {
              const [min, max] = [(prop(c, 'min') as number | undefined) ?? 0, (prop(c, 'max') as number | undefined) ?? 1];
              const frac = Math.max(0, Math.min(1, (v - min) / (max - min || 1)));
              return `<td><div class="gauge"><span class="bar-track"><span class="bar-fill" style="width:${(frac * 100).toFixed(1)}%;background:${shown.color ?? PALETTE[0]}"></span></span><span class="num">${esc(shown.text)}</span></div></td>`;
            }
            return `<td class="num">${esc(shown.text)}</td>`;
          })
          .join('')}</tr>`,
    )
    .join('');
  const more = rows.length > shownRows.length ? `<div class="more">+ ${rows.length - shownRows.length} more rows</div>` : '';
  return `<table class="tbl">${head}${body}</table>${more}`;
}

function panelBody(p: Panel, data: TargetData[], w: number, h: number, from: number, to: number): string {
  switch (p.type) {
    case 'timeseries':
      return timeseries(p, data, w, h, from, to);
    case 'stat':
      return stat(p, data, w, h);
    case 'bargauge':
      return bargauge(p, data, h);
    case 'piechart':
      return piechart(p, data, w, h);
    case 'table':
      return table(p, data, h);
    default:
      return noData();
  }
}

const CSS = `
body{margin:0;background:#111217;color:#ccccdc;font:12px/1.3 Inter,"Helvetica Neue",Arial,sans-serif}
header{padding:10px 12px 6px}
h1{font-size:18px;font-weight:500;margin:0 0 4px;color:#e6e6f0}
.sub{color:#8e8e9e;font-size:12px}
.grid-area{position:relative;margin:0 6px}
.panel{position:absolute;background:#181b1f;border:1px solid #24262b;border-radius:3px;overflow:hidden;box-sizing:border-box}
.panel h2{font-size:12.5px;font-weight:500;margin:0;padding:5px 8px;height:${HEADER - 10}px;color:#d8d9e0;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.row{position:absolute;font-size:14px;font-weight:500;color:#e6e6f0;padding:6px 4px;border-bottom:1px solid #24262b;box-sizing:border-box}
.body{padding:0 6px 4px}
svg.chart text.tick{fill:#8e8e9e;font-size:10.5px}
svg.chart line.grid{stroke:#2a2d33;stroke-width:1}
.legend-wrap{overflow:hidden}
table.legend{border-collapse:collapse;width:100%;font-size:11px}
table.legend th{color:#6e9fff;font-weight:500;text-align:right;padding:0 6px}
table.legend td{padding:0 6px;white-space:nowrap;max-width:420px;overflow:hidden;text-overflow:ellipsis}
table.legend td.num{text-align:right}
i{display:inline-block;width:12px;height:4px;margin:0 6px 2px 0;vertical-align:middle;border-radius:2px}
.legend-list{font-size:11px;line-height:16px}
.legend-list span{margin-right:12px;white-space:nowrap}
.ts-right{display:flex}
.ts-right .legend-wrap{flex:1;overflow:hidden}
.nodata{color:#8e8e9e;display:flex;align-items:center;justify-content:center;height:100%;font-size:14px}
.stat-grid{display:grid;gap:4px;height:100%}
.stat-cell{display:flex;flex-direction:column;align-items:center;justify-content:center;border-radius:2px;overflow:hidden}
.stat-name{font-size:11.5px;opacity:.9;white-space:nowrap}
.stat-value{font-weight:500;white-space:nowrap}
.stat{display:flex;align-items:center;justify-content:center;height:100%;color:#8e8e9e}
.bars{display:flex;flex-direction:column;gap:2px}
.bar-row{display:flex;align-items:center;gap:8px}
.bar-name{width:34%;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;text-align:right;font-size:11.5px}
.bar-track{flex:1;height:70%;background:#22252b;border-radius:2px;position:relative;display:inline-block;min-height:8px}
.bar-fill{position:absolute;left:0;top:0;bottom:0;border-radius:2px}
.bar-value{width:72px;text-align:right;font-weight:500}
.pie{display:flex;align-items:center;gap:12px}
.pie svg{flex-shrink:0}
table.tbl{border-collapse:collapse;width:100%;font-size:11.5px}
table.tbl th{text-align:left;color:#6e9fff;font-weight:500;padding:3px 6px;border-bottom:1px solid #2a2d33;white-space:nowrap}
table.tbl td{padding:2px 6px;border-bottom:1px solid #202226;white-space:nowrap;height:17px}
table.tbl td.num{text-align:right}
table.tbl td u{color:#6e9fff;text-decoration:none}
div.gauge{display:flex;align-items:center;gap:6px;min-width:120px}
div.gauge .bar-track{height:10px}
div.gauge .num{width:44px;text-align:right}
.more{color:#8e8e9e;font-size:11px;padding:2px 6px}
footer{color:#6e6e7e;font-size:11px;padding:4px 12px 10px}
`;

/** Height in pixels of the rendered page (for the screenshot window). */
export function pageHeight(d: Dashboard): number {
  const bottom = Math.max(...d.panels.map((p) => p.gridPos.y + p.gridPos.h));
  return bottom * ROW_PX + 90;
}

export function renderDashboardHtml(o: RenderInput): string {
  const width = o.width ?? 1600;
  const colW = (width - 12) / 24;
  const items: string[] = [];
  for (const p of o.dashboard.panels) {
    const g = p.gridPos;
    const [left, top, w, h] = [g.x * colW, g.y * ROW_PX, g.w * colW - GAP, g.h * ROW_PX - GAP];
    if (p.type === 'row') {
      items.push(`<div class="row" style="left:${left}px;top:${top}px;width:${w}px;height:${h}px">${esc(p.title)}</div>`);
      continue;
    }
    const bodyW = w - 14;
    const bodyH = h - HEADER - 6;
    const body = panelBody(p, o.data.get(p.id) ?? [], bodyW, bodyH, o.from, o.to);
    items.push(
      `<div class="panel" style="left:${left}px;top:${top}px;width:${w}px;height:${h}px" title="${esc(p.description ?? '')}"><h2>${esc(p.title)}</h2><div class="body" style="height:${bodyH}px">${body}</div></div>`,
    );
  }
  const bottom = Math.max(...o.dashboard.panels.map((p) => p.gridPos.y + p.gridPos.h)) * ROW_PX;
  const range = `${new Date(o.from * 1000).toISOString().slice(0, 19).replace('T', ' ')} → ${new Date(o.to * 1000).toISOString().slice(11, 19)} UTC`;
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(o.dashboard.title)}</title><style>${CSS}</style></head><body>
<header><h1>${esc(o.dashboard.title)}</h1><div class="sub">${esc(o.variables)} · ${esc(range)}</div></header>
<div class="grid-area" style="height:${bottom}px">${items.join('\n')}</div>
<footer>${esc(o.caption ?? 'Static preview drawn by grafana/preview from the dashboard JSON and live Prometheus query results (not Grafana itself).')}</footer>
</body></html>`;
}
