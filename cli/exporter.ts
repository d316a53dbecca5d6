import { loadConfig } from '../core/config/load.js';
import { createLogger } from '../core/log.js';
import { startExporter } from '../exporter/main.js';
import { UsageError, parse, untilSignal } from './usage.js';

export async function exporterCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { config: { type: 'string', short: 'c' } });
  if (!values.config) throw new UsageError('--config FILE is required');
  const config = loadConfig(values.config);
  const logger = createLogger({ level: config.log.level });
  const running = await startExporter(config, logger);
  const signal = await untilSignal();
  logger.info('stopping', { signal });
  await running.stop();
  return 0;
}
