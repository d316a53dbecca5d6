// XAPI method dispatch for the simulated pool: generic record accessors for every class, sessions, event.from,
// and the calls the recovery workflows make, with XAPI's error codes and parameter checks.
import { XapiError } from '../../core/errors.js';
import { type XapiClass, type XapiRecord, type XapiValue, XAPI_CLASSES, xapiDate } from '../model/types.js';
import type { HostRuntime, SimulatedPool } from '../pool.js';
import { hostShutdown, vmResume, vmSuspend } from '../suspend.js';

/** A plugin callable through host.call_plugin(host, plugin, fn, args). */
export type PluginHandler = (host: HostRuntime, fn: string, args: Record<string, string>) => Promise<string> | string;

export interface DispatchContext {
  pool: SimulatedPool;
  /** The host whose XAPI received the call. */
  on: HostRuntime;
  plugins: Map<string, PluginHandler>;
}

const CLASS_BY_LOWER = new Map(XAPI_CLASSES.map((c) => [c.toLowerCase(), c]));

function expectArgs(method: string, params: unknown[], n: number | [number, number]): void {
  const [min, max] = typeof n === 'number' ? [n, n] : n;
  if (params.length < min || params.length > max) throw new XapiError('MESSAGE_PARAMETER_COUNT_MISMATCH', [method, String(max), String(params.length)], method);
}

function str(method: string, v: unknown): string {
  if (typeof v !== 'string') throw new XapiError('FIELD_TYPE_ERROR', [method], method);
  return v;
}

export async function dispatch(ctx: DispatchContext, method: string, params: unknown[]): Promise<XapiValue> {
  const { pool, on } = ctx;
  const dot = method.indexOf('.');
  if (dot < 0) throw new XapiError('MESSAGE_METHOD_UNKNOWN', [method], method);
  const clsName = method.slice(0, dot);
  const op = method.slice(dot + 1);

  // Emergency mode, local logins and the emergency calls (simulator/master-loss.ts).
  const emergency = await pool.roles.dispatch(on, method, params);
  if (emergency !== undefined) return emergency;

  if (clsName === 'session') {
    if (op === 'login_with_password') {
      expectArgs(method, params, [2, 4]);
      return pool.login(str(method, params[0]), str(method, params[1]), String(params[3] ?? ''), on);
    }
    if (op === 'logout') {
      expectArgs(method, params, 1);
      pool.checkSession(params[0], method);
      pool.sessions.delete(params[0] as string);
      return '';
    }
  }
  // Members redirect pool sessions to the master once they reach it; local sessions they serve.
  await pool.roles.serveAsMember(on, params[0], method);
  pool.checkSession(params[0], method, on);
  const args = params.slice(1);

  if (clsName === 'event' && op === 'from') {
    expectArgs(method, args, 3);
    const classes = new Set((args[0] as string[]).map(String));
    const timeout = Math.min(Number(args[2]) || 0, 60);
    const result = await pool.store.eventsFrom(classes, String(args[1]), timeout);
    if (!result) throw new XapiError('EVENTS_LOST', [], method);
    return {
      events: result.events.map((e) => ({
        id: String(e.id),
        timestamp: e.timestamp,
        class: e.class.toLowerCase(),
        operation: e.operation,
        ref: e.ref,
        ...(e.snapshot ? { snapshot: e.snapshot } : {}),
      })),
      valid_ref_counts: {},
      token: result.token,
    };
  }

  const special = await dispatchAction(ctx, method, clsName.toLowerCase(), op, args);
  if (special !== undefined) return special;

  const cls = CLASS_BY_LOWER.get(clsName.toLowerCase());
  if (!cls) throw new XapiError('MESSAGE_METHOD_UNKNOWN', [method], method);
  return accessor(ctx, cls, method, op, args);
}

