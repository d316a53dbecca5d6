// Load and validate the one YAML config file of the bundle. Every problem is collected and reported together,
// each line naming the file and the key path; the exit code for a bad config is 2.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { type Problem } from './schema.js';
import { type BundleConfig, bundleSchema } from './bundle.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly exitCode = 2;
  constructor(
    readonly file: string,
    readonly problems: Problem[],
  ) {
    super(`${file}: ${problems.length} problem(s) in the configuration:\n` + problems.map((p) => `  ${file}: ${p.path}: ${p.message}`).join('\n'));
  }
}

export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): BundleConfig {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({ path: e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '(syntax)', message: e.message.split('\n')[0]! })),
    );
  }
  const value = doc.toJS() ?? {};
  const ctx = { problems: [] as Problem[] };
  const config = bundleSchema({ baseDir: dirname(resolve(file)), env }).parse(value, [], ctx);
  if (ctx.problems.length || !config) throw new ConfigError(file, ctx.problems);
  return config;
}

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): BundleConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [{ path: '(file)', message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }]);
  }
  return parseConfig(text, file, env);
}
