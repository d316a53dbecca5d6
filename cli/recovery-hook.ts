import { createLogger } from '../core/log.js';
import { startRecoveryHook } from '../recovery-hooks/main.js';
import { listenFailure, loadDaemonConfig } from './daemon-config.js';
import { UsageError, parse, untilSignal } from './usage.js';

const USAGE = `Usage: xcp-sentinel recovery-hook --config F

Receive Alertmanager webhooks and Masakari-style notifications (recovery_hook.listen, default 127.0.0.1:15868) and
run the recovery workflows. Logs one JSON line per event on stdout; SIGTERM or Ctrl-C stops it after the running
task (or hands the task back to the store).
  -c, --config F   the configuration file (YAML); check it first with: xcp-sentinel check-config --config F
`;

export async function recoveryHookCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { config: { type: 'string', short: 'c' } }, USAGE);
  if (!values.config) throw new UsageError('--config FILE is required');
  // What only the receiver needs (an API token, pool settings naming real pools), reported against the file.
  const config = loadDaemonConfig(values.config, ['recovery-hook']);
  const logger = createLogger({ level: config.log.level });
  let running: Awaited<ReturnType<typeof startRecoveryHook>>;
  try {
    running = await startRecoveryHook(config, logger);
  } catch (err) {
    const line = listenFailure(err, 'recovery_hook.listen', config.recovery_hook.listen);
    if (!line) throw err;
    process.stderr.write(`xcp-sentinel recovery-hook: ${line}\n`);
    return 1;
  }
  const signal = await untilSignal();
  logger.info('stopping: finishing the running task or handing it back to the store', { signal });
  await running.stop();
  return 0;
}
