// `xcp-sentinel rules generate` and `xcp-sentinel grafana build`: the generators, runnable from an installed package
// (compiled JavaScript, no checkout, no tsx). Both write where they are told, never into the package.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError, parse } from './usage.js';

const RULES_USAGE = `Usage: xcp-sentinel rules generate [--values F] [--out F]

Generate the Prometheus alerting rules from the bundled values (rules/values.yml) overlaid with yours.
  --values F   your values file (only the keys you change; unknown keys are refused)
  --out F      write the rules to F (default: standard output)
`;

const GRAFANA_USAGE = `Usage: xcp-sentinel grafana build [--out DIR]

Write the Grafana dashboards (JSON, one file per dashboard) into DIR (default ./dashboards).
  --out DIR    the folder to write into (created if missing)
`;

export async function rulesCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'generate') {
    if (sub === undefined || sub === '--help' || sub === '-h') return help(RULES_USAGE, sub !== undefined);
    throw new UsageError(`unknown subcommand "${sub}": rules generate`);
  }
  const { values } = parse(rest, { values: { type: 'string' }, out: { type: 'string' } }, RULES_USAGE);
  const { generate } = await import('../rules/generate.js');
  const { ValuesError, loadValues } = await import('../rules/lib/values.js');
  let text: string;
  try {
    text = generate(loadValues(values.values));
  } catch (err) {
    if (!(err instanceof ValuesError)) throw err;
    process.stderr.write(err.message + '\n');
    return 2;
  }
  if (!values.out || values.out === '-') process.stdout.write(text);
  else {
    writeFileSync(values.out, text);
    process.stderr.write(`wrote ${values.out}\n`);
  }
  return 0;
}

export async function grafanaCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'build') {
    if (sub === undefined || sub === '--help' || sub === '-h') return help(GRAFANA_USAGE, sub !== undefined);
    throw new UsageError(`unknown subcommand "${sub}": grafana build`);
  }
  const { values } = parse(rest, { out: { type: 'string' } }, GRAFANA_USAGE);
  const { buildAll, render } = await import('../grafana/build.js');
  const dir = values.out ?? 'dashboards';
  mkdirSync(dir, { recursive: true });
  for (const d of buildAll()) {
    writeFileSync(join(dir, d.file), render(d));
    process.stdout.write(`${join(dir, d.file)}: ${d.model.panels.filter((p) => p.type !== 'row').length} panels\n`);
  }
  return 0;
}

/** Asked for (`--help`): usage on stdout, exit 0; a missing subcommand: usage on stderr, exit 1. */
function help(usage: string, asked: boolean): number {
  (asked ? process.stdout : process.stderr).write(usage);
  return asked ? 0 : 1;
}
