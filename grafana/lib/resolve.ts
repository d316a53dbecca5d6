// Resolve a dashboard's variables against a live Prometheus the way Grafana does: each label_values() query in
// order, seeing the values chosen for the variables before it.
import type { Dashboard } from './model.js';
import { type Builtins, type VarValue, interpolate, parseLabelValues, variableQuery } from './promql.js';
import type { PrometheusClient } from './prometheus.js';

export interface ResolvedVariable {
  name: string;
  query: string;
  selector?: string;
  options: string[];
  value: VarValue;
}

/**
 * `defaults`: what Grafana shows on first load (All for include-All variables, else the first value);
 * `values`: concrete values everywhere (the first one or two), to exercise regex escaping.
 * `pick` overrides the choice for named variables.
 */
export async function resolveVariables(
  prom: PrometheusClient,
  d: Dashboard,
  o: { choose: 'defaults' | 'values'; builtins: Builtins; pick?: Record<string, VarValue>; lookbackSeconds?: number },
): Promise<{ values: Record<string, VarValue>; resolved: ResolvedVariable[] }> {
  const now = Date.now() / 1000;
  const values: Record<string, VarValue> = {};
  const resolved: ResolvedVariable[] = [];
  for (const v of d.templating.list) {
    const query = variableQuery(v);
    if (!query) continue;
    const lv = parseLabelValues(v.name, query);
    const selector = lv.selector ? interpolate(lv.selector, d.templating.list, values, o.builtins) : undefined;
    const options = (await prom.labelValues(lv.label, selector, now - (o.lookbackSeconds ?? 600), now)).sort();
    let value: VarValue;
    if (o.pick?.[v.name]) value = o.pick[v.name]!;
    else if (v.includeAll && (o.choose === 'defaults' || options.length === 0)) value = { all: true };
    else if (options.length === 0) value = { values: ['none'] };
    else value = { values: options.slice(0, v.multi ? 2 : 1) };
    values[v.name] = value;
    resolved.push({ name: v.name, query, ...(selector !== undefined ? { selector } : {}), options, value });
  }
  return { values, resolved };
}

export function describeValues(values: Record<string, VarValue>): string {
  return Object.entries(values)
    .map(([k, v]) => `$${k}=${v.all ? 'All' : v.values.join('|')}`)
    .join(' ');
}
