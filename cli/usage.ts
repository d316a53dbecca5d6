import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A wrong command line: printed as one line (plus a pointer to --help), exit code 1. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** `--help` / `-h` on a subcommand: main prints `usage` on stdout and exits 0. */
export class HelpRequested extends Error {
  override name = 'HelpRequested';
  constructor(readonly usage: string) {
    super('help requested');
  }
}

/**
 * Parse a subcommand's arguments (strict). Every subcommand answers `--help` / `-h` with its `usage`, even next to
 * an option it does not know, so an operator can always ask.
 */
export function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, usage: string, allowPositionals = false) {
  const withHelp = { ...options, help: { type: 'boolean', short: 'h' } } as const;
  let parsed: { values: object };
  try {
    parsed = parseArgs({ args, options: withHelp, allowPositionals, strict: true });
  } catch (err) {
    if (args.includes('--help') || args.includes('-h')) throw new HelpRequested(usage);
    throw new UsageError((err as Error).message);
  }
  if ((parsed.values as { help?: boolean }).help) throw new HelpRequested(usage);
  return parsed as ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: boolean; strict: true }>>;
}

/** Resolve when the process is asked to stop (Ctrl-C, systemd's SIGTERM). */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}
