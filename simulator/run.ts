// Start a whole simulated pool: the pool model, its hosts' listeners and the control API.
import type { Logger } from '../core/log.js';
import { ControlServer } from './control.js';
import { type HardwareSimOptions, SimulatedHardware } from './hardware/plugins.js';
import { DEFAULT_SIM_OPTIONS, type SimOptions, SimulatedPool } from './pool.js';
import { SimServer } from './server.js';
import type { PluginHandler } from './xapi/dispatch.js';

export interface SimulationOptions extends Partial<SimOptions> {
  port: number;
  controlPort?: number;
  tls?: { cert: string; key: string };
  /** More plugins; they win over the hardware ones of the same name. */
  plugins?: Map<string, PluginHandler>;
  /** The XCP-ng hardware plugins ipmitool.py and smartctl.py, answering from simulator/hardware/data (default on;
   * false: hosts answer XENAPI_MISSING_PLUGIN). */
  hardware?: boolean | HardwareSimOptions;
  logger: Logger;
}

export interface Simulation {
  pool: SimulatedPool;
  server: SimServer;
  control: ControlServer;
  /** The simulated hardware plugins, when on. */
  hardware?: SimulatedHardware;
  /** The pool's XAPI URL (the master). */
  url: string;
  controlUrl: string;
  stop(): Promise<void>;
}

export async function startSimulation(o: SimulationOptions): Promise<Simulation> {
  const { port, controlPort = 0, tls, plugins, hardware: hardwareOption, logger, ...rest } = o;
  const pool = new SimulatedPool({ ...DEFAULT_SIM_OPTIONS, ...rest, size: { ...DEFAULT_SIM_OPTIONS.size, ...rest.size } });
  const wantHardware = hardwareOption !== false;
  const hardware = wantHardware ? new SimulatedHardware(typeof hardwareOption === 'object' ? hardwareOption : {}) : undefined;
  const allPlugins = new Map([...(hardware?.plugins() ?? []), ...(plugins ?? [])]);
  const server = new SimServer(pool, { port, tls, logger, plugins: allPlugins });
  await server.start();
  const control = new ControlServer(pool, server, logger, hardware);
  const controlUrl = await control.start(controlPort);
  return {
    pool,
    server,
    control,
    hardware,
    url: server.url,
    controlUrl,
    async stop() {
      await control.stop();
      await server.stop();
    },
  };
}
