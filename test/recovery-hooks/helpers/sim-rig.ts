// End-to-end rig: a simulated pool (with xapi's stock `echo` plugin) and a recovery-hook receiver that talks to it
// with the real XAPI client, fences through the real CommandFencer whose command lines run the simulator's CLI as a
// BMC (`xcp-sentinel simulate power-off|power-status {bmc} --ipmitool-output`), and stores in a real SQLite file.
// Every simulated call that changes a VM or a host's power is counted, so tests can prove nothing ran twice.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { stringify } from 'yaml';
import { XapiClient } from '../../../core/xapi/client.js';
import type { RecoveryHookOptions } from '../../../recovery-hooks/main.js';
import type { Ref } from '../../../simulator/model/types.js';
import type { Simulation, SimulationOptions } from '../../../simulator/run.js';
import { stockPlugins } from '../../../simulator/xapi/stock-plugins.js';
import { poolConfigFor, startSim } from '../../helpers/sim.js';
import { ALL_SCOPES, type Hook, TOKEN, startHook, tempDir } from './harness.js';
import { type BundleConfig, parseConfig } from '../../../cli/config/bundle.js';
import { isObject } from '../../../core/guards.js';
import { waitFor } from '../../../core/concurrency.js';

export { TOKEN };

export const CLI = fileURLToPath(new URL('../../../cli/main.ts', import.meta.url));
/** The simulator's CLI as a command line (no shell: split on whitespace by the receiver). */
export const SIM_CLI = `${process.execPath} --import tsx ${CLI} simulate`;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `check` until it returns something other than undefined/false; fail with `what` after `timeoutMs`. */
export function waitUntil<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  return waitFor(what, check, { timeoutMs, everyMs });
}

export interface SimHost {
  name: string;
  uuid: string;
  address: string;
  ref: Ref;
  master: boolean;
}

export interface SimVm {
  name: string;
  uuid: string;
  ref: Ref;
}

/** What the simulated pool was asked to do, in order (VM uuids; host names for power). */
export interface SimCalls {
  /** VM.start and VM.start_on, at the moment XAPI accepted them. */
  starts: string[];
  resets: string[];
  reboots: string[];
  powerOffs: string[];
  toolstackRestarts: string[];
}

export interface RigOptions {
  sim?: Partial<SimulationOptions>;
  /** Merged over the recovery_hook section (snake_case, as in the YAML file). */
  recoveryHook?: Record<string, unknown>;
  /** Merged over recovery_hook.pools.<pool> (fencing: false removes fencing). */
  pool?: Record<string, unknown>;
  /** Merged over recovery_hook.pools.<pool>.fencing (a function gets the simulator's control URL). */
  fencing?: Record<string, unknown> | ((controlUrl: string) => Record<string, unknown>);
  hook?: RecoveryHookOptions;
  /** Start the receiver in this process (default true; false for a receiver in a child process). */
  start?: boolean;
}

export interface Rig {
  sim: Simulation;
  dir: string;
  configFile: string;
  config: BundleConfig;
  /** The in-process receiver (undefined with start: false). */
  hook?: Hook;
  /** A client of the simulated pool for the test's own setup (pause, shutdown…). */
  xapi: XapiClient;
  calls: SimCalls;
  poolName: string;
  poolUuid: string;
  hosts: SimHost[];
  host(name: string): SimHost;
  /** Non-control-domain VMs the pool database lists as resident on `host`. */
  residentVms(host: SimHost): SimVm[];
  vmStatus(vm: string): Promise<any>;
  hostStatus(host: string): Promise<any>;
  control(path: string, body?: unknown): Promise<any>;
  /** Start another receiver on the same store file (after a kill or a stop). */
  startHook(options?: RecoveryHookOptions): Promise<Hook>;
}

function merge(base: Record<string, unknown>, over: Record<string, unknown> | undefined): Record<string, unknown> {
  const out = { ...base };
  for (const [k, v] of Object.entries(over ?? {})) out[k] = isObject(v) && isObject(out[k]) ? merge(out[k] as Record<string, unknown>, v) : v;
  return out;
}

/** Timings for tests: short polls and timeouts; the probe bound stays generous for a loaded 2-core machine. */
export const RIG_HOOK_OPTIONS: RecoveryHookOptions = { pollIntervalMs: 50, probeTimeoutMs: 3000 };

