// The narrow XAPI surface the workflows use: core/xapi's XapiCaller (`call` prepends the session and throws XapiError
// with code and params), plus the record shapes and helpers the workflows read. Field values are read leniently:
// JSON-RPC sends numbers, XML-RPC int64 as strings, and dates as "20260101T12:00:00Z".
import { XapiError } from '../../core/errors.js';
import type { XapiCaller } from '../../core/xapi/client.js';

export type Xapi = XapiCaller;

export const NULL_REF = 'OpaqueRef:NULL';

export type PowerState = 'Halted' | 'Paused' | 'Running' | 'Suspended';

export interface HostRecord {
  uuid: string;
  name_label: string;
  address: string;
  enabled: boolean;
  metrics: string;
}

export interface VmRecord {
  uuid: string;
  name_label: string;
  power_state: PowerState;
  resident_on: string;
  ha_restart_priority: string;
  order: number | string;
  memory_static_max: number | string;
  is_control_domain: boolean;
  is_a_template: boolean;
  is_a_snapshot?: boolean;
  guest_metrics: string;
  metrics: string;
  blocked_operations?: Record<string, string>;
}

/** A guest VM: not a host's control domain, a template or a snapshot (what a recovery may restart). */
export function isGuest(vm: Pick<VmRecord, 'is_control_domain' | 'is_a_template' | 'is_a_snapshot'>): boolean {
  return !vm.is_control_domain && !vm.is_a_template && !vm.is_a_snapshot;
}

export function xapiNumber(value: unknown): number {
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? n : 0;
}

/** Parse XAPI's "YYYYMMDDTHH:MM:SSZ" (or ISO-8601) into epoch ms; NaN when unparseable. */
export function xapiTime(value: unknown): number {
  const s = String(value ?? '');
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?Z?$/.exec(s);
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) : Date.parse(s);
}

export function isXapiError(err: unknown, ...codes: string[]): err is XapiError {
  return err instanceof XapiError && (codes.length === 0 || codes.includes(err.code));
}

/** A host by uuid, with its ref. */
export async function hostByUuid(xapi: Xapi, uuid: string): Promise<{ ref: string; record: HostRecord }> {
  const ref = await xapi.call<string>('host.get_by_uuid', uuid);
  return { ref, record: await xapi.call<HostRecord>('host.get_record', ref) };
}

export async function vmByUuid(xapi: Xapi, uuid: string): Promise<{ ref: string; record: VmRecord }> {
  const ref = await xapi.call<string>('VM.get_by_uuid', uuid);
  return { ref, record: await xapi.call<VmRecord>('VM.get_record', ref) };
}

/**
 * VM_guest_metrics.last_updated, or undefined without guest tools. xapi writes it when a new domain's agent first
 * reports and when the agent's static data changes, not periodically (xapi_guest_agent.ml): it confirms that a VM
 * just started or rebooted has a live agent; it says nothing about a guest that has run for a while.
 */
export async function guestHeartbeat(xapi: Xapi, vm: VmRecord): Promise<number | undefined> {
  if (!vm.guest_metrics || vm.guest_metrics === NULL_REF) return undefined;
  const t = xapiTime(await xapi.call<string>('VM_guest_metrics.get_last_updated', vm.guest_metrics));
  return Number.isNaN(t) ? undefined : t;
}

/** Poll `check` every `intervalMs` until it returns a value or `timeoutMs` passes (then undefined). */
export async function waitFor<T>(
  check: () => Promise<T | undefined>,
  opts: { timeoutMs: number; intervalMs: number; now: () => number; sleep: (ms: number) => Promise<void> },
): Promise<T | undefined> {
  const deadline = opts.now() + opts.timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (opts.now() >= deadline) return undefined;
    await opts.sleep(Math.min(opts.intervalMs, Math.max(0, deadline - opts.now())));
  }
}

/**
 * Does XAPI on the host itself answer? `host.call_plugin` is forwarded by the master to the host, and xapi's stock
 * `echo` plugin answers without side effects. Any error or no answer within `timeoutMs` means no.
 */
export async function hostAnswers(xapi: Xapi, hostRef: string, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  const probe = xapi.call('host.call_plugin', hostRef, 'echo', 'main', {}).then(
    () => true,
    () => false,
  );
  try {
    return await Promise.race([probe, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
