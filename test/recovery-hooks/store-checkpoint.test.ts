// The SQLite file store checkpoints its WAL off the event loop (wal-checkpointer.ts, sqlite.ts): once the WAL reached
// the size of SQLite's first automatic checkpoint, a worker thread copies it into the database file while the
// commits go on; the writer's own checkpoint stays as a bound; a checkpointer that fails gives the checkpoints back to
// the commits, with a warning; a SIGKILL while checkpoints run loses nothing acknowledged and leaves a sound file.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import Database from 'better-sqlite3';
import t from 'tap';
import { SqliteNotificationStore } from '../../recovery-hooks/store/sqlite.js';
import { SqliteWorkerStore } from '../../recovery-hooks/store/sqlite-worker.js';
import { type CheckpointResult, type FromWorker, WalCheckpointer, serveCheckpoints } from '../../recovery-hooks/store/wal-checkpointer.js';
import { missingIn, postAlerts, sendUntilGone, spawnChildReceiver } from './helpers/child.js';
import { HOST_1, HOST_2, tempDir } from './helpers/harness.js';
import { T0, input } from './helpers/store-contract.js';

const MiB = 1024 * 1024;
/**
 * The writer's own checkpoint (FALLBACK_CHECKPOINT_PAGES in sqlite.ts) in bytes of WAL, 10,000 frames of 4 KiB + 24,
 * and what can come on top: SQLite tries it after each commit past the mark, passively — while the worker's
 * checkpoint holds the lock it is skipped and the next commit tries again (a CI run saw 40.7 MiB). Without the mark
 * (checkpoints off in the commits) this write makes ~107 MiB of WAL.
 */
const FALLBACK_WAL_BYTES = 10_000 * (4096 + 24) + 8 * MiB;

/** Commits of 48 notifications with 8 KiB payloads (recorded ignored: no duplicate lookup), until `bytes` of payload went in. */
async function fill(store: Pick<SqliteNotificationStore, 'createMany'>, bytes: number, from = 0): Promise<number> {
  const blob = 'x'.repeat(8 * 1024);
  let n = from;
  for (let written = 0; written < bytes; written += 48 * blob.length) {
    const inputs = Array.from({ length: 48 }, () => input({ payload: { blob, n: n++ }, ignoreReason: 'test' }));
    await store.createMany(inputs, { now: T0, dedupWindowMs: 0, onMaintenance: 'refuse' });
  }
  return n;
}

class WatchedStore extends SqliteNotificationStore {
  started = 0;
  readonly results: CheckpointResult[] = [];
  readonly warnings: { msg: string; fields?: Record<string, unknown> }[];
  /** A path for the checkpointer instead of the store's (a file that does not exist makes it fail). */
  checkpointerPath: string | undefined;

  constructor(path: string) {
    const warnings: WatchedStore['warnings'] = [];
    super(path, { warn: (msg, fields) => warnings.push({ msg, fields }) });
    this.warnings = warnings;
  }

  protected override startCheckpointer(path: string): WalCheckpointer {
    this.started++;
    const checkpointer = new WalCheckpointer(this.checkpointerPath ?? path);
    const checkpoint = checkpointer.checkpoint.bind(checkpointer);
    checkpointer.checkpoint = async () => {
      const r = await checkpoint();
      this.results.push(r);
      return r;
    };
    return checkpointer;
  }
}

t.test('past 3 MiB of WAL a worker checkpoints beside the commits; the WAL stays bounded; close stops it', async (t) => {
  const file = join(tempDir(), 'store.sqlite');
  const store = new WatchedStore(file);
  let n = await fill(store, 1 * MiB);
  t.equal(store.started, 0, 'a WAL under 3 MiB: no checkpointer (small stores start no thread)');

  n = await fill(store, 60 * MiB, n);
  t.equal(store.started, 1, 'one checkpointer, started once the WAL reached 3 MiB');
  t.ok(store.results.length >= 3, `${store.results.length} checkpoints ran in the worker`);
  const copied = store.results.filter((r) => r.checkpointed > 0).length;
  t.ok(copied >= 2, `${copied} of them copied frames into the database file`);
  t.ok(
    store.results.every((r) => r.checkpointed <= r.walFrames),
    'each copied at most what the WAL held',
  );
  const walBytes = statSync(`${file}-wal`).size;
  t.ok(walBytes <= FALLBACK_WAL_BYTES, `the WAL (${(walBytes / MiB).toFixed(1)} MiB after 61 MiB of payloads) stays within the writer's own bound`);
  t.equal(store.warnings.length, 0, 'no warning');

  await store.close();
  t.notOk(existsSync(`${file}-wal`), "closed: the checkpointer's connection too (SQLite removes the WAL when the last one closes)");
  const db = new Database(file, { readonly: true });
  t.teardown(() => db.close());
  t.equal(db.pragma('integrity_check', { simple: true }), 'ok');
  t.equal(db.prepare('SELECT COUNT(*) FROM notifications').pluck().get(), n, 'every row committed is in the file');
});

