import { ConfigError, loadConfig } from '../core/config/load.js';
import { createLogger } from '../core/log.js';
import { crossCheckRecoveryHook } from '../recovery-hooks/config.js';
import { startRecoveryHook } from '../recovery-hooks/main.js';
import { UsageError, parse, untilSignal } from './usage.js';

export async function recoveryHookCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { config: { type: 'string', short: 'c' } });
  if (!values.config) throw new UsageError('--config FILE is required');
  const config = loadConfig(values.config);
  // What only the receiver needs (an API token, pool settings naming real pools), reported against the file.
  const problems = crossCheckRecoveryHook(config.recovery_hook, config.pools.map((p) => p.name));
  if (problems.length) throw new ConfigError(values.config, problems);
  const logger = createLogger({ level: config.log.level });
  const running = await startRecoveryHook(config, logger);
  const signal = await untilSignal();
  logger.info('stopping: finishing the running task or handing it back to the store', { signal });
  await running.stop();
  return 0;
}
