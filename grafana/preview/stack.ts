// The whole bundle on loopback, for the dashboards' live test and for the screenshots (grafana/preview): a simulated
// pool, the real exporter, the real recovery hook (when it starts), and a real Prometheus scraping both, with the
// alert rules loaded when promtool accepts them. Everything stops with stop(), in reverse order.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PoolConfig } from '../../core/config/pool.js';
import { type Logger, memoryLogger } from '../../core/log.js';
import { XapiClient } from '../../core/xapi/client.js';
import { type RunningExporter, startExporter } from '../../exporter/main.js';
import { type RunningPrometheus, type ScrapeTarget, startPrometheus } from '../lib/prometheus.js';
import { type RunningRecoveryHook, startRecoveryHook } from '../../recovery-hooks/main.js';
import { exporterConfigYaml, startSim } from '../../simulator/loopback.js';
import type { Simulation } from '../../simulator/run.js';
import { parseConfig } from '../../cli/config/bundle.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const RULES_FILE = join(ROOT, 'rules', 'xcp-alerts.yml');
export const EXPORTER_JOB = 'xcp-sentinel';
export const RECOVERY_JOB = 'xcp-recovery-hook';
const TOKEN = 'grafana-live-test-token';

export interface Stack {
  sim: Simulation;
  exporter: RunningExporter;
  recovery?: RunningRecoveryHook;
  /** Why the recovery hook is not running, when it is not. */
  recoveryProblem?: string;
  prometheus: RunningPrometheus;
  /** Why the alert rules are not loaded, when they are not. */
  rulesProblem?: string;
  stop(): Promise<void>;
}

export interface StackOptions {
  logger?: Logger;
  scrapeIntervalSeconds?: number;
  /** Simulated pool size (defaults to simulator/loopback's 3 hosts × 4 VMs). */
  size?: Parameters<typeof startSim>[0];
}

/** A configured pool whose XAPI never answers. */
const UNREACHABLE_POOL = 'unreachable-pool';

function bundleYaml(sim: Simulation, storePath: string): string {
  const pool = sim.pool.options.name;
  const recovery = [
    'recovery_hook:',
    '  listen: 127.0.0.1:0',
    `  store_path: ${storePath}`,
    `  tokens: [{ name: grafana-live-test, token: ${TOKEN} }]`,
    '  tick_seconds: 0.2',
    '  dedup_window_seconds: 1',
    // A channel whose server never answers: messages are queued and retried, so the delivery panels have data.
    '  notifiers: { poll_interval_seconds: 1, channels: { chat: { type: webhook, url: "http://127.0.0.1:9/hook", timeout_seconds: 1 } } }',
    '  task_defaults: { timeout_seconds: 20, retries: 0, retry_delay_seconds: 0.2 }',
    '  instance_failure: { heartbeat_timeout_seconds: 60, confirm_timeout_seconds: 15 }',
    '  shutdown_grace_seconds: 1',
    `  pools: { ${pool}: { mode: auto } }`,
    '',
  ].join('\n');
  // IPMI and SMART through the simulator's XCP-ng XAPI plugins (ipmitool.py, smartctl.py), read every few seconds.
  const hardware =
    '    hardware:\n      transport: plugin\n      ipmi: { interval_seconds: 2 }\n      smart: { interval_seconds: 2 }\n      plugin: { call_timeout_seconds: 5, concurrency: 2 }\n';
  // A second pool whose master never answers (nothing listens on port 9): its recoveries end in error.
  const unreachable = `  - { name: ${UNREACHABLE_POOL}, url: "http://127.0.0.1:9", username: root, password: unused, timeouts: { login_seconds: 6, call_seconds: 2 } }\n`;
  return exporterConfigYaml([sim], recovery)
    .replace(/( {4}timeouts: .*\n)/, `$1${hardware}`)
    .replace(/^exporter:/m, `${unreachable}exporter:`);
}

/** The exporter, configured for the simulated pool (the exporter's own API: exporter/main.ts). */
export async function startExporterFor(sim: Simulation, storePath: string, logger: Logger): Promise<RunningExporter> {
  return startExporter(parseConfig(bundleYaml(sim, storePath), 'grafana-live.yml', {}), logger);
}

/** The recovery hook, with a real XAPI client to the simulated pool so its workflows really act. */
export async function startRecoveryHookFor(sim: Simulation, storePath: string, logger: Logger): Promise<{ hook: RunningRecoveryHook; close(): void }> {
  const config = parseConfig(bundleYaml(sim, storePath), 'grafana-live.yml', {});
  const clients = new Map<string, XapiClient>();
  const xapiFor = (pool: PoolConfig) => {
    let c = clients.get(pool.name);
    if (!c) clients.set(pool.name, (c = XapiClient.forPool(pool)));
    return c;
  };
  const hook = await startRecoveryHook(config, logger, { xapiFor, pollIntervalMs: 200, probeTimeoutMs: 2000 });
  return { hook, close: () => clients.forEach((c) => void c.http.close()) };
}

/** promtool's verdict on the alert rules; undefined when they can be loaded. */
export function rulesProblem(): string | undefined {
  if (!existsSync(RULES_FILE)) return `${RULES_FILE} does not exist`;
  const r = spawnSync('promtool', ['check', 'rules', RULES_FILE], { encoding: 'utf8' });
  if (r.error) return `promtool: ${r.error.message}`;
  return r.status === 0 ? undefined : `promtool check rules failed: ${(r.stdout + r.stderr).trim().split('\n').slice(-3).join(' ')}`;
}

