// Prometheus and Alertmanager for the demo, from Debian's packages when installed: started on loopback with
// configs written to a temporary folder, stopped with the demo.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { type Peer, startAlertmanagerPeer, startPrometheusPeer } from '../../core/peer.js';

export type { Peer };

/** The first of `names` on PATH, or undefined. */
export function findBinary(...names: string[]): string | undefined {
  for (const n of names) {
    const r = spawnSync('sh', ['-c', `command -v ${n}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return undefined;
}

/**
 * The bundled rules with every `for:` shortened to at most `maxFor`, so a demo failure turns into an alert within
 * seconds; everything else (expressions, labels, annotations) is the real thing.
 */
export function demoRules(rulesFile: string, maxFor: string): string {
  const doc = parse(readFileSync(rulesFile, 'utf8')) as { groups: { interval?: string; rules: { for?: string }[] }[] };
  for (const g of doc.groups) {
    g.interval = '5s';
    for (const r of g.rules) if (r.for) r.for = maxFor;
  }
  return stringify(doc, { lineWidth: 0 });
}

export interface PrometheusOptions {
  dir: string;
  port: number;
  alertmanagerUrl?: string;
  targets: { job: string; target: string; bearerFile?: string }[];
  rules: string;
}

export function startPrometheus(bin: string, o: PrometheusOptions): Promise<Peer> {
  writeFileSync(join(o.dir, 'xcp-alerts.yml'), o.rules);
  const config = {
    global: { scrape_interval: '5s', evaluation_interval: '5s' },
    rule_files: [join(o.dir, 'xcp-alerts.yml')],
    ...(o.alertmanagerUrl ? { alerting: { alertmanagers: [{ static_configs: [{ targets: [new URL(o.alertmanagerUrl).host] }] }] } } : {}),
    scrape_configs: o.targets.map((t) => ({
      job_name: t.job,
      static_configs: [{ targets: [t.target] }],
      ...(t.bearerFile ? { authorization: { credentials_file: t.bearerFile } } : {}),
    })),
  };
  writeFileSync(join(o.dir, 'prometheus.yml'), stringify(config));
  return startPrometheusPeer({ dir: o.dir, bin, port: o.port });
}

export interface AlertmanagerOptions {
  dir: string;
  port: number;
  /** The example config, adapted: the recovery webhook pointed at this receiver, email replaced by a log sink. */
  exampleFile: string;
  webhookUrl: string;
  tokenFile: string;
}

/** The bundled example routing, with the demo's receiver URL and token; the email receiver goes nowhere. */
export function demoAlertmanagerConfig(o: AlertmanagerOptions): string {
  const doc = parse(readFileSync(o.exampleFile, 'utf8')) as Record<string, unknown> & {
    receivers: { name: string; webhook_configs?: { url?: string; http_config?: unknown }[]; email_configs?: unknown }[];
    global?: Record<string, unknown>;
    route: Record<string, unknown>;
  };
  delete doc.global;
  for (const r of doc.receivers) {
    if (r.webhook_configs)
      for (const w of r.webhook_configs) Object.assign(w, { url: o.webhookUrl, http_config: { authorization: { credentials_file: o.tokenFile } } });
    delete r.email_configs;
  }
  // Shorter waits, on every route, so a demo failure reaches the receiver within seconds.
  const hurry = (route: Record<string, unknown>) => {
    Object.assign(route, { group_wait: '5s', group_interval: '10s' });
    for (const child of (route.routes as Record<string, unknown>[] | undefined) ?? []) hurry(child);
  };
  hurry(doc.route);
  return stringify(doc, { lineWidth: 0 });
}

export function startAlertmanager(bin: string, o: AlertmanagerOptions): Promise<Peer> {
  writeFileSync(join(o.dir, 'alertmanager.yml'), demoAlertmanagerConfig(o));
  return startAlertmanagerPeer({ dir: o.dir, bin, port: o.port });
}
