// The monitoring half of the end-to-end loop: real Prometheus scraping the exporter with the bundled rules (every
// `for:` shortened, evaluated every second) and real Alertmanager with the example routing (short waits, the
// recovery route pointed at the test's receiver). Both run from Debian's packages on loopback ports and are stopped
// by the test, or killed if the test process exits first.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { demoRules, findBinary } from '../../../cli/demo/peers.js';
import { type RunningPrometheus, startPrometheus } from '../../helpers/prometheus.js';
import { startAlertmanagerPeer } from '../../../core/peer.js';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const RULES_FILE = join(ROOT, 'rules/xcp-alerts.yml');
export const AM_EXAMPLE = join(ROOT, 'rules/alertmanager.example.yml');

export const PROMETHEUS = findBinary('prometheus');
export const ALERTMANAGER = findBinary('prometheus-alertmanager', 'alertmanager');

/** The bundled rules with every `for:` at most `maxFor` and every group evaluated every `interval`. */
export function loopRules(maxFor: string, interval = '1s'): string {
  const doc = parse(demoRules(RULES_FILE, maxFor)) as { groups: { interval?: string }[] };
  for (const g of doc.groups) g.interval = interval;
  return stringify(doc, { lineWidth: 0 });
}

export interface LoopPrometheusOptions {
  exporterUrl: string;
  alertmanagerUrl: string;
  rules: string;
  /** Scrape and evaluation interval (default 1s). */
  interval?: string;
}

export function startLoopPrometheus(o: LoopPrometheusOptions): Promise<RunningPrometheus> {
  const interval = o.interval ?? '1s';
  const config = {
    global: { scrape_interval: interval, evaluation_interval: interval, scrape_timeout: interval },
    rule_files: ['xcp-alerts.yml'],
    alerting: { alertmanagers: [{ static_configs: [{ targets: [new URL(o.alertmanagerUrl).host] }] }] },
    scrape_configs: [{ job_name: 'xcp-sentinel', static_configs: [{ targets: [new URL(o.exporterUrl).host] }] }],
  };
  // Prometheus resolves rule_files relative to its config file.
  return startPrometheus(stringify(config), { 'xcp-alerts.yml': o.rules });
}

/**
 * The example Alertmanager routing with the receiver's URL and token file, every wait short. Unlike the demo's, the
 * recovery route keeps its webhook exactly as shipped (send_resolved, max_alerts); only the email receiver loses its
 * email_configs (no SMTP for Alertmanager here: humans are informed by the receiver's own notifiers).
 */
export function loopAlertmanagerConfig(o: { webhookUrl: string; tokenFile: string; groupWait?: string; groupInterval?: string; keep?: string[] }): string {
  const doc = parse(readFileSync(AM_EXAMPLE, 'utf8')) as Record<string, unknown> & {
    receivers: { name: string; webhook_configs?: Record<string, unknown>[]; email_configs?: unknown }[];
    route: Record<string, unknown>;
  };
  delete doc.global;
  for (const r of doc.receivers) {
    for (const w of r.webhook_configs ?? []) {
      w.url = o.webhookUrl;
      const http = (w.http_config ?? {}) as { authorization?: Record<string, unknown> };
      w.http_config = { ...http, authorization: { ...(http.authorization ?? {}), type: 'Bearer', credentials_file: o.tokenFile } };
    }
    delete r.email_configs;
  }
  // Routes of the alerts in `keep` (matched by alertname) keep their shipped waits.
  const kept = (route: Record<string, unknown>) =>
    ((route.matchers as string[] | undefined) ?? []).some((m) => (o.keep ?? []).some((a) => m === `alertname="${a}"`));
  const hurry = (route: Record<string, unknown>) => {
    if (!kept(route)) Object.assign(route, { group_wait: o.groupWait ?? '1s', group_interval: o.groupInterval ?? '2s' });
    for (const child of (route.routes as Record<string, unknown>[] | undefined) ?? []) hurry(child);
  };
  hurry(doc.route);
  return stringify(doc, { lineWidth: 0 });
}

export interface RunningAlertmanager {
  url: string;
  /** Active (firing, not silenced or inhibited) alerts matching `alertname` and the given labels. */
  active(labels: Record<string, string>): Promise<unknown[]>;
  output(): string;
  stop(): Promise<void>;
}

export async function startLoopAlertmanager(bin: string, config: string): Promise<RunningAlertmanager> {
  const dir = mkdtempSync(join(tmpdir(), 'xcp-am-'));
  writeFileSync(join(dir, 'alertmanager.yml'), config);
  const peer = await startAlertmanagerPeer({ dir, bin }).catch((err: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  const { url } = peer;
  const stop = async () => {
    await peer.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  return {
    url,
    output: peer.log,
    async active(labels) {
      const filter = Object.entries(labels)
        .map(([k, v]) => `filter=${encodeURIComponent(`${k}="${v}"`)}`)
        .join('&');
      const res = await fetch(`${url}/api/v2/alerts?active=true&silenced=false&inhibited=false&${filter}`, { signal: AbortSignal.timeout(5000) });
      if (!res.ok) throw new Error(`alertmanager /api/v2/alerts: ${res.status}`);
      return (await res.json()) as unknown[];
    },
    stop,
  };
}

/**
 * `xe-toolstack-restart` for the test sshd: the simulated host is the sshd address the client connected to (the
 * host's XAPI address, from $SSH_CONNECTION); it asks the simulator's control API to restart that host's toolstack,
 * with this Node (curl may be absent), and prints what the real script prints.
 */
export function toolstackRestartScript(controlUrl: string): string {
  const js = [
    `fetch(process.argv[1], { method: 'POST' })`,
    `.then(async (r) => { if (!r.ok) { console.error('restart failed: ' + (await r.text())); process.exit(1); }`,
    `console.log('Stopping xapi: [  OK  ]'); console.log('Starting xapi: [  OK  ]'); console.log('done.'); })`,
    `.catch((e) => { console.error(String(e)); process.exit(1); })`,
  ].join(' ');
  return `#!/bin/sh
# Fake xe-toolstack-restart: restarts the simulated host's toolstack through the simulator's control API.
server=$(printf '%s' "$SSH_CONNECTION" | cut -d' ' -f3)
exec ${process.execPath} -e "${js}" "${controlUrl}/sim/hosts/$server/restart-toolstack"
`;
}
