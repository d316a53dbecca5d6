// Panel builders: a dashboard definition describes each panel with a small spec (title, description, queries, unit,
// size); these helpers turn specs into Grafana JSON with consistent defaults, and lay them out row by row.
//
// Every panel says whether it must show data when the bundle runs against the simulator ("core") or what it
// needs first (`needs`): the live test (test/grafana/live.test.ts) runs every query against a real Prometheus and
// fails when a core panel, or a panel whose need is met, returns nothing.
import { DATASOURCE, type DataLink, type FieldConfig, type Panel, type Target, type ThresholdStep, type Unit, type ValueMapping } from './model.js';

/**
 * What a non-core panel waits for. `ipmi`/`smart`: the exporter's hardware collectors (docs/METRICS.md,
 * "Hardware"); `recovery`: a scraped recovery hook; `rules`: the alert rules loaded in Prometheus.
 */
export type Need = 'ipmi' | 'smart' | 'recovery' | 'rules';

export interface TargetSpec {
  expr: string;
  legend?: string;
  /** Why this query may legitimately return nothing even in a core panel (e.g. "only SRs that are filling"). */
  optional?: string;
}

interface CommonSpec {
  title: string;
  /** Shown as the panel's (i) tooltip; mandatory. */
  description: string;
  w: number;
  h: number;
  targets: TargetSpec[];
  unit?: Unit;
  decimals?: number;
  min?: number;
  max?: number;
  thresholds?: ThresholdStep[];
  mappings?: ValueMapping[];
  /** Data links on the values (e.g. host → host dashboard). */
  links?: DataLink[];
  needs?: Need;
}

export interface TimeseriesSpec extends CommonSpec {
  kind: 'timeseries';
  stack?: boolean;
  /** Series whose display name matches this regexp are drawn below zero (transmit, write). */
  negativeY?: string;
  /** Series whose display name matches `match` use another unit, on a right-hand axis. */
  rightAxis?: { match: string; unit: Unit };
  fill?: number;
  thresholdsStyle?: 'off' | 'line' | 'dashed' | 'area';
  legendCalcs?: string[];
  legendRight?: boolean;
  /** `list` for panels with many series (one per CPU core). */
  legendMode?: 'table' | 'list';
  axisLabel?: string;
}

export interface StatSpec extends CommonSpec {
  kind: 'stat';
  /** `name` shows the legend instead of the value (e.g. a power state carried by a label). */
  textMode?: 'auto' | 'value' | 'value_and_name' | 'name';
  colorMode?: 'value' | 'background' | 'none';
  graph?: boolean;
  noValue?: string;
}

export interface BarGaugeSpec extends CommonSpec {
  kind: 'bargauge';
}

export interface PieSpec extends CommonSpec {
  kind: 'piechart';
}

export interface Column {
  /** Field name in the query result: a label name, or `Value #<refId>`. */
  field: string;
  title: string;
  unit?: Unit;
  decimals?: number;
  mappings?: ValueMapping[];
  thresholds?: ThresholdStep[];
  /** How the cell is drawn: coloured background (by thresholds/mappings), a gauge bar, or plain text. */
  cell?: 'color-background' | 'color-text' | 'gauge';
  min?: number;
  max?: number;
  links?: DataLink[];
  width?: number;
}

export interface TableSpec extends Omit<CommonSpec, 'unit' | 'thresholds' | 'mappings' | 'links'> {
  kind: 'table';
  /** Only these fields are shown, in this order. Each target is an instant query in table format. */
  columns: Column[];
  sortBy?: { title: string; desc: boolean };
  /** Label columns holding numbers (e.g. capacity_bytes), converted so units apply. */
  numericLabels?: string[];
}

export type PanelSpec = TimeseriesSpec | StatSpec | BarGaugeSpec | PieSpec | TableSpec;

export interface RowSpec {
  title: string;
  panels: PanelSpec[];
}

/** What the tests need to know about a generated panel besides its JSON. */
export interface PanelCheck {
  id: number;
  title: string;
  type: Panel['type'];
  needs?: Need;
  optional: Record<string, string>;
}

const REF_IDS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

export const GREEN = 'green';
export const YELLOW = '#EAB839';
export const ORANGE = 'orange';
export const RED = 'red';
export const BLUE = 'blue';

/** Threshold steps from a base colour and [value, colour] pairs. */
export function steps(base: string, ...rest: [number, string][]): ThresholdStep[] {
  return [{ color: base, value: null }, ...rest.map(([value, color]) => ({ color, value }))];
}

/** Value → text and colour (e.g. 1 → "Live", green). */
export function valueMap(entries: Record<string, [string, string]>): ValueMapping[] {
  const options: Record<string, { text: string; color: string; index: number }> = {};
  Object.entries(entries).forEach(([value, [text, color]], index) => {
    options[value] = { text, color, index };
  });
  return [{ type: 'value', options }];
}

