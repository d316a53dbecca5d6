// A simulated pool in its own process, so the benchmarked process measures only itself.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../core/net.js';

export interface SimProcess {
  url: string;
  controlUrl: string;
  stop(): Promise<void>;
}

const CLI = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));
let block = 60;

export async function startSimProcess(size: { hosts: number; vmsPerHost: number; disks?: number; vifs?: number; vcpus?: number }): Promise<SimProcess> {
  const first = `127.${block++}.0.2`;
  // Ports the system picks free: a random one may be a client socket's (the ephemeral range) and the child dies.
  const port = await freePort(0, first);
  const controlPort = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      CLI,
      'simulate',
      '--hosts',
      String(size.hosts),
      '--vms-per-host',
      String(size.vmsPerHost),
      '--disks-per-vm',
      String(size.disks ?? 2),
      '--vifs-per-vm',
      String(size.vifs ?? 2),
      '--vcpus-per-vm',
      String(size.vcpus ?? 4),
      '--first-address',
      first,
      '--port',
      String(port),
      '--control-port',
      String(controlPort),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, XCP_SENTINEL_LOG_LEVEL: 'warn' } },
  );
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const controlUrl = `http://127.0.0.1:${controlPort}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error('simulator exited');
    try {
      if ((await fetch(controlUrl + '/sim', { signal: AbortSignal.timeout(2000) })).ok) break;
    } catch {
      /* starting */
    }
    if (Date.now() > deadline) throw new Error('simulator did not start');
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url: `http://${first}:${port}`,
    controlUrl,
    async stop() {
      process.off('exit', kill);
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}
