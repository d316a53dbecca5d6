// Test helper: an exporter configured for a simulated pool.
import { parseConfig } from '../../core/config/load.js';
import { memoryLogger } from '../../core/log.js';
import { type RunningExporter, startExporter } from '../../exporter/main.js';
import type { Simulation } from '../../simulator/run.js';

export function exporterConfigYaml(sims: Simulation[], extra = ''): string {
  const pools = sims
    .map((s) => `  - name: ${s.pool.options.name}\n    url: ${s.url}\n    username: ${s.pool.options.username}\n    password: ${s.pool.options.password}\n    tls: { insecure: ${s.url.startsWith('https')} }\n    timeouts: { login_seconds: 6, call_seconds: 5 }\n`)
    .join('');
  return `pools:\n${pools}exporter:\n  listen: 127.0.0.1:0\n  poll_interval_seconds: 5\n  rrd: { timeout_seconds: 2, window_seconds: 30 }\n${extra}`;
}

export async function startTestExporter(sims: Simulation[], extra = '', logger = memoryLogger('warn')): Promise<RunningExporter> {
  return startExporter(parseConfig(exporterConfigYaml(sims, extra), 'test.yml', {}), logger);
}
