// Secrets from the config: given inline, in a file (`*_file`) or in an environment variable (`*_env`).
// A Secret never prints its value: not in logs, not in JSON, not in util.inspect.
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { type Ctx, type Path, type Schema, exactlyOne, report, str } from './schema.js';

export class Secret {
  readonly #value: string;
  /** The file it was read from, if any: `reread()` reads it again. */
  readonly #file?: string;
  constructor(value: string, file?: string) {
    this.#value = value;
    this.#file = file;
  }
  reveal(): string {
    return this.#value;
  }
  /** The file's current content when the secret came from a file (so a fixed password needs no restart); itself
   * otherwise, or when the file is unreadable or empty now. */
  reread(): Secret {
    if (!this.#file) return this;
    try {
      const content = readFileSync(this.#file, 'utf8').replace(/\r?\n$/, '');
      return content ? new Secret(content, this.#file) : this;
    } catch {
      return this;
    }
  }
  toString(): string {
    return '[secret]';
  }
  toJSON(): string {
    return '[secret]';
  }
  [inspect.custom](): string {
    return '[secret]';
  }
}

/** Where a secret comes from, before it is read. */
export type SecretSource = { inline: string } | { file: string } | { env: string };

/** The three keys of a secret named `name`, to spread into an `obj` shape. */
export function secretKeys(name: string): Record<string, Schema<string | undefined>> {
  const opt = (s: Schema<string>) => ({ ...s, optional: true }) as Schema<string | undefined>;
  return {
    [name]: opt(str({ minLength: 1 })),
    [`${name}_file`]: opt(str({ minLength: 1 })),
    [`${name}_env`]: opt(str({ pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, patternHint: 'an environment variable name' })),
  };
}

/**
 * Read a secret given as `name`, `name_file` or `name_env` in `value`. Problems name the key, never the value.
 * `baseDir` resolves relative file paths against the config file's folder.
 */
export function readSecret(
  value: Record<string, unknown>,
  name: string,
  path: Path,
  ctx: Ctx,
  opts: { required: boolean; baseDir: string; env?: NodeJS.ProcessEnv },
): Secret | undefined {
  const keys = [name, `${name}_file`, `${name}_env`];
  const before = ctx.problems.length;
  exactlyOne(value, keys, path, ctx, opts.required);
  if (ctx.problems.length > before) return undefined;
  if (typeof value[name] === 'string') return new Secret(value[name] as string);
  const file = value[`${name}_file`];
  if (typeof file === 'string') {
    const full = file.startsWith('/') ? file : `${opts.baseDir}/${file}`;
    try {
      const content = readFileSync(full, 'utf8').replace(/\r?\n$/, '');
      if (!content) return report(ctx, [...path, `${name}_file`], `file ${full} is empty`);
      return new Secret(content, full);
    } catch (err) {
      return report(ctx, [...path, `${name}_file`], `cannot read ${full}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  const envName = value[`${name}_env`];
  if (typeof envName === 'string') {
    const v = (opts.env ?? process.env)[envName];
    if (!v) return report(ctx, [...path, `${name}_env`], `environment variable ${envName} is not set or empty`);
    return new Secret(v);
  }
  return undefined;
}
