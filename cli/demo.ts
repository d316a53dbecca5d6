// `xcp-sentinel demo`: a simulated pool and the parts of the bundle available in this version, on loopback.
import { createLogger } from '../core/log.js';
import { startSimulation } from '../simulator/run.js';
import { DEFAULT_CONTROL_URL, DEFAULT_SIM_PORT } from './simulate.js';
import { untilSignal } from './usage.js';

export async function demoCommand(_args: string[]): Promise<number> {
  const logger = createLogger();
  const sim = await startSimulation({ logger, port: DEFAULT_SIM_PORT, controlPort: Number(new URL(DEFAULT_CONTROL_URL).port), hostDeadAfterMs: 20_000 });
  const s = sim.control.status();
  process.stdout.write(`
xcp-sentinel demo — a simulated XCP-ng pool "${s.pool}" with ${s.hosts.length} hosts and ${Object.values(s.vms).reduce((a, b) => a + b, 0)} VMs

  XAPI (master)        ${sim.url}/jsonrpc   user ${s.username}, password "simulated"
  hosts                ${s.hosts.map((h) => `${h.name} ${h.url}`).join('\n                       ')}
  control API          ${sim.controlUrl}/sim

Try:
  npx xcp-sentinel simulate status
  npx xcp-sentinel simulate fail-host ${s.hosts[1]?.name}
  npx xcp-sentinel simulate crash-vm vm-01-001
  npx xcp-sentinel simulate kill-toolstack ${s.hosts[2]?.name ?? s.hosts[0]?.name}
  curl -s '${s.hosts[0]?.url}/rrd_updates?start=-10&host=true&session_id=...'

Ctrl-C stops everything.
`);
  await untilSignal();
  await sim.stop();
  return 0;
}
