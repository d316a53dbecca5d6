// The receiver's SQLite store: the in-thread store run by a worker thread (recovery-hooks/store/sqlite-worker.ts).
// Same contract, same errors, same durability as the in-thread store; callbacks run inside the worker's transaction.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { MIGRATIONS } from '../../recovery-hooks/store/migrations.js';
import { SqliteWorkerStore } from '../../recovery-hooks/store/sqlite-worker.js';
import { MarkerNotFoundError, StoreError } from '../../recovery-hooks/store/store.js';
import { tempDir } from './helpers/harness.js';
import { T0, input, opts, storeContract } from './helpers/store-contract.js';

t.test('the store contract, on SQLite in a worker thread', async (t) => {
  storeContract(t, async () => SqliteWorkerStore.open(':memory:'));
});

t.test('committed data is in the file when the call answers; the schema is migrated once', async (t) => {
  const file = join(tempDir(), 'sub', 'store.sqlite');
  const a = await SqliteWorkerStore.open(file);
  let queued = 0;
  a.onMessagesQueued(() => queued++);
  const { notification } = await a.create(input(), opts, (n) => [{ channel: 'mail', payload: { uuid: n.uuid } }]);
  const uuid = notification!.uuid;
  t.equal(queued, 1, 'the queued signal crossed the thread before the answer');
  // A second connection sees the commit at once: the answer came after it.
  const raw = new Database(file, { readonly: true });
  t.same(raw.prepare('SELECT uuid FROM notifications').all(), [{ uuid }]);
  t.same(raw.prepare('SELECT channel FROM outbox').all(), [{ channel: 'mail' }], 'the outbox message, built on this thread, in the same commit');
  raw.close();
  await a.close();
  const b = await SqliteWorkerStore.open(file);
  t.same(
    await b.schemaVersions(),
    MIGRATIONS.map((m) => m.version),
  );
  t.match(await b.get(uuid), { uuid, status: 'new' });
  await b.close();
});

t.test('a throwing callback rolls its transaction back; errors keep their class and fields', async (t) => {
  const s = await SqliteWorkerStore.open(join(tempDir(), 'store.sqlite'));
  const err = (await s
    .create(input(), opts, () => {
      throw new Error('builder broke');
    })
    .catch((e: unknown) => e)) as StoreError;
  t.type(err, StoreError);
  t.match(err.message, /store create failed: builder broke/);
  t.same(await s.list({}, { limit: 10, sort: [] }), [], 'nothing of the failed create was committed');
  const marker = await s.list({}, { limit: 10, sort: [], markerId: 999 }).catch((e: unknown) => e);
  t.type(marker, MarkerNotFoundError);
  t.match(marker, { marker: 999 });
  // Concurrent calls are answered in order, each after its own transaction.
  const created = await Promise.all(Array.from({ length: 20 }, (_, i) => s.create(input({ hostUuid: `h-${i}`, generatedAt: T0 + i }), opts)));
  t.equal(new Set(created.map((c) => c.notification!.uuid)).size, 20);
  await s.close();
  await t.rejects(s.get('x'), StoreError, 'a closed store rejects with StoreError');
  const notADir = join(tempDir(), 'file');
  writeFileSync(notADir, '');
  await t.rejects(SqliteWorkerStore.open(join(notADir, 'store.sqlite')), StoreError, 'an unusable path fails at open');
});
