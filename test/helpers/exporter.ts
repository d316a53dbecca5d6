// Test helper: an exporter configured for a simulated pool.
import { memoryLogger } from '../../core/log.js';
import { type RunningExporter, startExporter } from '../../exporter/main.js';
import { exporterConfigYaml } from '../../simulator/loopback.js';
import type { Simulation } from '../../simulator/run.js';
import { parseConfig } from '../../cli/config/bundle.js';

export { exporterConfigYaml };

export async function startTestExporter(sims: Simulation[], extra = '', logger = memoryLogger('warn')): Promise<RunningExporter> {
  return startExporter(parseConfig(exporterConfigYaml(sims, extra), 'test.yml', {}), logger);
}
