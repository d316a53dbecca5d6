// `recovery_hook.ui`: the notifications web UI served under /ui/ by the receiver (no separate server).
import { type Schema, bool, num, obj, optional, url, withDefault } from '../../core/config/schema.js';

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
}

const raw = obj({
  enabled: withDefault(bool(), true),
  external_url: optional(url()),
  session_idle_seconds: withDefault(num({ min: 60, max: 7 * 86400 }), 1800),
  session_max_seconds: withDefault(num({ min: 60, max: 30 * 86400 }), 43_200),
  max_sessions: withDefault(num({ min: 1, max: 100_000, integer: true }), 200),
  refresh_seconds: withDefault(num({ min: 0.2, max: 600 }), 2),
});

function resolve(r: NonNullable<ReturnType<typeof raw.parse>>): UiConfig {
  return {
    enabled: r.enabled,
    externalUrl: r.external_url?.replace(/\/+$/, ''),
    sessionIdleMs: r.session_idle_seconds * 1000,
    sessionMaxMs: Math.max(r.session_max_seconds, r.session_idle_seconds) * 1000,
    maxSessions: r.max_sessions,
    refreshMs: r.refresh_seconds * 1000,
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
