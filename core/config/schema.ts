// A small declarative validator for the YAML config: every problem is reported at once, each with its key path,
// and defaults are filled in. Kept here (not a schema library) so messages read like an operator's checklist.

export type Path = (string | number)[];

/** What a part's schema needs from the config file: its folder (relative `*_file` paths) and the environment. */
export interface SchemaContext {
  /** Folder of the config file: relative `*_file` paths are resolved against it. */
  baseDir: string;
  env: NodeJS.ProcessEnv;
}

export interface Problem {
  path: string;
  message: string;
}

export interface Ctx {
  problems: Problem[];
}

export interface Schema<T> {
  /** What the value should be, for messages ("a string", "one of a, b"). */
  describe: string;
  /** Validate `value` at `path`; report problems into ctx; return the typed value (or undefined when invalid). */
  parse(value: unknown, path: Path, ctx: Ctx): T | undefined;
  /** Value used when the key is absent; absent and no default means required. */
  defaultValue?: () => T;
  optional?: boolean;
}

export function formatPath(path: Path): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out || '(top level)';
}

function show(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  const s = JSON.stringify(value);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

export function report(ctx: Ctx, path: Path, message: string): undefined {
  ctx.problems.push({ path: formatPath(path), message });
  return undefined;
}

function mismatch(ctx: Ctx, path: Path, describe: string, value: unknown): undefined {
  return report(ctx, path, `expected ${describe}, got ${show(value)}`);
}

interface StringOpts {
  pattern?: RegExp;
  patternHint?: string;
  minLength?: number;
}

export function str(opts: StringOpts = {}): Schema<string> {
  const describe = opts.patternHint ?? 'a string';
  return {
    describe,
    parse(v, path, ctx) {
      if (typeof v !== 'string') return mismatch(ctx, path, 'a string', v);
      if (opts.minLength !== undefined && v.length < opts.minLength)
        return report(ctx, path, opts.minLength === 1 ? 'must not be empty' : `must be at least ${opts.minLength} characters`);
      if (opts.pattern && !opts.pattern.test(v)) return mismatch(ctx, path, describe, v);
      return v;
    },
  };
}

export function url(protocols: string[] = ['http:', 'https:']): Schema<string> {
  const describe = `a URL (${protocols.map((p) => p.replace(':', '://')).join(' or ')}…)`;
  return {
    describe,
    parse(v, path, ctx) {
      if (typeof v !== 'string') return mismatch(ctx, path, describe, v);
      try {
        const u = new URL(v);
        if (!protocols.includes(u.protocol)) return mismatch(ctx, path, describe, v);
        if (u.username || u.password) return report(ctx, path, 'must not contain credentials; use the username/password keys');
        return v.replace(/\/+$/, '');
      } catch {
        return mismatch(ctx, path, describe, v);
      }
    },
  };
}

export function num(opts: { min?: number; max?: number; integer?: boolean } = {}): Schema<number> {
  const parts = [opts.integer ? 'an integer' : 'a number'];
  if (opts.min !== undefined) parts.push(`>= ${opts.min}`);
  if (opts.max !== undefined) parts.push(`<= ${opts.max}`);
  const describe = parts.join(' ');
  return {
    describe,
    parse(v, path, ctx) {
      if (typeof v !== 'number' || !Number.isFinite(v)) return mismatch(ctx, path, describe, v);
      if (opts.integer && !Number.isInteger(v)) return mismatch(ctx, path, describe, v);
      if ((opts.min !== undefined && v < opts.min) || (opts.max !== undefined && v > opts.max)) return mismatch(ctx, path, describe, v);
      return v;
    },
  };
}

export function bool(): Schema<boolean> {
  return {
    describe: 'true or false',
    parse: (v, path, ctx) => (typeof v === 'boolean' ? v : mismatch(ctx, path, 'true or false', v)),
  };
}

export function oneOf<T extends string>(values: readonly T[]): Schema<T> {
  const describe = `one of ${values.join(', ')}`;
  return {
    describe,
    parse: (v, path, ctx) => (typeof v === 'string' && (values as readonly string[]).includes(v) ? (v as T) : mismatch(ctx, path, describe, v)),
  };
}

export function list<T>(item: Schema<T>, opts: { minItems?: number } = {}): Schema<T[]> {
  const describe = `a list of ${item.describe}`;
  return {
    describe,
    parse(v, path, ctx) {
      if (!Array.isArray(v)) return mismatch(ctx, path, describe, v);
      if (opts.minItems && v.length < opts.minItems) return report(ctx, path, `needs at least ${opts.minItems} item(s)`);
      const out: T[] = [];
      let ok = true;
      v.forEach((x, i) => {
        const r = item.parse(x, [...path, i], ctx);
        if (r === undefined) ok = false;
        else out.push(r);
      });
      return ok ? out : undefined;
    },
  };
}

/** A mapping with free-form keys (e.g. HTTP headers). */
export function dict<T>(value: Schema<T>): Schema<Record<string, T>> {
  const describe = `a mapping of ${value.describe}`;
  return {
    describe,
    parse(v, path, ctx) {
      if (!v || typeof v !== 'object' || Array.isArray(v)) return mismatch(ctx, path, describe, v);
      const out: Record<string, T> = {};
      let ok = true;
      for (const [k, x] of Object.entries(v)) {
        const r = value.parse(x, [...path, k], ctx);
        if (r === undefined) ok = false;
        else out[k] = r;
      }
      return ok ? out : undefined;
    },
  };
}

export function withDefault<T>(schema: Schema<T>, def: T | (() => T)): Schema<T> {
  return { ...schema, defaultValue: typeof def === 'function' ? (def as () => T) : () => structuredClone(def) };
}

export function optional<T>(schema: Schema<T>): Schema<T | undefined> {
  return { ...schema, optional: true } as Schema<T | undefined>;
}

/** Present only when given: no default even when every key inside has one (a section whose presence means "use it"). */
export function onlyWhenGiven<T>(schema: Schema<T>): Schema<T | undefined> {
  return { ...schema, optional: true, defaultValue: undefined } as Schema<T | undefined>;
}

type Shape = Record<string, Schema<unknown>>;
type Out<S extends Shape> = { [K in keyof S]: S[K] extends Schema<infer T> ? T : never };

/**
 * A mapping with known keys. Unknown keys are reported (a typo must not be silently ignored).
 * `check` adds cross-field rules; it runs only when every field parsed.
 */
export function obj<S extends Shape>(shape: S, check?: (value: Out<S>, path: Path, ctx: Ctx) => void): Schema<Out<S>> {
  const describe = 'a mapping';
  return {
    describe,
    defaultValue: Object.values(shape).every((f) => f.defaultValue || f.optional)
      ? () => {
          const out: Record<string, unknown> = {};
          for (const [k, f] of Object.entries(shape)) if (f.defaultValue) out[k] = f.defaultValue();
          return out as Out<S>;
        }
      : undefined,
    parse(v, path, ctx) {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return mismatch(ctx, path, describe, v);
      const input = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      let ok = true;
      for (const key of Object.keys(input)) {
        if (!(key in shape)) {
          const known = Object.keys(shape);
          const near = known
            .map((k) => ({ k, d: editDistance(k, key) }))
            .filter((x) => x.d <= 2)
            .sort((x, y) => x.d - y.d)[0]?.k;
          report(ctx, [...path, key], `unknown key${near ? ` (did you mean "${near}"?)` : ''}; known keys: ${known.join(', ')}`);
          ok = false;
        }
      }
      for (const [key, field] of Object.entries(shape)) {
        const raw = input[key];
        if (raw === undefined || raw === null) {
          if (field.defaultValue) out[key] = field.defaultValue();
          else if (!field.optional) {
            report(ctx, [...path, key], `is required (${field.describe})`);
            ok = false;
          }
          continue;
        }
        const r = field.parse(raw, [...path, key], ctx);
        if (r === undefined) ok = false;
        else out[key] = r;
      }
      if (!ok) return undefined;
      const before = ctx.problems.length;
      check?.(out as Out<S>, path, ctx);
      return ctx.problems.length === before ? (out as Out<S>) : undefined;
    },
  };
}

/** Edit distance with adjacent transpositions (so "tsl" is one step from "tls"). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)] as number[]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  return d[a.length]![b.length]!;
}

/** Exactly one of the given keys must be present (e.g. password / password_file / password_env). */
export function exactlyOne(value: Record<string, unknown>, keys: string[], path: Path, ctx: Ctx, required = true): void {
  const present = keys.filter((k) => value[k] !== undefined);
  if (present.length > 1) report(ctx, path, `set only one of ${present.join(', ')}`);
  else if (required && present.length === 0) report(ctx, path, `needs one of ${keys.join(', ')}`);
}
