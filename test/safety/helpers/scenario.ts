// One row of the safety matrix: a scenario against the simulated pool and a real receiver, watched by the safety
// monitor from start to end. Each scenario asserts its expected outcome and that the three counts are 0, and writes
// its row (JSON) to the results directory that `npm run safety` turns into the table.
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import t from 'tap';
import type { HostRuntime } from '../../../simulator/pool.js';
import { type Hook, requestTo } from '../../recovery-hooks/helpers/harness.js';
import {
  type Rig,
  type RigOptions,
  type SimHost,
  TOKEN,
  TERMINAL,
  notification,
  startRig,
  untilNotLive,
  waitUntil,
} from '../../recovery-hooks/helpers/sim-rig.js';
import { type Counts, SafetyMonitor } from './monitor.js';

export const RESULTS_DIR = process.env.XCP_SENTINEL_SAFETY_RESULTS ?? join(tmpdir(), 'xcp-sentinel-safety');

/** Tokens of the matrix: the Alertmanager/API token, a writer without fence:assert, and an operator's. */
export const WRITER_TOKEN = 'writer-token-0123456789';
export const OPERATOR_TOKEN = 'operator-token-0123456789';
export const ASSERT_TOKEN = 'asserter-token-0123456789';
const SCOPED_TOKENS = [
  { name: 'alertmanager', token: TOKEN, scopes: ['alertmanager', 'notifications:read'] },
  { name: 'writer', token: WRITER_TOKEN, scopes: ['notifications:write', 'notifications:read'] },
  { name: 'asserter', token: ASSERT_TOKEN, scopes: ['notifications:write', 'notifications:read', 'fence:assert'] },
  { name: 'operator', token: OPERATOR_TOKEN, scopes: ['fence:confirm', 'notifications:read'] },
];

export interface ScenarioContext {
  t: Test;
  rig: Rig;
  monitor: SafetyMonitor;
  /** The simulator's runtime state of a host. */
  runtime(host: SimHost): HostRuntime;
  /** Tokens with scopes are configured (false on a build without scopes: everything uses TOKEN). */
  scoped: boolean;
}

export interface ScenarioDef {
  name: string;
  /** The expected outcome, in words (it is printed in the table). */
  expected: string;
  rig?: RigOptions;
  /** Why it cannot run here (a missing peer), or false. */
  skip?: string | false;
  /** Runs the scenario, asserts its expected outcome; returns the outcome as measured, in a few words. */
  run(ctx: ScenarioContext): Promise<string>;
}

export interface ScenarioRow {
  name: string;
  expected: string;
  outcome: string;
  counts: Counts;
  samples: number;
  durationMs: number;
  /** Expected outcome reached and every count 0. */
  ok: boolean;
  violations: { twice: Record<string, string[]>; healthyOff: string[]; leftDown: string[] };
}

/** The simulator's CLI as a BMC tool, loading only the simulate command. */
export const BMC_CLI = `${process.execPath} --import tsx ${fileURLToPath(new URL('./bmc-cli.ts', import.meta.url))}`;

/** The simulator as every host's BMC, through the light CLI entry; the scenario's own fencing keys win. */
function withMatrixDefaults(o: RigOptions): RigOptions {
  const fencing = o.fencing;
  return {
    ...o,
    fencing: (controlUrl) => ({
      power_off_command: `${BMC_CLI} power-off {bmc} --control ${controlUrl} --ipmitool-output`,
      power_status_command: `${BMC_CLI} power-status {bmc} --control ${controlUrl} --ipmitool-output`,
      ...(typeof fencing === 'function' ? fencing(controlUrl) : fencing),
    }),
    // Room for slow BMC commands on a loaded machine: a task timeout is not what the matrix measures.
    recoveryHook: { task_defaults: { timeout_seconds: 90, retries: 0, retry_delay_seconds: 0.1 }, ...o.recoveryHook },
  };
}

async function rigWithTokens(t: Test, given: RigOptions = {}): Promise<{ rig: Rig; scoped: boolean }> {
  const o = withMatrixDefaults(given);
  try {
    return { rig: await startRig(t, { ...o, recoveryHook: { tokens: SCOPED_TOKENS, ...o.recoveryHook } }), scoped: true };
  } catch (err) {
    // A build whose config has no token scopes (main before #16): measure it anyway, with the one token.
    if (!/scopes/.test(String((err as Error).message))) throw err;
    return { rig: await startRig(t, o), scoped: false };
  }
}

