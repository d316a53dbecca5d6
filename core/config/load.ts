// Load and validate a YAML config file against a schema. Every problem is collected and reported together, each
// line naming the file and the key path; the exit code for a bad config is 2. The bundle's schema (every part's
// section) is composed in cli/config/bundle.ts: core knows no part.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { Problem, Schema, SchemaContext } from './schema.js';

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

export function parseYamlConfig<T>(text: string, file: string, schema: (sc: SchemaContext) => Schema<T>, env: NodeJS.ProcessEnv = process.env): T {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({ path: e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '(syntax)', message: e.message.split('\n')[0]! })),
    );
  }
  const value = doc.toJS() ?? {};
  const ctx = { problems: [] as Problem[] };
  const config = schema({ baseDir: dirname(resolve(file)), env }).parse(value, [], ctx);
  if (ctx.problems.length || !config) throw new ConfigError(file, ctx.problems);
  return config;
}

export function loadYamlConfig<T>(file: string, schema: (sc: SchemaContext) => Schema<T>, env: NodeJS.ProcessEnv = process.env): T {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [{ path: '(file)', message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }]);
  }
  return parseYamlConfig(text, file, schema, env);
}
