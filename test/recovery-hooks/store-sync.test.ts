// The SQLite file store syncs its WAL itself, after the commit and off the event loop (sqlite.ts): here the sync is
// held by the test (syncFile gated) to see that no method answers before the commits it follows are on disk, that
// one sync covers every commit made before it started and none after, and that a failed sync fails every later call.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { SqliteNotificationStore } from '../../recovery-hooks/store/sqlite.js';
import { StoreError } from '../../recovery-hooks/store/store.js';
import { HOST_2, tempDir } from './helpers/harness.js';
import { T0, input, opts } from './helpers/store-contract.js';

interface HeldSync {
  fd: number;
  release(): void;
  fail(err: Error): void;
}

class HeldSyncStore extends SqliteNotificationStore {
  readonly syncs: HeldSync[] = [];
  protected override syncFile(fd: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.syncs.push({ fd, release: resolve, fail: reject });
    });
  }
}

/** The promise's state after the event loop has run everything it can. */
async function settled(p: Promise<unknown>): Promise<'pending' | 'resolved' | 'rejected'> {
  let state: 'pending' | 'resolved' | 'rejected' = 'pending';
  p.then(
    () => (state = 'resolved'),
    () => (state = 'rejected'),
  );
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  return state;
}

t.test('a commit is answered only after a sync that started after it; reads wait for what they see', async (t) => {
  const file = join(tempDir(), 'store.sqlite');
  const s = new HeldSyncStore(file);
  t.teardown(() => s.close());
  t.equal(s.syncs.length, 0, 'opening syncs nothing here (migrations commit with synchronous=FULL)');
  t.equal(await settled(s.list({}, { limit: 10, sort: [] })), 'resolved', 'a read with nothing unsynced answers at once');

  const first = s.create(input(), opts);
  t.equal(await settled(first), 'pending', 'the create is not answered while its sync is held');
  t.equal(s.syncs.length, 1, 'one sync started');
  // The row is committed (another connection sees it), only not yet known to be on disk.
  const raw = new Database(file, { readonly: true });
  t.equal((raw.prepare('SELECT COUNT(*) AS n FROM notifications').get() as { n: number }).n, 1, 'committed before the sync');
  raw.close();
  const read = s.list({}, { limit: 10, sort: [] });
  t.equal(await settled(read), 'pending', 'a read of the unsynced row waits for the sync too');
  const second = s.create(input({ hostUuid: HOST_2.uuid, hostName: HOST_2.name }), opts);
  t.equal(await settled(second), 'pending');
  t.equal(s.syncs.length, 1, 'no second sync while one runs');

  s.syncs[0]!.release();
  t.match(await first, { outcome: 'created' });
  t.equal((await read).length, 1, 'the read answered after the sync that covers what it saw');
  t.equal(await settled(second), 'pending', 'the second commit came after the first sync started: it needs another');
  t.equal(s.syncs.length, 2, 'which starts once the first is done');
  s.syncs[1]!.release();
  t.match(await second, { outcome: 'created' });
  t.equal(s.syncs.length, 2);

  // Writes outside createMany wait the same way.
  const n = (await first).notification!;
  const transition = s.transition(n.uuid, { from: ['new'], to: 'running', startsRun: true }, T0 + 1);
  t.equal(await settled(transition), 'pending', 'a status change waits for its sync');
  s.syncs[2]!.release();
  t.match(await transition, { status: 'running' });
  const untouched = s.updateMove(n.uuid, 'no-such-vm', { status: 'failed' }, T0 + 2);
  t.equal(await settled(untouched), 'resolved', 'a statement that changed nothing needs no sync');
  t.equal(s.syncs.length, 3);
});

t.test('a failed sync: the call is not acknowledged, and every later call fails (the file state is unknown)', async (t) => {
  const file = join(tempDir(), 'store.sqlite');
  const s = new HeldSyncStore(file);
  t.teardown(() => s.close());
  const created = s.create(input(), opts);
  await settled(created);
  s.syncs[0]!.fail(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
  const err = (await created.catch((e: unknown) => e)) as StoreError;
  t.type(err, StoreError);
  t.equal(err.operation, 'sync');
  t.match(err.message, /EIO/);
  await t.rejects(s.get('x'), StoreError, 'a read fails too');
  const later = (await s.create(input({ hostUuid: HOST_2.uuid, hostName: HOST_2.name }), opts).catch((e: unknown) => e)) as StoreError;
  t.equal(later.operation, 'sync', 'a write fails with the sync error');
  const raw = new Database(file, { readonly: true });
  t.equal((raw.prepare('SELECT COUNT(*) AS n FROM notifications').get() as { n: number }).n, 1, 'before it committed anything');
  raw.close();
  t.equal(s.syncs.length, 1);
});

t.test('close waits for the sync in flight, and closes even when that sync fails', async (t) => {
  const file = join(tempDir(), 'store.sqlite');
  const s = new HeldSyncStore(file);
  const created = s.create(input(), opts);
  await settled(created);
  const closing = s.close();
  t.equal(await settled(closing), 'pending', 'close waits for the sync in flight');
  s.syncs[0]!.fail(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
  t.equal(await settled(closing), 'resolved', 'a failed sync does not fail the close');
  const err = (await created.catch((e: unknown) => e)) as StoreError;
  t.equal(err.operation, 'sync', 'the create was not acknowledged');
  await t.rejects(s.get('x'), 'the store is closed');
});

t.test('the real sync: the WAL file, synced by fdatasync; in memory nothing to sync', async (t) => {
  const file = join(tempDir(), 'store.sqlite');
  const s = new SqliteNotificationStore(file);
  t.ok(existsSync(`${file}-wal`), 'the WAL file exists while the store is open');
  const made = await s.create(input(), opts);
  t.match(made, { outcome: 'created' });
  await s.close();
  const raw = new Database(file, { readonly: true });
  t.equal((raw.prepare('SELECT COUNT(*) AS n FROM notifications').get() as { n: number }).n, 1);
  raw.close();
  const memory = new HeldSyncStore(':memory:');
  t.match(await memory.create(input(), opts), { outcome: 'created' });
  t.equal(memory.syncs.length, 0, 'SQLite itself syncs what it must (nothing, in memory)');
  await memory.close();
});
