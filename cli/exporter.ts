import { createLogger } from '../core/log.js';
import { startExporter } from '../exporter/main.js';
import { listenFailure, loadDaemonConfig } from './daemon-config.js';
import { UsageError, parse, untilSignal } from './usage.js';

const USAGE = `Usage: xcp-sentinel exporter --config F

Serve xcp_* metrics for the configured pools on /metrics and their state on /health (exporter.listen, default
127.0.0.1:9004). Logs one JSON line per event on stdout; SIGTERM or Ctrl-C stops it.
  -c, --config F   the configuration file (YAML); check it first with: xcp-sentinel check-config --config F
`;

export async function exporterCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { config: { type: 'string', short: 'c' } }, USAGE);
  if (!values.config) throw new UsageError('--config FILE is required');
  const config = loadDaemonConfig(values.config, ['exporter']);
  const logger = createLogger({ level: config.log.level });
  let running: Awaited<ReturnType<typeof startExporter>>;
  try {
    running = await startExporter(config, logger);
  } catch (err) {
    const line = listenFailure(err, 'exporter.listen', config.exporter.listen);
    if (!line) throw err;
    process.stderr.write(`xcp-sentinel exporter: ${line}\n`);
    return 1;
  }
  const signal = await untilSignal();
  logger.info('stopping', { signal });
  await running.stop();
  return 0;
}
