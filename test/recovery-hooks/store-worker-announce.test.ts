// The worker store's createMany (store/sqlite-worker.ts): the caller's outbox builder gets the new notifications before
// the worker inserts them (it builds the messages meanwhile), exactly as they are stored — ids included — and an
// answer to a create that failed after its announcement is never taken for a later create's.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { SqliteWorkerStore } from '../../recovery-hooks/store/sqlite-worker.js';
import { StoreError } from '../../recovery-hooks/store/store.js';
import type { NewNotification, Notification } from '../../recovery-hooks/store/types.js';
import { tempDir } from './helpers/harness.js';
import { T0, input, opts } from './helpers/store-contract.js';

t.test('the builder sees each new notification as stored, ids included, after a deleted newest row and a rolled-back create', async (t) => {
  const file = join(tempDir(), 'store.sqlite');
  const s = await SqliteWorkerStore.open(file);
  const seen: Notification[] = [];
  const builder = (n: Notification) => {
    seen.push(n);
    return [{ channel: 'mail', payload: { uuid: n.uuid, id: n.id } }];
  };
  const batch = (from: number, n: number) => Array.from({ length: n }, (_, i) => input({ hostUuid: `h-${from + i}`, generatedAt: T0 + from + i }));
  await s.createMany(batch(0, 3), opts, builder);
  // The newest row deleted (as a purge may): AUTOINCREMENT never gives its id again, the next row gets the one after.
  const writer = new Database(file);
  const deleted = writer.prepare('DELETE FROM notifications WHERE id = (SELECT MAX(id) FROM notifications) RETURNING id').get() as { id: number };
  writer.prepare('DELETE FROM outbox WHERE id = (SELECT MAX(id) FROM outbox)').run();
  writer.close();
  // A create whose insert fails (a NOT NULL column left out) after the announcement: rolled back, its ids burnt.
  const broken = { ...input({ hostUuid: 'h-broken' }), type: undefined } as unknown as NewNotification;
  const err = await s.createMany([input({ hostUuid: 'h-ok', generatedAt: T0 + 50 }), broken], opts, builder).catch((e: unknown) => e);
  t.type(err, StoreError, 'the failed create rejects');
  const afterFailure = seen.length;
  const results = await s.createMany(batch(10, 4), opts, builder);
  // A replay of a row of the same batch and of a stored row: the same notifications, no new message.
  const replays = await s.createMany([input({ hostUuid: 'h-0', generatedAt: T0 }), input({ hostUuid: 'h-10', generatedAt: T0 + 10 })], opts, builder);
  await s.close();

  const raw = new Database(file, { readonly: true });
  const rows = raw.prepare('SELECT id, uuid FROM notifications ORDER BY id').all() as { id: number; uuid: string }[];
  const messages = raw.prepare('SELECT payload FROM outbox ORDER BY id').all() as { payload: string }[];
  raw.close();
  t.equal(rows.length, 6, 'three (one deleted), then four rows: nothing of the failed create');
  t.equal(rows[2]!.id, deleted.id + 1, 'the id after the deleted one');
  t.same(
    messages.map((m) => JSON.parse(m.payload)),
    rows.map((r) => ({ uuid: r.uuid, id: r.id })),
    'each stored row has its message, built with its own id and uuid',
  );
  t.same(
    results.map((r) => [r.outcome, r.notification?.id, r.notification?.uuid]),
    rows.slice(2).map((r) => ['created', r.id, r.uuid]),
    'the results name the stored rows',
  );
  t.same(
    seen.slice(afterFailure).map((n) => n.id),
    rows.slice(2).map((r) => r.id),
    'after the failed create, the builder got the new rows only (not an answer left from before)',
  );
  t.same(
    replays.map((r) => [r.outcome, r.notification?.id]),
    [
      ['duplicate', rows[0]!.id],
      ['duplicate', rows[2]!.id],
    ],
    'duplicates name the stored rows',
  );
});
