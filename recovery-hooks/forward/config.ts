// `recovery_hook.pools.<pool>.forward`: the remote Instance-HA (Masakari) API a pool in `mode: forward` feeds.
import { resolveTlsClient, tlsClientShape } from '../../core/config/pool.js';
import { type Ctx, type Path, type SchemaContext, num, obj, oneOf, report, url, withDefault } from '../../core/config/schema.js';
import { type Secret, readSecret, secretKeys } from '../../core/config/secret.js';
import type { TlsOptions } from '../../core/http/client.js';

/** The tasks of the forward workflow (forward/workflow.ts), configurable under `tasks.<name>` like the others. */
export const FORWARD_TASKS = ['forward_notification', 'await_remote_recovery'] as const;

/** `x-auth-token` is Keystone's header, the one Masakari's own clients send. */
export type ForwardAuth = 'bearer' | 'x-auth-token';

export interface ForwardConfig {
  /** `<base>/v1/notifications`: POSTed to, and `<it>/<uuid>` polled. */
  notificationsUrl: string;
  token: Secret;
  auth: ForwardAuth;
  tls: TlsOptions;
  /** Deadline of one request to the remote. */
  timeoutMs: number;
  /** How often the remote notification's status (and our forward record) is polled. */
  pollIntervalMs: number;
  /** A notification the remote has not taken this long after it was queued is given up. */
  giveUpAfterMs: number;
  backoff: { initialMs: number; maxMs: number };
}

export const forwardShape = obj({
  url: url(),
  ...secretKeys('token'),
  auth: withDefault(oneOf(['bearer', 'x-auth-token'] as const), 'x-auth-token'),
  tls: withDefault(tlsClientShape, { insecure: false, ca_file: undefined, fingerprint: undefined }),
  timeout_seconds: withDefault(num({ min: 0.1, max: 600 }), 10),
  poll_interval_seconds: withDefault(num({ min: 0.01, max: 600 }), 5),
  give_up_after_seconds: withDefault(num({ min: 1, max: 30 * 86400 }), 3600),
  backoff: withDefault(obj({ initial_seconds: withDefault(num({ min: 0.01, max: 3600 }), 5), max_seconds: withDefault(num({ min: 0.01, max: 86400 }), 300) }), {
    initial_seconds: 5,
    max_seconds: 300,
  }),
});

type RawForward = NonNullable<ReturnType<typeof forwardShape.parse>>;

/** The API base (`http://ha:15868`), its `/v1`, or the full `/v1/notifications`: always the notifications URL. */
export function notificationsUrl(base: string): string {
  const trimmed = base.replace(/\/+$/, '');
  if (/\/v1\/notifications$/.test(trimmed)) return trimmed;
  if (/\/v1$/.test(trimmed)) return `${trimmed}/notifications`;
  return `${trimmed}/v1/notifications`;
}

export function resolveForward(raw: RawForward, path: Path, ctx: Ctx, sc: SchemaContext): ForwardConfig | undefined {
  const token = readSecret(raw as unknown as Record<string, unknown>, 'token', path, ctx, { required: true, baseDir: sc.baseDir, env: sc.env });
  const tls = resolveTlsClient(raw.tls, [...path, 'tls'], ctx, sc.baseDir);
  if (raw.backoff.max_seconds < raw.backoff.initial_seconds) report(ctx, [...path, 'backoff', 'max_seconds'], 'must be at least initial_seconds');
  if (!token) return undefined;
  return {
    notificationsUrl: notificationsUrl(raw.url),
    token,
    auth: raw.auth,
    tls,
    timeoutMs: raw.timeout_seconds * 1000,
    pollIntervalMs: raw.poll_interval_seconds * 1000,
    giveUpAfterMs: raw.give_up_after_seconds * 1000,
    backoff: { initialMs: raw.backoff.initial_seconds * 1000, maxMs: raw.backoff.max_seconds * 1000 },
  };
}
