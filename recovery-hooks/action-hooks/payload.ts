// The JSON documents sent to action hooks: Xen Orchestra's web-hooks payload ({type, callId, method, params,
// timestamp}; post adds duration and result or error) with `notification` where XO has its user. Params and results
// are made JSON-safe and stripped of anything secret before they leave.
import { Secret } from '../../core/config/secret.js';
import type { Notification } from '../store/types.js';
import type { ActionMethod } from './config.js';

/** The notification an action belongs to, as receivers see it. */
export interface ActionNotification {
  uuid: string;
  type: string;
  host: string;
  pool: string;
}

export interface ActionCall {
  method: ActionMethod;
  params: Record<string, unknown>;
  notification: ActionNotification;
  /** The workflow task acting (recorded in the notification's activity, not sent). */
  task?: string;
}

export interface PrePayload {
  type: 'pre';
  callId: string;
  notification: ActionNotification;
  method: ActionMethod;
  params: unknown;
  /** Epoch milliseconds. */
  timestamp: number;
}

export interface PostPayload extends Omit<PrePayload, 'type'> {
  type: 'post';
  /** Milliseconds the action took. */
  duration: number;
  result?: unknown;
  /** The action's error message (never a stack). */
  error?: string;
}

const SECRET_KEY = /pass|secret|token|key|credential/i;
const MAX_DEPTH = 8;

export function actionNotification(n: Notification): ActionNotification {
  return { uuid: n.uuid, type: n.type, host: n.hostName, pool: n.poolName };
}

/** A JSON-safe copy of `value` without secret-looking keys or Secret values (undefined when nothing is left). */
export function sanitise(value: unknown): unknown {
  return safe(value, 0, new Set());
}

function safe(value: unknown, depth: number, ancestors: Set<object>): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : null;
    case 'bigint':
      return value.toString();
    case 'object':
      return value === null ? null : safeObject(value, depth, ancestors);
    default:
      return undefined;
  }
}

function safeObject(value: object, depth: number, ancestors: Set<object>): unknown {
  if (value instanceof Secret) return undefined;
  if (value instanceof Error) return value.message;
  if (ancestors.has(value)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[too deep]';
  ancestors.add(value);
  try {
    const next = (v: unknown) => safe(v, depth + 1, ancestors);
    if (Array.isArray(value) || value instanceof Set) return [...value].map((v) => next(v) ?? null);
    if (value instanceof Map) return next(Object.fromEntries(value));
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return next(toJSON.call(value));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const s = SECRET_KEY.test(k) ? undefined : next(v);
      if (s !== undefined) out[k] = s;
    }
    return out;
  } finally {
    ancestors.delete(value);
  }
}

export function prePayload(callId: string, call: ActionCall, timestamp: number): PrePayload {
  return { type: 'pre', callId, notification: call.notification, method: call.method, params: sanitise(call.params) ?? {}, timestamp };
}

export type ActionOutcome<T> = { ok: true; result: T } | { ok: false; error: unknown };

/** `timestamp` is when the action ended, and an action without a result reports `true`, as XO does. */
export function postPayload(pre: PrePayload, startedAt: number, endedAt: number, outcome: ActionOutcome<unknown>): PostPayload {
  const base = { ...pre, type: 'post' as const, timestamp: endedAt, duration: endedAt - startedAt };
  if (!outcome.ok) return { ...base, error: outcome.error instanceof Error ? outcome.error.message : String(outcome.error) };
  return { ...base, result: outcome.result === undefined ? true : (sanitise(outcome.result) ?? null) };
}
