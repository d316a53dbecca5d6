// Generate grafana/dashboards/*.json from the definitions in grafana/src/ (`npm run grafana:build`).
// The JSON is committed; test/grafana/dashboards.test.ts fails when it differs from what this produces.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BuiltDashboard } from './src/common.js';
import { hardwareDashboard } from './src/hardware.js';
import { hostDashboard } from './src/host.js';
import { poolsDashboard } from './src/pools.js';
import { recoveryDashboard } from './src/recovery.js';
import { vmDashboard } from './src/vm.js';

export const DASHBOARDS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'dashboards');

export function buildAll(): BuiltDashboard[] {
  return [poolsDashboard(), hostDashboard(), vmDashboard(), hardwareDashboard(), recoveryDashboard()];
}

/** The file content: stable key order (as built), two-space indent, final newline. */
export function render(d: BuiltDashboard): string {
  return JSON.stringify(d.model, null, 2) + '\n';
}

function main(): void {
  mkdirSync(DASHBOARDS_DIR, { recursive: true });
  for (const d of buildAll()) {
    writeFileSync(join(DASHBOARDS_DIR, d.file), render(d));
    const panels = d.model.panels.filter((p) => p.type !== 'row').length;
    console.log(`${d.file}: ${panels} panels`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