export async function startStack(o: StackOptions = {}): Promise<Stack> {
  const logger = o.logger ?? memoryLogger('warn');
  const dir = mkdtempSync(join(tmpdir(), 'xcp-grafana-stack-'));
  const stops: (() => Promise<void> | void)[] = [() => rmSync(dir, { recursive: true, force: true })];
  const stop = async () => {
    for (const s of stops.splice(0).reverse()) {
      try {
        await s();
      } catch (err) {
        logger.warn('stack: stop step failed', { error: String(err) });
      }
    }
  };
  try {
    const sim = await startSim(o.size ?? {});
    stops.push(() => sim.stop());
    const storePath = join(dir, 'recovery-hook.sqlite');
    const exporter = await startExporterFor(sim, storePath, logger);
    stops.push(() => exporter.stop());

    let recovery: RunningRecoveryHook | undefined;
    let recoveryProblem: string | undefined;
    try {
      const r = await startRecoveryHookFor(sim, storePath, logger);
      recovery = r.hook;
      stops.push(() => r.close());
      stops.push(() => r.hook.stop());
    } catch (err) {
      recoveryProblem = `the recovery hook did not start: ${(err as Error).message}`;
    }

    const targets: ScrapeTarget[] = [{ job: EXPORTER_JOB, url: exporter.url }];
    if (recovery) targets.push({ job: RECOVERY_JOB, url: recovery.url });
    const rules = rulesProblem();
    const prometheus = await startPrometheus({ targets, ruleFiles: rules ? [] : [RULES_FILE], scrapeIntervalSeconds: o.scrapeIntervalSeconds ?? 1 });
    stops.push(() => prometheus.stop());
    return { sim, exporter, recovery, recoveryProblem, prometheus, rulesProblem: rules, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed };
}

/** Fault injection through the simulator's control API (e.g. `hosts/xcp-host-03/kill-toolstack`). */
export async function simControl(stack: Stack, path: string, body: unknown = {}): Promise<unknown> {
  const res = await post(`${stack.sim.controlUrl}/sim/${path}`, body);
  if (res.status !== 200) throw new Error(`simulator: ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/**
 * Give the recovery hook real work: crash a VM in the simulator and send the alert Alertmanager would send for it
 * (the hook restarts the VM through XAPI: finished), an alert for a VM that does not exist (ignored), one for a pool
 * whose XAPI never answers (error), and a malformed payload (rejected). Resolves when the three notifications are done.
 */
export async function exerciseRecovery(stack: Stack, vmName: string, timeoutMs = 20_000): Promise<Record<string, number>> {
  if (!stack.recovery) throw new Error('no recovery hook');
  const { sim, recovery } = stack;
  const control = (path: string, body: unknown = {}) => post(`${sim.controlUrl}/sim/${path}`, body);
  const crashed = await control(`vms/${encodeURIComponent(vmName)}/crash`, { mode: 'halt' });
  if (crashed.status !== 200) throw new Error(`simulator: crash ${vmName}: ${crashed.status} ${JSON.stringify(crashed.body)}`);
  const vm = crashed.body as { uuid: string; name: string };
  const pool = sim.pool.options.name;
  const now = new Date().toISOString();
  const alert = (labels: Record<string, string>) => ({
    status: 'firing',
    labels: { severity: 'critical', pool_name: pool, ...labels },
    annotations: {},
    startsAt: now,
    endsAt: '0001-01-01T00:00:00Z',
    fingerprint: labels.vm_uuid!.replace(/-/g, '').slice(-16),
  });
  const auth = { authorization: `Bearer ${TOKEN}` };
  const webhook = `${recovery.url}/alertmanager`;
  const sent = await post(
    webhook,
    {
      version: '4',
      groupKey: '{}:{alertname="XcpVmHaltedUnexpectedly"}',
      status: 'firing',
      receiver: 'xcp-recovery',
      alerts: [
        alert({ alertname: 'XcpVmHaltedUnexpectedly', xcp_notification_type: 'COMPUTE_INSTANCE', vm_uuid: vm.uuid, vm_name: vm.name }),
        alert({
          alertname: 'XcpVmHaltedUnexpectedly',
          xcp_notification_type: 'COMPUTE_INSTANCE',
          vm_uuid: '00000000-0000-4000-8000-00000000dead',
          vm_name: 'gone',
        }),
        // A pool whose master does not answer: its workflow cannot reach XAPI: error.
        alert({
          alertname: 'XcpVmHaltedUnexpectedly',
          xcp_notification_type: 'COMPUTE_INSTANCE',
          vm_uuid: '00000000-0000-4000-8000-0000000000ff',
          vm_name: 'elsewhere',
          pool_name: UNREACHABLE_POOL,
        }),
      ],
    },
    auth,
  );
  if (sent.status >= 300) throw new Error(`webhook: ${sent.status} ${JSON.stringify(sent.body)}`);
  await post(webhook, { version: '4', alerts: 'not a list' }, auth);

  const deadline = Date.now() + timeoutMs;
  let counts: Record<string, number> = {};
  while (Date.now() < deadline) {
    const res = await fetch(`${recovery.url}/health`, { signal: AbortSignal.timeout(5000) });
    counts = ((await res.json()) as { notifications: Record<string, number> }).notifications;
    if ((counts.finished ?? 0) >= 1 && (counts.ignored ?? 0) >= 1 && (counts.error ?? 0) + (counts.failed ?? 0) >= 1) return counts;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the recovery hook did not finish its notifications in ${timeoutMs} ms: ${JSON.stringify(counts)}`);
}
