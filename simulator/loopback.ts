// A small simulated pool on loopback with quick timings, for the tests and the developer tools that run the bundle
// against it (grafana/preview): each call takes its own block of loopback addresses, so processes running in parallel
// never collide, and a free port.
import { memoryLogger } from '../core/log.js';
import { type Simulation, type SimulationOptions, startSimulation } from './run.js';

let nextBlock = 0;

/** Start a simulated pool of 3 hosts × 4 VMs (unless `o.size` says otherwise) on 127.N.M.2 …, quiet logger. */
export async function startSim(o: Partial<SimulationOptions> = {}): Promise<Simulation> {
  const block = 10 + ((process.pid * 7 + nextBlock++ * 13) % 240);
  return startSimulation({
    logger: memoryLogger('warn'),
    port: 0,
    firstAddress: `127.${block}.${(process.pid >> 8) % 250}.2`,
    authFailureDelayMs: 200,
    hostDeadAfterMs: 1000,
    guestHeartbeatMs: 1200,
    vmBootMs: 20,
    ...o,
    size: { hosts: 3, vmsPerHost: 4, disksPerVm: 2, vifsPerVm: 2, vcpusPerVm: 2, hostCpus: 4, ...o.size },
  });
}

/** The bundle config's `pools:` entries (YAML, 2-space indented list items) for the simulated pools. */
export function simPoolsYaml(sims: Simulation[]): string {
  return sims
    .map(
      (s) =>
        `  - name: ${s.pool.options.name}\n    url: ${s.url}\n    username: ${s.pool.options.username}\n    password: ${s.pool.options.password}\n    tls: { insecure: ${s.url.startsWith('https')} }\n    timeouts: { login_seconds: 6, call_seconds: 5 }\n`,
    )
    .join('');
}

/** A bundle config for the exporter scraping the simulated pools (`extra`: more top-level sections). */
export function exporterConfigYaml(sims: Simulation[], extra = ''): string {
  return `pools:\n${simPoolsYaml(sims)}exporter:\n  listen: 127.0.0.1:0\n  poll_interval_seconds: 5\n  rrd: { timeout_seconds: 2, window_seconds: 30 }\n${extra}`;
}