export function scenario(def: ScenarioDef): void {
  t.test(def.name, { skip: def.skip }, async (t) => {
    const started = Date.now();
    const { rig, scoped } = await rigWithTokens(t, def.rig);
    const monitor = new SafetyMonitor(rig.sim.pool);
    monitor.start();
    const runtime = (h: SimHost) => rig.sim.pool.hostByRef(h.ref)!;
    let outcome: string;
    try {
      outcome = await def.run({ t, rig, monitor, runtime, scoped });
    } catch (err) {
      outcome = `error: ${(err as Error).message.slice(0, 160)}`;
      t.fail(`the scenario did not complete: ${(err as Error).message}`);
    }
    const counts = monitor.stop();
    const v = monitor.violations;
    t.equal(counts.twice, 0, `VMs ever running on two hosts: ${[...v.twice].map(([vm, hosts]) => `${vm} on ${hosts.join(' and ')}`).join('; ') || 'none'}`);
    t.equal(counts.healthyOff, 0, `healthy hosts powered off: ${v.healthyOff.join('; ') || 'none'}`);
    t.equal(counts.leftDown, 0, `VMs left halted that should run: ${v.leftDown.join(', ') || 'none'}`);
    // At least one sample between the first (at start) and the last (at stop), one every 250 ms.
    t.ok(monitor.samples >= 2 + Math.floor((Date.now() - started) / 1000), `the monitor sampled during the scenario (${monitor.samples} samples)`);
    const row: ScenarioRow = {
      name: def.name,
      expected: def.expected,
      outcome,
      counts,
      samples: monitor.samples,
      durationMs: Date.now() - started,
      ok: t.passing(),
      violations: { twice: Object.fromEntries(v.twice), healthyOff: v.healthyOff, leftDown: v.leftDown },
    };
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(join(RESULTS_DIR, `${def.name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.json`), JSON.stringify(row, null, 2));
  });
}

// ---- steps scenarios share ------------------------------------------------------------------------------------

/** A member host with at least `min` guests running on it. */
export function memberWithVms(rig: Rig, min = 3, except: SimHost[] = []): SimHost {
  const h = rig.hosts.find((x) => !x.master && !except.includes(x) && rig.residentVms(x).length >= min);
  if (!h) throw new Error(`no member host with ${min} running VMs`);
  return h;
}

/** Hang (or partition) `host`, tell the monitor, and wait until the master sees it not live. */
export async function failHost(ctx: ScenarioContext, host: SimHost, how: 'fail' | 'partition' = 'fail', mayFence = true): Promise<void> {
  ctx.monitor.fault(ctx.runtime(host), { mayFence });
  await ctx.rig.control(`/sim/hosts/${host.name}/${how}`, {});
  await untilNotLive(ctx.rig, host);
}

/** Wait until the notification ends or waits for an operator; the 1.1 view. */
export async function untilSettledOrWaiting(hook: Hook, uuid: string, timeoutMs = 45_000): Promise<any> {
  return waitUntil(
    `notification ${uuid} to end or wait for an operator`,
    async () => {
      const n = await notification(hook, uuid);
      return TERMINAL.includes(n.status) || n.operator_wait ? n : undefined;
    },
    timeoutMs,
    100,
  );
}

export async function untilSettled(hook: Hook, uuid: string, timeoutMs = 45_000): Promise<any> {
  return waitUntil(
    `notification ${uuid} to end`,
    async () => {
      const n = await notification(hook, uuid);
      return TERMINAL.includes(n.status) ? n : undefined;
    },
    timeoutMs,
    100,
  );
}

/** POST …/confirm-fenced as the operator. */
export async function confirmFenced(hook: Hook, uuid: string, hostUuid: string): Promise<{ status: number; json: any }> {
  const res = await hook.request('POST', `/v1/notifications/${uuid}/confirm-fenced`, {
    body: { host_uuid: hostUuid },
    headers: { 'X-Auth-Token': OPERATOR_TOKEN },
  });
  return { status: res.status, json: res.json };
}

/** Where each VM's domain runs now (simulator truth): VM name → host names. */
export function whereVmsRun(ctx: ScenarioContext, vms: { ref: string; name: string }[]): Record<string, string[]> {
  const { truth, store } = ctx.rig.sim.pool;
  return Object.fromEntries(vms.map((vm) => [vm.name, truth.hostsRunning(vm.ref).map((h) => String(store.get('host', h)!.name_label))]));
}

/** The VMs that run on exactly one host, and not on `notOn`. */
export function runElsewhere(ctx: ScenarioContext, vms: { ref: string; name: string }[], notOn: SimHost): number {
  return Object.values(whereVmsRun(ctx, vms)).filter((hosts) => hosts.length === 1 && hosts[0] !== notOn.name).length;
}

/** The VMs that run on exactly one host (any). */
export function runOnce(ctx: ScenarioContext, vms: { ref: string; name: string }[]): number {
  return Object.values(whereVmsRun(ctx, vms)).filter((hosts) => hosts.length === 1).length;
}

/** The operator pulls the plug (the BMC cannot be used): the chassis power goes off, as XAPI's host sees it. */
export async function pullPlug(ctx: ScenarioContext, host: SimHost): Promise<void> {
  ctx.rig.sim.pool.powerOff(ctx.runtime(host));
  await ctx.rig.sim.server.sync();
}

/** A short description of a notification's end: status, operator wait, message. */
export function describe(n: any): string {
  if (n.operator_wait) return `waits for operator (${n.operator_wait.kind})`;
  return `${n.status}${n.message ? `: ${String(n.message).slice(0, 90)}` : ''}`;
}

/** A receiver in a child process, seen through the same `request` as an in-process one. */
export function remoteHook(url: string): Hook {
  return { url, request: requestTo(url) } as unknown as Hook;
}

/** The receiver's xcp_recovery_waiting_for_operator gauge for a host and kind (undefined when absent). */
export async function waitingGauge(hook: Hook, host: SimHost, kind: string): Promise<number | undefined> {
  const text = await (await fetch(`${hook.url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('xcp_recovery_waiting_for_operator{') && l.includes(`host_uuid="${host.uuid}"`) && l.includes(`kind="${kind}"`));
  return line ? Number(line.split(' ').pop()) : undefined;
}
