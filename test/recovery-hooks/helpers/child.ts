// The receiver of child-receiver.ts in a process of its own, on the store of `dir`, for the SIGKILL tests.
import { type ChildProcess, spawn } from 'node:child_process';

/** Resolves with the process and the receiver's URL once it listens; the caller kills it (teardown). */
export async function spawnChildReceiver(dir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./child-receiver.ts', import.meta.url).pathname, dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => resolve(d.toString().trim()));
    child.once('exit', (code) => reject(new Error(`child exited with ${code}`)));
  });
  return { child, url };
}
