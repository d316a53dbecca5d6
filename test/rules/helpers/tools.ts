// Finding and running the Prometheus / Alertmanager binaries the rules tests need (Debian packages
// `prometheus` → promtool, `prometheus-alertmanager` → amtool and prometheus-alertmanager).
// A missing binary skips the test with a visible reason rather than failing the suite on a machine without them.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const RULES_DIR = join(ROOT, 'rules');

/** The first of `names` found on PATH, or undefined. */
export function which(...names: string[]): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean))
    for (const name of names) {
      const p = join(dir, name);
      try {
        accessSync(p, constants.X_OK);
        return p;
      } catch {
        // not here
      }
    }
  return undefined;
}

export const promtool = which('promtool');
export const amtool = which('amtool');
// Debian names the daemon prometheus-alertmanager; upstream tarballs call it alertmanager.
export const alertmanager = which('prometheus-alertmanager', 'alertmanager');

export interface RunResult {
  status: number | null;
  out: string;
}

export function run(bin: string, args: string[], cwd = ROOT): RunResult {
  // A guard against a hung tool, not a speed check: promtool's whole rule suite took over 60 s at load 9 (jobs 4).
  const r = spawnSync(bin, args, { cwd, encoding: 'utf8', timeout: 180_000 });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}
