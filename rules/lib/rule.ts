// One alerting rule as it goes into the generated YAML, and the small PromQL helpers the groups share.
import type { AlertName, Values } from './values.js';

export type Component = 'pool' | 'exporter' | 'host' | 'vm' | 'toolstack' | 'storage' | 'hardware' | 'power';
/** Notification types the recovery-hook receiver acts on: Masakari's three and our emergency shutdown. */
export type NotificationType = 'COMPUTE_HOST' | 'COMPUTE_INSTANCE' | 'COMPUTE_PROCESS' | 'XCP_EMERGENCY_SHUTDOWN';

export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: { summary: string; description: string; runbook_url: string } & Record<string, string>;
}

export interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

export interface AlertSpec {
  name: AlertName;
  /** Routed on and inhibited by (see rules/alertmanager.example.yml). */
  component: Component;
  expr: string;
  /** Static, one sentence, ends with a period (alerts that group together share it). */
  summary: string;
  /** Templated with $labels / $value. */
  description: string;
  /** For recovery alerts: the type the receiver gets; the rule then also carries `recovery="true"` if enabled. */
  notification?: NotificationType;
  labels?: Record<string, string>;
  /** Extra annotations the receiver reads (the emergency shutdown's runtime_seconds). */
  annotations?: Record<string, string>;
}

export function buildRule(v: Values, spec: AlertSpec): AlertRule | undefined {
  const a = v.alerts[spec.name];
  if (!a.enabled) return undefined;
  const labels: Record<string, string> = { severity: a.severity, component: spec.component };
  if (spec.notification) {
    labels.xcp_notification_type = spec.notification;
    if ('recovery' in a && a.recovery) labels.recovery = 'true';
  }
  Object.assign(labels, spec.labels);
  return {
    alert: spec.name,
    expr: dedent(spec.expr),
    for: a.for,
    labels,
    annotations: {
      summary: spec.summary,
      description: spec.description,
      runbook_url: `${v.runbook_base_url}/${spec.name}.md`,
      ...spec.annotations,
    },
  };
}

export function group(v: Values, name: string, specs: AlertSpec[]): RuleGroup {
  return { name, rules: specs.map((s) => buildRule(v, s)).filter((r): r is AlertRule => r !== undefined) };
}

/** `metric{m1, m2}`; empty matchers are dropped (so an empty user selector adds nothing). */
export function sel(metric: string, ...matchers: string[]): string {
  const m = matchers.map((s) => s.trim()).filter(Boolean);
  return m.length ? `${metric}{${m.join(', ')}}` : metric;
}

/** Strip blank first/last lines and the indentation common to all lines. */
export function dedent(expr: string): string {
  const lines = expr
    .replace(/^\s*\n/, '')
    .replace(/\n\s*$/, '')
    .split('\n');
  const common = Math.min(...lines.filter((l) => l.trim()).map((l) => l.match(/^ */)![0].length));
  return lines.map((l) => l.slice(common)).join('\n');
}

/** Indent every line but the first by `n` spaces, for nesting a multi-line sub-expression in a template. */
export function indent(expr: string, n: number): string {
  return dedent(expr).replace(/\n/g, '\n' + ' '.repeat(n));
}

function wrap(expr: string, args: string): string {
  const e = dedent(expr);
  return e.includes('\n') ? `label_replace(\n  ${indent(e, 2)}\n, ${args})` : `label_replace(${e}, ${args})`;
}

/** Copy label `src` to `dst` (e.g. the metric's `uuid` to `host_uuid`); an empty source leaves `dst` unset. */
export function copyLabel(expr: string, dst: string, src: string): string {
  return wrap(expr, `"${dst}", "$1", "${src}", "(.*)"`);
}

/** Add a constant label (used to tell apart the branches of an `or`). */
export function setLabel(expr: string, name: string, value: string): string {
  return wrap(expr, `"${name}", "${value}", "", ""`);
}

/** Numbers as PromQL literals. */
export function lit(n: number): string {
  return String(n);
}
