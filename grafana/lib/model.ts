// The subset of Grafana's classic dashboard JSON model (schemaVersion 41) that the generator writes, and the
// small builders the dashboard definitions use. Nothing here knows about XCP: see grafana/src/ for the dashboards.

/** Grafana 12.0 writes 41; 42 (12.1+) only adds a migration for `custom.hideFrom` overrides, which we never use. */
export const SCHEMA_VERSION = 41;

/** Every panel and every target points at the dashboard's datasource variable. */
export const DATASOURCE = { type: 'prometheus', uid: '${datasource}' } as const;
export type DatasourceRef = typeof DATASOURCE;

export type Unit =
  | 'bytes'
  | 'Bps'
  | 's'
  | 'dtdurations'
  | 'percentunit'
  | 'watt'
  | 'celsius'
  | 'rotrpm'
  | 'volt'
  | 'amp'
  | 'iops'
  | 'ops'
  | 'short'
  | 'none'
  | 'string';

export interface ThresholdStep {
  color: string;
  value: number | null;
}

export interface ValueMapping {
  type: 'value' | 'range' | 'special';
  options: Record<string, unknown>;
}

export interface DataLink {
  title: string;
  url: string;
  targetBlank?: boolean;
}

export interface FieldConfig {
  defaults: {
    unit?: Unit;
    decimals?: number;
    min?: number;
    max?: number;
    displayName?: string;
    color?: { mode: string; fixedColor?: string };
    thresholds?: { mode: 'absolute' | 'percentage'; steps: ThresholdStep[] };
    mappings?: ValueMapping[];
    links?: DataLink[];
    noValue?: string;
    custom?: Record<string, unknown>;
  };
  overrides: { matcher: { id: string; options: unknown }; properties: { id: string; value: unknown }[] }[];
}

export interface Target {
  refId: string;
  datasource: DatasourceRef;
  expr: string;
  legendFormat?: string;
  /** Instant queries (stat, table, bar gauge) vs range queries (time series). */
  instant: boolean;
  range: boolean;
  format?: 'time_series' | 'table';
  editorMode: 'code';
  interval?: string;
}

export interface GridPos {
  h: number;
  w: number;
  x: number;
  y: number;
}

export interface Panel {
  id: number;
  type: 'timeseries' | 'stat' | 'table' | 'bargauge' | 'piechart' | 'gauge' | 'row';
  title: string;
  description?: string;
  gridPos: GridPos;
  datasource?: DatasourceRef;
  targets?: Target[];
  fieldConfig?: FieldConfig;
  options?: Record<string, unknown>;
  transformations?: { id: string; options: Record<string, unknown> }[];
  links?: DataLink[];
  /** Rows only. */
  collapsed?: boolean;
  panels?: Panel[];
  pluginVersion?: string;
}

export interface VariableOption {
  text: string | string[];
  value: string | string[];
  selected?: boolean;
}

export interface Variable {
  name: string;
  label: string;
  type: 'datasource' | 'query' | 'interval';
  description?: string;
  hide: 0 | 1 | 2;
  query: string | { query: string; refId: string };
  definition?: string;
  datasource?: DatasourceRef;
  /** 1 = on dashboard load, 2 = on time range change. */
  refresh?: 1 | 2;
  regex?: string;
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string;
  /** 1 = alphabetical ascending. */
  sort?: number;
  current: Record<string, never> | VariableOption;
  options: VariableOption[];
}

export interface DashboardLink {
  title: string;
  type: 'dashboards' | 'link';
  tags: string[];
  asDropdown: boolean;
  includeVars: boolean;
  keepTime: boolean;
  icon?: string;
  url?: string;
  tooltip?: string;
  targetBlank?: boolean;
}

export interface Dashboard {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  editable: boolean;
  graphTooltip: 0 | 1 | 2;
  timezone: string;
  schemaVersion: number;
  version: number;
  time: { from: string; to: string };
  refresh: string;
  fiscalYearStartMonth: number;
  liveNow: boolean;
  weekStart: string;
  timepicker: Record<string, unknown>;
  annotations: { list: Record<string, unknown>[] };
  links: DashboardLink[];
  templating: { list: Variable[] };
  panels: Panel[];
}