export async function startRig(t: Test, o: RigOptions = {}): Promise<Rig> {
  const sim = await startSim({ plugins: stockPlugins(), ...o.sim });
  t.teardown(() => sim.stop());
  const { pool: simPool } = sim;
  const { store } = simPool;
  const poolName = simPool.options.name;
  const poolUuid = store.get('pool', simPool.poolRef)!.uuid as string;
  const hosts: SimHost[] = simPool.hosts.map((h) => {
    const rec = store.get('host', h.ref)!;
    return { name: rec.name_label as string, uuid: rec.uuid as string, address: h.address, ref: h.ref, master: h.ref === simPool.master.ref };
  });

  const calls: SimCalls = { starts: [], resets: [], reboots: [], powerOffs: [], toolstackRestarts: [] };
  const uuidOf = (ref: Ref) => String(store.get('VM', ref)?.uuid ?? ref);
  const vmStart = simPool.vmStart.bind(simPool);
  simPool.vmStart = (vmRef, hostRef, method) => {
    // Counted once XAPI accepted the call (the VM is placed at once, the answer comes after the boot delay).
    const before = store.get('VM', vmRef)?.power_state;
    const done = vmStart(vmRef, hostRef, method);
    if (before === 'Halted' && store.get('VM', vmRef)?.power_state === 'Running') calls.starts.push(uuidOf(vmRef));
    return done;
  };
  const reset = simPool.vmPowerStateReset.bind(simPool);
  simPool.vmPowerStateReset = (vmRef, method) => {
    reset(vmRef, method);
    calls.resets.push(uuidOf(vmRef));
  };
  const reboot = simPool.vmHardReboot.bind(simPool);
  simPool.vmHardReboot = (vmRef, method) => {
    calls.reboots.push(uuidOf(vmRef));
    return reboot(vmRef, method);
  };
  const powerOff = simPool.powerOff.bind(simPool);
  simPool.powerOff = (h) => {
    calls.powerOffs.push(store.get('host', h.ref)!.name_label as string);
    powerOff(h);
  };
  const restartToolstack = simPool.restartToolstack.bind(simPool);
  simPool.restartToolstack = (h) => {
    calls.toolstackRestarts.push(store.get('host', h.ref)!.name_label as string);
    restartToolstack(h);
  };

  const dir = tempDir();
  const fencing = merge(
    {
      user: 'admin',
      password: 'simulated-bmc-password',
      // The simulator's CLI as the BMC tool, printing ipmitool's wording; {bmc} is the host's simulated BMC address.
      power_off_command: `${SIM_CLI} power-off {bmc} --control ${sim.controlUrl} --ipmitool-output`,
      power_status_command: `${SIM_CLI} power-status {bmc} --control ${sim.controlUrl} --ipmitool-output`,
      bmc: Object.fromEntries(hosts.map((h) => [h.name, h.address])),
      command_timeout_seconds: 20,
      confirm_timeout_seconds: 5,
    },
    typeof o.fencing === 'function' ? o.fencing(sim.controlUrl) : o.fencing,
  );
  const poolSection = merge({ mode: 'auto', hosts: hosts.map((h) => ({ name: h.name, uuid: h.uuid })), fencing }, o.pool);
  if (poolSection.fencing === false) delete poolSection.fencing;
  const doc = {
    pools: [
      {
        name: poolName,
        url: sim.url,
        username: simPool.options.username,
        password: simPool.options.password,
        timeouts: { login_seconds: 6, call_seconds: 10 },
      },
    ],
    recovery_hook: merge(
      {
        listen: '127.0.0.1:0',
        store_path: join(dir, 'recovery.sqlite'),
        tokens: [{ name: 'test', token: TOKEN, scopes: ALL_SCOPES }],
        tick_seconds: 0.05,
        shutdown_grace_seconds: 2,
        task_defaults: { timeout_seconds: 30, retries: 0, retry_delay_seconds: 0.1 },
        host_failure: { restart_unprotected: true, parallel_starts: 3, start_timeout_seconds: 10 },
        instance_failure: { heartbeat_timeout_seconds: 2, confirm_timeout_seconds: 5 },
        process_failure: { confirm_timeout_seconds: 2 },
        pools: { [poolName]: poolSection },
      },
      o.recoveryHook,
    ),
  };
  const configFile = join(dir, 'config.yaml');
  writeFileSync(configFile, stringify(doc));
  const config = parseConfig(stringify(doc), configFile);

  const xapi = XapiClient.forPool(poolConfigFor(sim));
  t.teardown(() => xapi.logout());

  const control = async (path: string, body?: unknown) => {
    const res = await fetch(
      sim.controlUrl + path,
      body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
    );
    const json = await res.json();
    if (!res.ok) throw new Error(`control ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };

  const rig: Rig = {
    sim,
    dir,
    configFile,
    config,
    xapi,
    calls,
    poolName,
    poolUuid,
    hosts,
    host(name) {
      const h = hosts.find((x) => x.name === name || x.uuid === name);
      if (!h) throw new Error(`no simulated host ${name}`);
      return h;
    },
    residentVms(host) {
      return (store.get('host', host.ref)!.resident_VMs as Ref[])
        .filter((ref) => !store.get('VM', ref)!.is_control_domain)
        .map((ref) => ({ ref, name: store.get('VM', ref)!.name_label as string, uuid: store.get('VM', ref)!.uuid as string }));
    },
    vmStatus: (vm) => control(`/sim/vms/${encodeURIComponent(vm)}`),
    hostStatus: (host) => control(`/sim/hosts/${encodeURIComponent(host)}`),
    control,
    async startHook(options = {}) {
      const hook = await startHook(config, { ...RIG_HOOK_OPTIONS, ...o.hook, ...options });
      t.teardown(() => hook.stop());
      return hook;
    },
  };
  if (o.start !== false) rig.hook = await rig.startHook();
  return rig;
}

// ---- Alertmanager webhooks, as the rules in rules/xcp-alerts.yml label them ---------------------------------------

export interface AlertSpec {
  alertname: string;
  labels: Record<string, string>;
  status?: 'firing' | 'resolved';
  startsAt?: string;
  endsAt?: string;
}

/** Alertmanager's fingerprint is a hash of the label set: the same alert from two Alertmanagers has the same one. */
export function fingerprintOf(labels: Record<string, string>): string {
  const sorted = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex').slice(0, 16);
}

export function hostDownAlert(rig: Rig, host: SimHost, over: Partial<AlertSpec> = {}): AlertSpec {
  return {
    alertname: 'XcpHostDown',
    labels: {
      severity: 'critical',
      component: 'host',
      xcp_notification_type: 'COMPUTE_HOST',
      recovery: 'true',
      pool_id: rig.poolUuid,
      pool_name: rig.poolName,
      host_uuid: host.uuid,
      host_name: host.name,
    },
    ...over,
  };
}

/** XcpPoolMasterLost as rules/lib/groups/master.ts labels it: a COMPUTE_HOST for the master, xcp_failure="pool_master". */
export function masterLostAlert(rig: Rig, host: SimHost, over: Partial<AlertSpec> = {}): AlertSpec {
  return {
    alertname: 'XcpPoolMasterLost',
    labels: {
      severity: 'critical',
      component: 'pool',
      xcp_notification_type: 'COMPUTE_HOST',
      xcp_failure: 'pool_master',
      recovery: 'true',
      pool_id: rig.poolUuid,
      pool_name: rig.poolName,
      host_uuid: host.uuid,
      host_name: host.name,
    },
    ...over,
  };
}

export function instanceAlert(
  rig: Rig,
  vm: { uuid: string; name: string },
  host: SimHost,
  kind: 'crashed' | 'heartbeat',
  over: Partial<AlertSpec> = {},
): AlertSpec {
  return {
    alertname: kind === 'crashed' ? 'XcpVmHaltedUnexpectedly' : 'XcpVmGuestHeartbeatLost',
    labels: {
      severity: 'critical',
      component: 'vm',
      xcp_notification_type: 'COMPUTE_INSTANCE',
      recovery: 'true',
      pool_id: rig.poolUuid,
      pool_name: rig.poolName,
      vm_uuid: vm.uuid,
      vm_name: vm.name,
      host_uuid: host.uuid,
      host_name: host.name,
      xcp_instance_event: kind,
    },
    ...over,
  };
}

export function toolstackDownAlert(rig: Rig, host: SimHost, over: Partial<AlertSpec> = {}): AlertSpec {
  return {
    alertname: 'XcpToolstackDown',
    labels: {
      severity: 'critical',
      component: 'toolstack',
      xcp_notification_type: 'COMPUTE_PROCESS',
      recovery: 'true',
      process_name: 'xapi',
      pool_id: rig.poolUuid,
      pool_name: rig.poolName,
      host_uuid: host.uuid,
      host_name: host.name,
    },
    ...over,
  };
}

/** A version-4 webhook body for one group, as Alertmanager sends it. */
export function webhookBody(alerts: AlertSpec[], opts: { receiver?: string; externalURL?: string } = {}): Record<string, unknown> {
  const full = alerts.map((a) => {
    const labels = { alertname: a.alertname, ...a.labels };
    return {
      status: a.status ?? 'firing',
      labels,
      annotations: { summary: `${a.alertname} (end-to-end test)` },
      startsAt: a.startsAt ?? new Date(Date.now() - 120_000).toISOString(),
      endsAt: a.endsAt ?? '0001-01-01T00:00:00Z',
      generatorURL: `http://prometheus.test/graph?g0.expr=${a.alertname}`,
      fingerprint: fingerprintOf(labels),
    };
  });
  const common = full.length
    ? Object.fromEntries(Object.entries(full[0]!.labels).filter(([k, v]) => full.every((a) => (a.labels as Record<string, string>)[k] === v)))
    : {};
  const groupLabels = { alertname: alerts[0]?.alertname ?? '', pool_name: String(common.pool_name ?? '') };
  return {
    version: '4',
    groupKey: `{}/{recovery="true"}:{alertname="${groupLabels.alertname}", pool_name="${groupLabels.pool_name}"}`,
    truncatedAlerts: 0,
    status: full.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    receiver: opts.receiver ?? 'xcp-recovery-hook',
    groupLabels,
    commonLabels: common,
    commonAnnotations: {},
    externalURL: opts.externalURL ?? 'http://alertmanager-1.test:9093',
    alerts: full,
  };
}

