// An exporter in this process, pointed at a simulator process.
import { createLogger } from '../../core/log.js';
import { type RunningExporter, startExporter } from '../../exporter/main.js';
import { parseConfig } from '../../cli/config/bundle.js';

export async function startBenchExporter(simUrl: string, opts: { window?: number } = {}): Promise<RunningExporter> {
  const yaml = `pools:
  - name: bench
    url: ${simUrl}
    username: root
    password: simulated
    timeouts: { login_seconds: 10, call_seconds: 120 }
exporter:
  listen: 127.0.0.1:0
  poll_interval_seconds: 3600
  rrd: { concurrency: 8, timeout_seconds: 60, window_seconds: ${opts.window ?? 10} }
`;
  const config = parseConfig(yaml, 'bench.yml', {});
  return startExporter(config, createLogger({ level: 'warn' }));
}
