// The queries of a dashboard as Prometheus will see them: every target's expression and every variable's
// label_values() selector, with Grafana's variables substituted the way Grafana's Prometheus datasource does it.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Dashboard, Panel, Target, Variable } from './model.js';

export interface PanelQuery {
  panelId: number;
  panelTitle: string;
  panelType: Panel['type'];
  refId: string;
  expr: string;
  instant: boolean;
  range: boolean;
}

/** Every non-row panel, rows' nested panels included. */
export function allPanels(d: Dashboard): Panel[] {
  const out: Panel[] = [];
  for (const p of d.panels) {
    if (p.type === 'row') out.push(...(p.panels ?? []));
    else out.push(p);
  }
  return out;
}

export function panelQueries(d: Dashboard): PanelQuery[] {
  return allPanels(d).flatMap((p) =>
    (p.targets ?? []).map((t: Target) => ({
      panelId: p.id,
      panelTitle: p.title,
      panelType: p.type,
      refId: t.refId,
      expr: t.expr,
      instant: t.instant,
      range: t.range,
    })),
  );
}

export interface LabelValuesQuery {
  variable: string;
  /** The series selector (or expression) inside label_values(…); undefined for label_values(label). */
  selector?: string;
  label: string;
}

/** Parse Grafana's `label_values(selector, label)` / `label_values(label)` variable query syntax. */
export function parseLabelValues(variable: string, query: string): LabelValuesQuery {
  const m = /^\s*label_values\(\s*(?:(.*),\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/s.exec(query);
  if (!m) throw new Error(`variable ${variable}: not a label_values() query: ${query}`);
  return { variable, ...(m[1] !== undefined ? { selector: m[1].trim() } : {}), label: m[2]! };
}

export function variableQuery(v: Variable): string | undefined {
  if (v.type !== 'query') return undefined;
  return typeof v.query === 'string' ? v.query : v.query.query;
}

/** The value a variable takes for substitution: some values, or All. */
export type VarValue = { all: true } | { all?: false; values: string[] };

// Grafana's escaping of variable values in Prometheus queries (grafana-prometheus escaping.ts), as it behaves with
// the `prometheusSpecialCharsInLabelValues` feature on: without it, Grafana does not escape double quotes, and a
// value containing one breaks the query in Grafana itself.

/** prometheusSpecialRegexEscape: backslashes and quotes escaped for the string, regex metacharacters for RE2. */
export function regexEscape(v: string): string {
  return v
    .replace(/\\/g, '\\\\\\\\')
    .replace(/"/g, '\\\\\\"')
    .replace(/[$^*{}[\]'+?.()|]/g, '\\\\$&');
}

/** prometheusRegularEscape, for single-value variables. */
function regularEscape(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

export interface Builtins {
  /** `$__rate_interval`, e.g. `1m`. */
  rateInterval: string;
  /** `$__interval`. */
  interval: string;
  /** `$__range`, e.g. `3h`. */
  range: string;
  rangeSeconds: number;
}

export const DEFAULT_BUILTINS: Builtins = { rateInterval: '1m', interval: '15s', range: '3h', rangeSeconds: 3 * 3600 };

/**
 * Substitute `$name` / `${name}` / `${name:format}` as Grafana does in a Prometheus query: a multi-value or
 * include-All variable becomes a regex (`(a|b)`, escaped; All → its allValue), a single-value variable its raw
 * value. Built-ins ($__rate_interval, $__interval, $__range, $__range_s) come from `builtins`.
 */
export function interpolate(expr: string, variables: Variable[], values: Record<string, VarValue>, builtins: Builtins = DEFAULT_BUILTINS): string {
  const byName = new Map(variables.map((v) => [v.name, v]));
  return expr.replace(
    /\$\{([a-zA-Z_][a-zA-Z0-9_]*)(?::([a-z]+))?\}|\$([a-zA-Z_][a-zA-Z0-9_]*)/g,
    (whole, braced: string | undefined, _format: string | undefined, bare: string | undefined) => {
      const name = (braced ?? bare)!;
      switch (name) {
        case '__rate_interval':
          return builtins.rateInterval;
        case '__interval':
          return builtins.interval;
        case '__range':
          return builtins.range;
        case '__range_s':
          return String(builtins.rangeSeconds);
      }
      const v = byName.get(name);
      if (!v) throw new Error(`unknown variable ${whole} in ${expr}`);
      const value = values[name];
      if (!value) throw new Error(`no value for variable $${name}`);
      if (value.all) {
        if (!v.includeAll) throw new Error(`variable $${name} has no All option`);
        return v.allValue ?? '.*';
      }
      if (!v.multi && !v.includeAll) {
        if (value.values.length !== 1) throw new Error(`variable $${name} is single-value`);
        return regularEscape(value.values[0]!);
      }
      const escaped = value.values.map(regexEscape);
      return escaped.length === 1 ? escaped[0]! : `(${escaped.join('|')})`;
    },
  );
}

/** The metric names an expression reads (identifiers followed by a selector or standing alone, not functions or keywords). */
export function metricNames(expr: string): string[] {
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  // Label matchers and label lists (by/without/on/ignoring/group_*) hold label names, not metrics: drop them.
  const withoutLabels = withoutStrings
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\[[^\]]*\]/g, '[]')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\boffset\s+[^\s)]+/g, ' ');
  const names = new Set<string>();
  for (const m of withoutLabels.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?/g)) {
    if (m[2]) continue; // a function call
    const id = m[1]!;
    if (/^(by|without|on|ignoring|group_left|group_right|and|or|unless|offset|bool|inf|nan)$/i.test(id)) continue;
    if (/^\d/.test(id)) continue;
    names.add(id);
  }
  // Durations like [5m] and numbers are not identifiers of interest.
  return [...names].filter((n) => !/^\d+[smhdwy]$/.test(n));
}

export interface PromtoolResult {
  /** Index of the expression → promtool's error. */
  errors: Map<number, string>;
  output: string;
}

/**
 * Parse expressions with the real Prometheus parser, offline: each becomes a recording rule in a temporary rule
 * file and `promtool check rules` reports every one it cannot parse (with its rule number).
 */
export async function promtoolCheck(exprs: string[], promtool = 'promtool'): Promise<PromtoolResult> {
  const dir = mkdtempSync(join(tmpdir(), 'xcp-grafana-promql-'));
  try {
    const file = join(dir, 'exprs.yml');
    writeFileSync(
      file,
      stringify({ groups: [{ name: 'dashboard_queries', rules: exprs.map((expr, i) => ({ record: `dashboard:query_${i}:check`, expr })) }] }, { lineWidth: 0 }),
    );
    const { code, output } = await run(promtool, ['check', 'rules', file]);
    const errors = new Map<number, string>();
    for (const m of output.matchAll(/rule (\d+), "dashboard:query_(\d+):check": (.*)/g)) errors.set(Number(m[2]), m[3]!);
    if (code !== 0 && errors.size === 0) throw new Error(`promtool failed without a per-rule error (exit ${code}): ${output}`);
    return { errors, output };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function run(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? -1, output }));
  });
}
