// `recovery_hook.ui`: the notifications web UI served under /ui/ by the receiver (no separate server).
import { isIP } from 'node:net';
import { type Schema, bool, list, num, obj, optional, report, str, url, withDefault } from '../../core/config/schema.js';

export interface UiConfig {
  enabled: boolean;
  /** Base URL of the receiver as operators' browsers reach it (links in messages; the Origin a write must come from). */
  externalUrl?: string;
  /** A session ends after this long without a request, and after sessionMaxMs whatever its use. */
  sessionIdleMs: number;
  sessionMaxMs: number;
  /** Sessions kept at most: a login beyond it ends the least recently used one. */
  maxSessions: number;
  /** How often an open detail page asks for news while its recovery runs. */
  refreshMs: number;
  /** Wrong tokens a client may send to the login within loginWindowMs; beyond, its logins get 429 until the window ends. */
  loginMaxFailures: number;
  loginWindowMs: number;
  /** Reverse proxies whose X-Forwarded-For names the client (for the login limit). */
  trustedProxies: string[];
}

const raw = obj(
  {
    enabled: withDefault(bool(), true),
    external_url: optional(url()),
    session_idle_seconds: withDefault(num({ min: 60, max: 7 * 86400 }), 1800),
    session_max_seconds: withDefault(num({ min: 60, max: 30 * 86400 }), 43_200),
    max_sessions: withDefault(num({ min: 1, max: 100_000, integer: true }), 200),
    refresh_seconds: withDefault(num({ min: 0.2, max: 600 }), 2),
    login_max_failures: withDefault(num({ min: 1, max: 1000, integer: true }), 5),
    login_window_seconds: withDefault(num({ min: 1, max: 86_400 }), 300),
    trusted_proxies: withDefault(list(str({ minLength: 1 })), []),
  },
  (v, path, ctx) => {
    v.trusted_proxies.forEach((a, i) => {
      if (!isIP(a)) report(ctx, [...path, 'trusted_proxies', i], `${JSON.stringify(a)} is not an IP address`);
    });
  },
);

function resolve(r: NonNullable<ReturnType<typeof raw.parse>>): UiConfig {
  return {
    enabled: r.enabled,
    externalUrl: r.external_url?.replace(/\/+$/, ''),
    sessionIdleMs: r.session_idle_seconds * 1000,
    sessionMaxMs: Math.max(r.session_max_seconds, r.session_idle_seconds) * 1000,
    maxSessions: r.max_sessions,
    refreshMs: r.refresh_seconds * 1000,
    loginMaxFailures: r.login_max_failures,
    loginWindowMs: r.login_window_seconds * 1000,
    trustedProxies: r.trusted_proxies.map((a) => a.toLowerCase()),
  };
}

export const uiShape: Schema<UiConfig> = {
  describe: raw.describe,
  parse(value, path, ctx) {
    const r = raw.parse(value, path, ctx);
    return r === undefined ? undefined : resolve(r);
  },
  defaultValue: () => resolve(raw.parse({}, [], { problems: [] })!),
};
