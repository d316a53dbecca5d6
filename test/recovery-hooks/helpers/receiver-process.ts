// A receiver as operators run it: `xcp-sentinel recovery-hook --config F` in a child process, its JSON log lines
// collected. Killed with SIGKILL at teardown if still running.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { CLI, waitUntil } from './sim-rig.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export interface ChildReceiver {
  url: string;
  pid: number;
  /** Parsed JSON log lines so far. */
  log: Record<string, any>[];
  /** Resolves with the signal (or exit code) the process ended with. */
  exited: Promise<NodeJS.Signals | number | null>;
  process: ChildProcess;
}

export async function spawnReceiver(t: Test, configFile: string): Promise<ChildReceiver> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'recovery-hook', '--config', configFile], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const log: Record<string, any>[] = [];
  let stderr = '';
  let buffered = '';
  child.stdout!.on('data', (d: Buffer) => {
    buffered += d.toString();
    const complete = buffered.split('\n');
    buffered = complete.pop()!;
    for (const line of complete) if (line.trim()) log.push(JSON.parse(line));
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  const url = await waitUntil(
    'the child receiver to listen',
    () => {
      if (child.exitCode !== null) throw new Error(`receiver exited with ${child.exitCode}: ${stderr}`);
      return log.find((l) => l.msg === 'recovery hook listening')?.url as string | undefined;
    },
    30_000,
  );
  return { url, pid: child.pid!, log, exited, process: child };
}
