import { type Logger, createLogger } from '../core/log.js';
import { type RunningExporter, startExporter } from '../exporter/main.js';
import { listenFailure, loadDaemonConfig } from './daemon-config.js';
import { UsageError, parse, untilSignal } from './usage.js';
import type { BundleConfig } from './config/bundle.js';

const USAGE = `Usage: xcp-sentinel exporter --config F

Serve xcp_* metrics for the configured pools on /metrics and their state on /health (exporter.listen, default
127.0.0.1:9004). Logs one JSON line per event on stdout; SIGTERM or Ctrl-C stops it, SIGHUP reloads the
configuration (a configuration with errors is logged and not applied).
  -c, --config F   the configuration file (YAML); check it first with: xcp-sentinel check-config --config F
`;

export async function exporterCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { config: { type: 'string', short: 'c' } }, USAGE);
  if (!values.config) throw new UsageError('--config FILE is required');
  let config = loadDaemonConfig(values.config, ['exporter']);
  const logger = createLogger({ level: config.log.level });
  let running: RunningExporter;
  try {
    running = await startExporter(config, logger);
  } catch (err) {
    const line = listenFailure(err, 'exporter.listen', config.exporter.listen);
    if (!line) throw err;
    process.stderr.write(`xcp-sentinel exporter: ${line}\n`);
    return 1;
  }
  // SIGHUP: read the file again and restart the exporter with it; reloads run one after another.
  let reloading: Promise<void> = Promise.resolve();
  const onHup = () => {
    reloading = reloading
      .then(async () => {
        [running, config] = await reloadExporter(values.config!, running, config, logger);
      })
      .catch((err) => logger.error('reload failed', { error: err }));
  };
  process.on('SIGHUP', onHup);
  const signal = await untilSignal();
  process.off('SIGHUP', onHup);
  logger.info('stopping', { signal });
  await reloading;
  await running.stop();
  return 0;
}

/** The exporter running the file's new configuration, or the one running now when the file has errors. */
async function reloadExporter(file: string, running: RunningExporter, current: BundleConfig, logger: Logger): Promise<[RunningExporter, BundleConfig]> {
  let next: BundleConfig;
  try {
    next = loadDaemonConfig(file, ['exporter']);
  } catch (err) {
    logger.error('configuration not reloaded: the file has errors', { file, error: err });
    return [running, current];
  }
  logger.info('reloading the configuration', { file });
  await running.stop();
  try {
    return [await startExporter(next, logger), next];
  } catch (err) {
    logger.error('the new configuration could not start, back to the previous one', { file, error: err });
    return [await startExporter(current, logger), current];
  }
}