function targets(specs: TargetSpec[], instant: boolean, table: boolean): Target[] {
  if (specs.length > REF_IDS.length) throw new Error('too many targets');
  return specs.map((t, i) => ({
    refId: REF_IDS[i]!,
    datasource: DATASOURCE,
    editorMode: 'code',
    expr: t.expr,
    ...(t.legend !== undefined ? { legendFormat: t.legend } : {}),
    instant,
    range: !instant,
    ...(table ? { format: 'table' as const } : {}),
  }));
}

function defaults(s: CommonSpec): FieldConfig['defaults'] {
  return {
    ...(s.unit ? { unit: s.unit } : {}),
    ...(s.decimals !== undefined ? { decimals: s.decimals } : {}),
    ...(s.min !== undefined ? { min: s.min } : {}),
    ...(s.max !== undefined ? { max: s.max } : {}),
    thresholds: { mode: 'absolute', steps: s.thresholds ?? steps(GREEN) },
    ...(s.mappings ? { mappings: s.mappings } : { mappings: [] }),
    ...(s.links ? { links: s.links } : {}),
  };
}

function timeseries(s: TimeseriesSpec): Omit<Panel, 'id' | 'gridPos'> {
  const overrides: FieldConfig['overrides'] = [];
  if (s.negativeY) overrides.push({ matcher: { id: 'byRegexp', options: s.negativeY }, properties: [{ id: 'custom.transform', value: 'negative-Y' }] });
  if (s.rightAxis)
    overrides.push({
      matcher: { id: 'byRegexp', options: s.rightAxis.match },
      properties: [
        { id: 'unit', value: s.rightAxis.unit },
        { id: 'custom.axisPlacement', value: 'right' },
      ],
    });
  return {
    type: 'timeseries',
    title: s.title,
    description: s.description,
    datasource: DATASOURCE,
    targets: targets(s.targets, false, false),
    fieldConfig: {
      defaults: {
        ...defaults(s),
        color: { mode: 'palette-classic' },
        custom: {
          drawStyle: 'line',
          lineInterpolation: 'linear',
          lineWidth: 1,
          fillOpacity: s.fill ?? (s.stack ? 40 : 10),
          gradientMode: 'none',
          showPoints: 'never',
          pointSize: 4,
          spanNulls: false,
          insertNulls: false,
          axisPlacement: 'auto',
          axisLabel: s.axisLabel ?? '',
          axisColorMode: 'text',
          axisCenteredZero: false,
          scaleDistribution: { type: 'linear' },
          barAlignment: 0,
          stacking: { mode: s.stack ? 'normal' : 'none', group: 'A' },
          hideFrom: { legend: false, tooltip: false, viz: false },
          thresholdsStyle: { mode: s.thresholdsStyle ?? 'off' },
        },
      },
      overrides,
    },
    options: {
      legend: {
        showLegend: true,
        displayMode: s.legendMode ?? 'table',
        placement: s.legendRight ? 'right' : 'bottom',
        calcs: s.legendMode === 'list' ? [] : (s.legendCalcs ?? ['mean', 'max', 'lastNotNull']),
      },
      tooltip: { mode: 'multi', sort: 'desc' },
    },
  };
}

function stat(s: StatSpec): Omit<Panel, 'id' | 'gridPos'> {
  return {
    type: 'stat',
    title: s.title,
    description: s.description,
    datasource: DATASOURCE,
    targets: targets(s.targets, true, false),
    fieldConfig: {
      defaults: { ...defaults(s), color: { mode: 'thresholds' }, ...(s.noValue ? { noValue: s.noValue } : {}) },
      overrides: [],
    },
    options: {
      reduceOptions: { values: false, calcs: ['lastNotNull'], fields: '' },
      orientation: 'auto',
      textMode: s.textMode ?? 'auto',
      colorMode: s.colorMode ?? 'background',
      graphMode: s.graph ? 'area' : 'none',
      justifyMode: 'auto',
      wideLayout: true,
      showPercentChange: false,
    },
  };
}

function bargauge(s: BarGaugeSpec): Omit<Panel, 'id' | 'gridPos'> {
  return {
    type: 'bargauge',
    title: s.title,
    description: s.description,
    datasource: DATASOURCE,
    targets: targets(s.targets, true, false),
    fieldConfig: { defaults: { ...defaults(s), color: { mode: 'thresholds' } }, overrides: [] },
    options: {
      reduceOptions: { values: false, calcs: ['lastNotNull'], fields: '' },
      orientation: 'horizontal',
      displayMode: 'gradient',
      valueMode: 'color',
      namePlacement: 'auto',
      showUnfilled: true,
      sizing: 'auto',
      minVizWidth: 8,
      minVizHeight: 16,
      maxVizHeight: 300,
    },
  };
}

function piechart(s: PieSpec): Omit<Panel, 'id' | 'gridPos'> {
  return {
    type: 'piechart',
    title: s.title,
    description: s.description,
    datasource: DATASOURCE,
    targets: targets(s.targets, true, false),
    fieldConfig: {
      defaults: { ...defaults(s), color: { mode: 'palette-classic' }, custom: { hideFrom: { legend: false, tooltip: false, viz: false } } },
      overrides: [],
    },
    options: {
      pieType: 'donut',
      displayLabels: ['value'],
      legend: { showLegend: true, displayMode: 'table', placement: 'right', values: ['value'] },
      reduceOptions: { values: false, calcs: ['lastNotNull'], fields: '' },
      tooltip: { mode: 'single', sort: 'none' },
    },
  };
}

