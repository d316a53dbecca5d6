import { DAEMONS, type Daemon, loadDaemonConfig } from './daemon-config.js';
import { UsageError, parse } from './usage.js';

const USAGE = `Usage: xcp-sentinel check-config --config F [--for exporter|recovery-hook]

Validate a configuration file exactly as the daemons do at start, and exit: 0 valid, 2 invalid (every problem on
its own line, naming the file and the key), 1 for a wrong command line.
  -c, --config F   the configuration file (YAML)
  --for D          check for one daemon only: exporter or recovery-hook (default: both, as one file serves both)
`;

export async function checkConfigCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { config: { type: 'string', short: 'c' }, for: { type: 'string' } }, USAGE);
  if (!values.config) throw new UsageError('--config FILE is required');
  if (values.for !== undefined && !DAEMONS.includes(values.for as Daemon)) throw new UsageError(`--for must be exporter or recovery-hook, got "${values.for}"`);
  const daemons = values.for ? [values.for as Daemon] : DAEMONS;
  const config = loadDaemonConfig(values.config, daemons);
  process.stdout.write(`${values.config}: OK for ${daemons.join(' and ')} (${config.pools.length} pool(s): ${config.pools.map((p) => p.name).join(', ')})\n`);
  return 0;
}