export interface Receipt {
  fingerprint: string;
  status: string;
  outcome: string;
  notification_uuid?: string;
  reason?: string;
}

export async function postWebhook(hook: Hook, body: Record<string, unknown>): Promise<Receipt[]> {
  const res = await hook.request('POST', '/alertmanager', { body });
  if (res.status !== 202) throw new Error(`webhook answered ${res.status}: ${res.text}`);
  return res.json.receipts as Receipt[];
}

/** POST one alert; the notification uuid it created (or was deduplicated onto). */
export async function fire(hook: Hook, alert: AlertSpec): Promise<string> {
  const [receipt] = await postWebhook(hook, webhookBody([alert]));
  if (!receipt?.notification_uuid) throw new Error(`alert not recorded: ${JSON.stringify(receipt)}`);
  return receipt.notification_uuid;
}

// ---- the Masakari API view of a notification ------------------------------------------------------------------

/** GET /v1/notifications/{id} at microversion 1.1: with recovery_workflow_details. */
export async function notification(hook: Hook, uuid: string): Promise<any> {
  const res = await hook.request('GET', `/v1/notifications/${uuid}`, { headers: { 'OpenStack-API-Version': 'instance-ha 1.1' } });
  if (res.status !== 200) throw new Error(`GET notification ${uuid}: ${res.status} ${res.text}`);
  return res.json.notification;
}