t.test("the worker's side, in this thread: a checkpoint per request, a failure as an answer, close ends the port", async (t) => {
  const dir = tempDir();
  const file = join(dir, 'store.sqlite');
  const store = new SqliteNotificationStore(file);
  t.teardown(() => store.close());
  await fill(store, 256 * 1024);
  const ask = (port: MessagePort) => {
    const answer = new Promise<FromWorker>((resolve) => port.once('message', resolve));
    port.postMessage('checkpoint');
    return answer;
  };
  const { port1, port2 } = new MessageChannel();
  serveCheckpoints(port2, file);
  const first = await ask(port1);
  t.match(first, { kind: 'done', result: { walFrames: Number } }, 'done, with what the WAL held');
  const frames = first.kind === 'done' ? first.result.walFrames : 0;
  t.ok(frames > 0, `${frames} frames in the WAL`);
  t.same(first, { kind: 'done', result: { walFrames: frames, checkpointed: frames } }, 'every frame copied (no commit in between)');
  // A port's 'close' listener keeps nothing alive: a timer holds the loop until it fires (or fails the test).
  const hold = setTimeout(() => t.fail('the port was not closed'), 5000);
  const closed = new Promise((resolve) => port1.once('close', resolve));
  port1.postMessage('close');
  await closed;
  clearTimeout(hold);
  t.pass("'close': the connection and the port closed");

  const missing = new MessageChannel();
  serveCheckpoints(missing.port2, join(dir, 'missing.sqlite'));
  t.match(await ask(missing.port1), { kind: 'failed', message: /unable to open/ }, 'a file that cannot be opened: a failure, answered');
  missing.port1.postMessage('close');
});

t.test('a checkpointer that fails: one warning, and the commits checkpoint again as SQLite does', async (t) => {
  const dir = tempDir();
  const file = join(dir, 'store.sqlite');
  const store = new WatchedStore(file);
  t.teardown(() => store.close());
  store.checkpointerPath = join(dir, 'missing.sqlite');
  await fill(store, 6 * MiB);
  t.equal(store.started, 1);
  // The worker starts, fails to open its file, and says so: the next commits find the checkpoints theirs again.
  for (let i = 0; i < 100 && !store.warnings.length; i++) await new Promise((r) => setTimeout(r, 20));
  t.match(store.warnings, [{ msg: /WAL checkpointer failed/, fields: { store: file, error: /unable to open/ } }], 'one warning, naming the store');
  const before = statSync(`${file}-wal`).size;
  await fill(store, 30 * MiB);
  const after = statSync(`${file}-wal`).size;
  // The WAL file keeps its largest size: with checkpoints at 1,000 pages again it does not grow past what it had.
  t.ok(
    after <= Math.max(before, 1000 * (4096 + 24)) + 2 * MiB,
    `the WAL stays at ${(after / MiB).toFixed(1)} MiB (${(before / MiB).toFixed(1)} at the failure), not the writer's 10,000 pages (39 MiB)`,
  );
  t.equal(store.started, 1, 'not started again');
  t.equal(store.warnings.length, 1, 'warned once');
});

t.test('the worker-thread store starts no thread of its own: SQLite checkpoints in its commits, off the event loop already', async (t) => {
  const file = join(tempDir(), 'store.sqlite');
  const store = await SqliteWorkerStore.open(file);
  t.teardown(() => store.close());
  await fill(store, 24 * MiB);
  const walBytes = statSync(`${file}-wal`).size;
  // With a checkpointer the writer's own mark would be 10,000 pages and the WAL would grow past 20 MiB here.
  t.ok(walBytes <= 1000 * (4096 + 24) + 2 * MiB, `the WAL stays at ${(walBytes / MiB).toFixed(1)} MiB: SQLite's 1,000 pages`);
});

t.test('SIGKILL while checkpoints run: every acknowledged alert is stored, the file is sound', async (t) => {
  const dir = tempDir();
  const file = join(dir, 'recovery.sqlite');
  const { child, url } = await spawnChildReceiver(dir);
  t.teardown(() => child.kill('SIGKILL'));
  const exited = new Promise((r) => child.once('exit', r));
  const acknowledged: string[] = [];
  const startsAt = new Date(Date.now() - 1000).toISOString();
  const send = async (n: number) => {
    const alerts = Array.from({ length: 50 }, (_, i) => ({
      status: 'firing',
      startsAt,
      fingerprint: `ckpt-${n}-${i}`,
      annotations: { description: `checkpoint test ${'d'.repeat(400)}` },
      labels: {
        xcp_notification_type: 'COMPUTE_INSTANCE',
        pool_name: 'pool-a',
        host_name: (i % 2 ? HOST_2 : HOST_1).name,
        host_uuid: (i % 2 ? HOST_2 : HOST_1).uuid,
        vm_uuid: `00000000-0000-4000-9000-${String(n * 50 + i).padStart(12, '0')}`,
        vm_name: `vm-${n}-${i}-${'v'.repeat(100)}`,
      },
    }));
    acknowledged.push(...(await postAlerts(url, alerts)));
  };
  // 8 senders; once the WAL reached 4 MiB (the checkpointer started at 3, and checkpoints every 50 ms while commits
  // come in) the receiver is killed 200–500 ms later. The WAL does not have to grow further: the checkpoints may keep
  // it there. After 2,000 deliveries it is killed anyway (the assertion below then fails, the test does not hang).
  let walBytes = 0;
  let deliveries = 0;
  let killing = false;
  const failed = await sendUntilGone(8, send, () => {
    walBytes = Math.max(walBytes, existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0);
    if (killing || (walBytes < 4 * MiB && ++deliveries < 2000)) return;
    killing = true;
    setTimeout(() => child.kill('SIGKILL'), 200 + Math.random() * 300);
  });
  await exited;
  t.ok(walBytes >= 4 * MiB, `the WAL reached ${(walBytes / MiB).toFixed(1)} MiB: checkpoints ran in their thread until the kill`);
  t.ok(failed > 0, 'the deliveries in flight at the kill failed (not acknowledged)');

  const db = new Database(file);
  t.equal(db.pragma('integrity_check', { simple: true }), 'ok', 'the file is sound after recovery from the WAL');
  db.close();
  t.same(await missingIn(file, acknowledged), [], `every one of the ${acknowledged.length} acknowledged notifications is in the store file`);
});
