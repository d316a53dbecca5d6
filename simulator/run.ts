// Start a whole simulated pool: the pool model, its hosts' listeners and the control API.
import type { Logger } from '../core/log.js';
import { ControlServer } from './control.js';
import { DEFAULT_SIM_OPTIONS, type SimOptions, SimulatedPool } from './pool.js';
import { SimServer } from './server.js';
import type { PluginHandler } from './xapi/dispatch.js';

export interface SimulationOptions extends Partial<SimOptions> {
  port: number;
  controlPort?: number;
  tls?: { cert: string; key: string };
  plugins?: Map<string, PluginHandler>;
  logger: Logger;
}

export interface Simulation {
  pool: SimulatedPool;
  server: SimServer;
  control: ControlServer;
  /** The pool's XAPI URL (the master). */
  url: string;
  controlUrl: string;
  stop(): Promise<void>;
}

export async function startSimulation(o: SimulationOptions): Promise<Simulation> {
  const { port, controlPort = 0, tls, plugins, logger, ...rest } = o;
  const pool = new SimulatedPool({ ...DEFAULT_SIM_OPTIONS, ...rest, size: { ...DEFAULT_SIM_OPTIONS.size, ...rest.size } });
  const server = new SimServer(pool, { port, tls, logger, plugins });
  await server.start();
  const control = new ControlServer(pool, server, logger);
  const controlUrl = await control.start(controlPort);
  return {
    pool,
    server,
    control,
    url: server.url,
    controlUrl,
    async stop() {
      await control.stop();
      await server.stop();
    },
  };
}
