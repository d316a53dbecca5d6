// Test helpers: a simulated pool on loopback (simulator/loopback.ts, shared with grafana/preview), and a pool config
// pointing at it.
import { Secret } from '../../core/config/secret.js';
import type { PoolConfig } from '../../core/config/pool.js';
import type { Simulation } from '../../simulator/run.js';

export { startSim } from '../../simulator/loopback.js';

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
