// Test helpers: a simulated pool on loopback, and a pool config pointing at it.
import { Secret } from '../../core/config/secret.js';
import type { PoolConfig } from '../../core/config/pool.js';
import { memoryLogger } from '../../core/log.js';
import { type Simulation, type SimulationOptions, startSimulation } from '../../simulator/run.js';

let nextBlock = 0;

/**
 * Start a small simulated pool. Each call uses its own block of loopback addresses (127.0.N.2 …), so tests
 * running in parallel never collide; the port is picked free.
 */
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

export function poolConfigFor(sim: Simulation, over: Partial<PoolConfig> = {}): PoolConfig {
  return {
    name: sim.pool.options.name,
    url: sim.url,
    username: sim.pool.options.username,
    password: new Secret(sim.pool.options.password),
    tls: {},
    timeouts: { loginMs: 6000, callMs: 5000 },
    ...over,
  };
}