function table(s: TableSpec): Omit<Panel, 'id' | 'gridPos'> {
  const overrides: FieldConfig['overrides'] = s.columns.map((c) => {
    const properties: { id: string; value: unknown }[] = [];
    if (c.unit) properties.push({ id: 'unit', value: c.unit });
    if (c.decimals !== undefined) properties.push({ id: 'decimals', value: c.decimals });
    if (c.min !== undefined) properties.push({ id: 'min', value: c.min });
    if (c.max !== undefined) properties.push({ id: 'max', value: c.max });
    if (c.mappings) properties.push({ id: 'mappings', value: c.mappings });
    if (c.thresholds) properties.push({ id: 'thresholds', value: { mode: 'absolute', steps: c.thresholds } });
    if (c.cell)
      properties.push({ id: 'custom.cellOptions', value: c.cell === 'gauge' ? { type: 'gauge', mode: 'basic', valueDisplayMode: 'text' } : { type: c.cell } });
    if (c.links) properties.push({ id: 'links', value: c.links });
    if (c.width) properties.push({ id: 'custom.width', value: c.width });
    return { matcher: { id: 'byName', options: c.title }, properties };
  });
  // Grafana names the value field `Value` when the table has one query, `Value #<refId>` when it has several.
  const field = (c: Column) => (s.targets.length === 1 && c.field === 'Value #A' ? 'Value' : c.field);
  const renameByName: Record<string, string> = {};
  const indexByName: Record<string, number> = {};
  s.columns.forEach((c, i) => {
    renameByName[field(c)] = c.title;
    indexByName[field(c)] = i;
  });
  return {
    type: 'table',
    title: s.title,
    description: s.description,
    datasource: DATASOURCE,
    targets: targets(s.targets, true, true),
    fieldConfig: {
      defaults: { ...defaults(s), color: { mode: 'thresholds' }, custom: { align: 'auto', cellOptions: { type: 'auto' }, inspect: false, filterable: false } },
      overrides: overrides.filter((o) => o.properties.length > 0),
    },
    options: {
      showHeader: true,
      cellHeight: 'sm',
      footer: { show: false, reducer: ['sum'], countRows: false, fields: '' },
      ...(s.sortBy ? { sortBy: [{ displayName: s.sortBy.title, desc: s.sortBy.desc }] } : {}),
    },
    transformations: [
      // One row per label set across the instant queries (Value #A, Value #B, …), then keep and name the columns.
      { id: 'merge', options: {} },
      { id: 'filterFieldsByName', options: { include: { names: s.columns.map(field) } } },
      ...(s.numericLabels?.length
        ? [{ id: 'convertFieldType', options: { fields: {}, conversions: s.numericLabels.map((f) => ({ targetField: f, destinationType: 'number' })) } }]
        : []),
      { id: 'organize', options: { excludeByName: {}, indexByName, renameByName } },
    ],
  };
}

function build(s: PanelSpec): Omit<Panel, 'id' | 'gridPos'> {
  switch (s.kind) {
    case 'timeseries':
      return timeseries(s);
    case 'stat':
      return stat(s);
    case 'bargauge':
      return bargauge(s);
    case 'piechart':
      return piechart(s);
    case 'table':
      return table(s);
  }
}

/**
 * Lay rows out top to bottom: a row header (h 1), then its panels left to right, wrapping at 24 columns; a line
 * is as tall as its tallest panel. Panel ids are 1, 2, 3… in reading order (rows included), so they are unique
 * and stable across regenerations.
 */
export function layout(rows: RowSpec[]): { panels: Panel[]; checks: PanelCheck[] } {
  const panels: Panel[] = [];
  const checks: PanelCheck[] = [];
  let id = 1;
  let y = 0;
  for (const row of rows) {
    panels.push({ id: id++, type: 'row', title: row.title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });
    y += 1;
    let x = 0;
    let lineHeight = 0;
    for (const spec of row.panels) {
      if (spec.w < 1 || spec.w > 24) throw new Error(`${spec.title}: width ${spec.w}`);
      if (x + spec.w > 24) {
        y += lineHeight;
        x = 0;
        lineHeight = 0;
      }
      const panel: Panel = { id: id++, gridPos: { h: spec.h, w: spec.w, x, y }, ...build(spec) };
      panels.push(panel);
      const optional: Record<string, string> = {};
      spec.targets.forEach((t, i) => {
        if (t.optional) optional[REF_IDS[i]!] = t.optional;
      });
      checks.push({ id: panel.id, title: panel.title, type: panel.type, ...(spec.needs ? { needs: spec.needs } : {}), optional });
      x += spec.w;
      lineHeight = Math.max(lineHeight, spec.h);
    }
    y += lineHeight;
  }
  return { panels, checks };
}