function accessor(ctx: DispatchContext, cls: XapiClass, method: string, op: string, args: unknown[]): XapiValue {
  const { store } = ctx.pool;
  const table = store.table(cls);
  const record = (ref: unknown): XapiRecord => {
    const rec = typeof ref === 'string' ? table.get(ref) : undefined;
    if (!rec) throw new XapiError('HANDLE_INVALID', [cls, String(ref)], method);
    return rec;
  };
  switch (op) {
    case 'get_all':
      expectArgs(method, args, 0);
      return [...table.keys()];
    case 'get_all_records': {
      expectArgs(method, args, 0);
      const out: Record<string, XapiValue> = {};
      for (const [ref, rec] of table) out[ref] = rec;
      return out;
    }
    case 'get_record':
      expectArgs(method, args, 1);
      return record(args[0]);
    case 'get_by_uuid': {
      expectArgs(method, args, 1);
      const hit = store.byUuid(str(method, args[0]));
      if (!hit || hit.cls !== cls) throw new XapiError('UUID_INVALID', [cls, String(args[0])], method);
      return hit.ref;
    }
    case 'get_by_name_label': {
      expectArgs(method, args, 1);
      return [...table].filter(([, r]) => r.name_label === args[0]).map(([ref]) => ref);
    }
  }
  // The generated setters of the RW fields `tags` (a Set String) and `name_label` (xen-api ocaml/idl/datamodel*.ml:
  // `field ~writer_roles:_R_VM_OP ... ~ty:(Set String) "tags"`; a Set field gets set_/add_/remove_ accessors).
  if (op === 'set_tags' || op === 'add_tags' || op === 'remove_tags' || op === 'set_name_label') {
    expectArgs(method, args, 2);
    const ref = args[0];
    const rec = record(ref);
    const field = op === 'set_name_label' ? 'name_label' : 'tags';
    if (!(field in rec)) throw new XapiError('MESSAGE_METHOD_UNKNOWN', [method], method);
    let value: XapiValue;
    if (op === 'set_tags') {
      if (!Array.isArray(args[1])) throw new XapiError('FIELD_TYPE_ERROR', ['tags'], method);
      value = [...new Set(args[1].map((v) => str(method, v)))];
    } else if (op === 'set_name_label') value = str(method, args[1]);
    else {
      const tag = str(method, args[1]);
      const tags = (rec.tags as string[]).filter((t) => t !== tag);
      value = op === 'add_tags' ? [...tags, tag] : tags;
    }
    store.mod(cls, ref as string, { [field]: value });
    return '';
  }
  if (op.startsWith('get_')) {
    expectArgs(method, args, 1);
    const field = op.slice(4);
    const rec = record(args[0]);
    const key = Object.keys(rec).find((k) => k.toLowerCase() === field.toLowerCase());
    if (!key) throw new XapiError('MESSAGE_METHOD_UNKNOWN', [method], method);
    return rec[key]!;
  }
  throw new XapiError('MESSAGE_METHOD_UNKNOWN', [method], method);
}

/** The state-changing calls. Returns undefined when `method` is not one of them. */
async function dispatchAction(ctx: DispatchContext, method: string, cls: string, op: string, args: unknown[]): Promise<XapiValue | undefined> {
  const { pool } = ctx;
  const ref = () => str(method, args[0]);
  if (cls === 'pool' && op === 'recover_slaves') {
    expectArgs(method, args, 0);
    return pool.roles.recoverSlaves(ctx.on, method);
  }
  // Pushes the database to every member now (ocaml/xapi/xapi_pool.ml sync_database; simulator/db-backup.ts) — unless
  // HA is enabled: then xapi flushes it to the HA metadata VDI and, that done, "assuming this is sufficient", pushes it
  // to no member (the flush is modelled as succeeding).
  if (cls === 'pool' && op === 'sync_database') {
    expectArgs(method, args, 0);
    if (!pool.store.get('pool', pool.poolRef)!.ha_enabled) pool.dbBackups.syncAll();
    return '';
  }
  if (cls === 'vm') {
    switch (op) {
      case 'start':
        expectArgs(method, args, 3);
        await pool.vmStart(ref(), null, method);
        return '';
      case 'start_on':
        expectArgs(method, args, 4);
        await pool.vmStart(ref(), str(method, args[1]), method);
        return '';
      case 'hard_reboot':
      case 'clean_reboot':
        expectArgs(method, args, 1);
        await pool.vmHardReboot(ref(), method);
        return '';
      case 'hard_shutdown':
      case 'clean_shutdown':
      case 'shutdown':
        expectArgs(method, args, 1);
        pool.vmShutdown(ref(), method);
        return '';
      case 'suspend':
        expectArgs(method, args, 1);
        await vmSuspend(pool, ref(), method);
        return '';
      case 'resume':
        expectArgs(method, args, 3);
        await vmResume(pool, ref(), null, args[1] === true, method);
        return '';
      case 'resume_on':
        expectArgs(method, args, 4);
        await vmResume(pool, ref(), str(method, args[1]), args[2] === true, method);
        return '';
      case 'pause':
        expectArgs(method, args, 1);
        pool.vmPause(ref(), method);
        return '';
      case 'unpause':
        expectArgs(method, args, 1);
        pool.vmUnpause(ref(), method);
        return '';
      case 'power_state_reset':
        expectArgs(method, args, 1);
        pool.vmPowerStateReset(ref(), method);
        return '';
      case 'assert_can_boot_here':
        expectArgs(method, args, 2);
        pool.assertCanStartOn(ref(), str(method, args[1]), method);
        return '';
    }
  }
  if (cls === 'host') {
    switch (op) {
      case 'disable':
        expectArgs(method, args, [1, 2]);
        pool.hostDisable(ref(), method);
        return '';
      case 'enable':
        expectArgs(method, args, 1);
        pool.hostEnable(ref(), method);
        return '';
      case 'shutdown':
        expectArgs(method, args, 1);
        hostShutdown(pool, ref(), method);
        return '';
      case 'get_servertime':
        expectArgs(method, args, 1);
        return xapiDate(Date.now());
      case 'call_plugin': {
        expectArgs(method, args, 4);
        const host = pool.hostByRef(ref());
        if (!host) throw new XapiError('HANDLE_INVALID', ['host', ref()], method);
        if (!pool.answers(host)) throw new XapiError('HOST_OFFLINE', [host.ref], method);
        const plugin = ctx.plugins.get(str(method, args[1]));
        if (!plugin) throw new XapiError('XENAPI_MISSING_PLUGIN', [String(args[1])], method);
        return plugin(host, str(method, args[2]), (args[3] ?? {}) as Record<string, string>);
      }
    }
  }
  return undefined;
}
