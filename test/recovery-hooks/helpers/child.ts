// The receiver of child-receiver.ts in a process of its own, on the store of `dir`, for the SIGKILL tests.
import { type ChildProcess, spawn } from 'node:child_process';
import { SqliteNotificationStore } from '../../../recovery-hooks/store/sqlite.js';
import { TOKEN } from './harness.js';

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

/** Posts one Alertmanager webhook of `alerts`; the uuids of the notifications its receipts name. Throws unless 202. */
export async function postAlerts(url: string, alerts: unknown[]): Promise<string[]> {
  const res = await fetch(`${url}/alertmanager`, {
    method: 'POST',
    headers: { 'X-Auth-Token': TOKEN, 'Content-Type': 'application/json' },
    body: JSON.stringify({ version: '4', alerts }),
  });
  const body = (await res.json()) as { receipts?: { notification_uuid?: string }[] };
  if (res.status !== 202) throw new Error(`HTTP ${res.status}`);
  return (body.receipts ?? []).flatMap((r) => (r.notification_uuid ? [r.notification_uuid] : []));
}

/**
 * `senders` loops, each sending deliveries n = 0, 1, 2… (shared) one after the other, until one fails (the receiver
 * gone); `answered` runs after each delivery answered. Resolves with how many failed (one per sender).
 */
export async function sendUntilGone(senders: number, send: (n: number) => Promise<void>, answered: () => void): Promise<number> {
  let next = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: senders }, async () => {
      for (;;) {
        try {
          await send(next++);
        } catch {
          failed++;
          return;
        }
        answered();
      }
    }),
  );
  return failed;
}

/** The uuids among `uuids` that the store file at `file` does not hold. */
export async function missingIn(file: string, uuids: string[]): Promise<string[]> {
  const store = new SqliteNotificationStore(file);
  try {
    const missing: string[] = [];
    for (const uuid of uuids) if (!(await store.get(uuid))) missing.push(uuid);
    return missing;
  } finally {
    await store.close();
  }
}
