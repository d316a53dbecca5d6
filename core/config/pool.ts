// Pool connection settings, shared by the exporter and the recovery hooks. A pool's `hardware` section belongs to the
// exporter: its schema is passed in by the composition root (cli/config/bundle.ts), core knows no part.
import { readFileSync } from 'node:fs';
import type { TlsOptions } from '../http/client.js';
import { type Ctx, type Path, type Schema, type SchemaContext, bool, num, obj, optional, report, str, url, withDefault } from './schema.js';
import { type Secret, readSecret, secretKeys } from './secret.js';

export const POOL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const FINGERPRINT = /^(sha256:)?([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$/;

export const tlsClientShape = obj({
  insecure: withDefault(bool(), false),
  ca_file: optional(str({ minLength: 1 })),
  fingerprint: optional(str({ pattern: FINGERPRINT, patternHint: 'a SHA-256 fingerprint (64 hex digits, colons allowed)' })),
});

const poolShape = obj({
  name: str({ pattern: POOL_NAME, patternHint: 'a name of letters, digits, "_", "." or "-"' }),
  url: url(),
  username: str({ minLength: 1 }),
  ...secretKeys('password'),
  tls: withDefault(tlsClientShape, { insecure: false, ca_file: undefined, fingerprint: undefined }),
  timeouts: withDefault(
    obj({
      // XAPI waits 5 s before answering a failed login, so a shorter login timeout would hide the real error.
      login_seconds: withDefault(num({ min: 6, max: 300 }), 15),
      call_seconds: withDefault(num({ min: 1, max: 3600 }), 30),
    }),
    { login_seconds: 15, call_seconds: 30 },
  ),
  // Checked by the hardware schema given to poolSchema, which knows the config file's folder (relative key files).
  hardware: optional<unknown>({ describe: 'the hardware (IPMI, SMART) settings', parse: (v) => v }),
});

/** `Hardware`: the exporter's per-pool hardware settings (exporter/hardware/config.ts); opaque to core. */
export interface PoolConfig<Hardware = unknown> {
  name: string;
  url: string;
  username: string;
  password: Secret;
  tls: TlsOptions;
  timeouts: { loginMs: number; callMs: number };
  /** IPMI and SMART collection (exporter); absent means none. */
  hardware?: Hardware;
}

/** Read the TLS client settings, loading the CA file now so a bad path fails at start, naming the key. */
export function resolveTlsClient(raw: { insecure: boolean; ca_file?: string; fingerprint?: string }, path: Path, ctx: Ctx, baseDir: string): TlsOptions {
  const tls: TlsOptions = { insecure: raw.insecure, fingerprint: raw.fingerprint };
  if (raw.ca_file) {
    const full = raw.ca_file.startsWith('/') ? raw.ca_file : `${baseDir}/${raw.ca_file}`;
    try {
      tls.ca = readFileSync(full, 'utf8');
    } catch (err) {
      report(ctx, [...path, 'ca_file'], `cannot read ${full}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  if (raw.insecure && (raw.ca_file || raw.fingerprint)) report(ctx, [...path, 'insecure'], 'insecure: true cannot be combined with ca_file or fingerprint');
  return tls;
}

export function poolSchema<Hardware>(sc: SchemaContext, hardwareSchema: (sc: { baseDir: string }) => Schema<Hardware>): Schema<PoolConfig<Hardware>> {
  const { baseDir } = sc;
  return {
    describe: 'a pool',
    parse(value, path, ctx) {
      const raw = poolShape.parse(value, path, ctx);
      if (!raw) return undefined;
      const before = ctx.problems.length;
      const password = readSecret(raw as unknown as Record<string, unknown>, 'password', path, ctx, { required: true, baseDir, env: sc.env });
      const tls = resolveTlsClient(raw.tls, [...path, 'tls'], ctx, baseDir);
      const hw = hardwareSchema({ baseDir });
      const hardware = raw.hardware === undefined ? hw.defaultValue!() : hw.parse(raw.hardware, [...path, 'hardware'], ctx);
      if (ctx.problems.length > before || !password) return undefined;
      return {
        name: raw.name,
        url: raw.url,
        username: raw.username,
        password,
        tls,
        timeouts: { loginMs: raw.timeouts.login_seconds * 1000, callMs: raw.timeouts.call_seconds * 1000 },
        hardware,
      };
    },
  };
}