/** GET /v1/notifications/{id}/vmoves at microversion 1.3. */
export async function vmoves(hook: Hook, uuid: string): Promise<any[]> {
  const res = await hook.request('GET', `/v1/notifications/${uuid}/vmoves`, { headers: { 'OpenStack-API-Version': 'instance-ha 1.3' } });
  if (res.status !== 200) throw new Error(`GET vmoves ${uuid}: ${res.status} ${res.text}`);
  return res.json.vmoves;
}

export const TERMINAL = ['finished', 'ignored', 'failed'];

/** Wait until the notification reaches a terminal status (or one of `statuses`); the 1.1 view. */
export async function settled(hook: Hook, uuid: string, statuses = TERMINAL, timeoutMs = 30_000): Promise<any> {
  return waitUntil(
    `notification ${uuid} to reach ${statuses.join('/')}`,
    async () => {
      const n = await notification(hook, uuid);
      return statuses.includes(n.status) ? n : undefined;
    },
    timeoutMs,
  );
}

/** Wait until the notification waits for an operator (operator_wait set); its 1.1 view. Fails if it ends first. */
export async function untilWaiting(rig: Rig, uuid: string): Promise<any> {
  return waitUntil(
    `notification ${uuid} to wait for an operator`,
    async () => {
      const n = await notification(rig.hook!, uuid);
      if (TERMINAL.includes(n.status)) throw new Error(`ended ${n.status}: ${n.message}`);
      return n.operator_wait ? n : undefined;
    },
    30_000,
  );
}

/** Every progress message of a notification's workflow, as "task: message". */
export function progressLines(n: any): string[] {
  return (n.recovery_workflow_details as any[]).flatMap((task) => (task.progress_details as any[]).map((d) => `${task.name}: ${d.message}`));
}

/** task name → state. */
export function taskStates(n: any): Record<string, string> {
  return Object.fromEntries((n.recovery_workflow_details as any[]).map((task) => [task.name, task.state]));
}

/** Wait until the master's view says the host is not live (hostDeadAfterMs after it stopped answering). */
export async function untilNotLive(rig: Rig, host: SimHost): Promise<void> {
  await waitUntil(`host ${host.name} to be not live`, async () => (await rig.hostStatus(host.name)).live === false, 10_000);
}

/** A non-master host with at least `min` running VMs, failed (hung: powered, not answering) and seen as not live. */
export async function failMemberHost(rig: Rig, min = 3): Promise<SimHost> {
  const victim = rig.hosts.find((h) => !h.master && rig.residentVms(h).length >= min);
  if (!victim) throw new Error(`no member host with ${min} running VMs`);
  await rig.control(`/sim/hosts/${victim.name}/fail`, {});
  await untilNotLive(rig, victim);
  return victim;
}

export function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
