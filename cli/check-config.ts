import { loadConfig } from '../core/config/load.js';
import { UsageError, parse } from './usage.js';

export async function checkConfigCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { config: { type: 'string', short: 'c' } });
  if (!values.config) throw new UsageError('--config FILE is required');
  const config = loadConfig(values.config);
  process.stdout.write(`${values.config}: OK (${config.pools.length} pool(s): ${config.pools.map((p) => p.name).join(', ')})\n`);
  return 0;
}
