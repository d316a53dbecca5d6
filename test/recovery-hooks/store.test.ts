import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t, { type Test } from 'tap';
import { MIGRATIONS } from '../../recovery-hooks/store/migrations.js';
import { SqliteNotificationStore } from '../../recovery-hooks/store/sqlite.js';
import { StoreError } from '../../recovery-hooks/store/store.js';
import { HOST_1, tempDir } from './helpers/harness.js';
import { FIRST_FORM_KEYS, KEYS_NOT_OF_THE_FIRST_FORM, T0, input, keyedRow, opts, storeContract } from './helpers/store-contract.js';

t.test('the store contract, on SQLite', async (t) => {
  storeContract(t, async () => new SqliteNotificationStore(':memory:'));
});

t.test('the store contract, on a SQLite file (the store syncs the WAL after each commit)', async (t) => {
  storeContract(t, async () => new SqliteNotificationStore(join(tempDir(), 'contract.sqlite')));
});

t.test('everything committed survives closing and reopening the file; the schema is migrated once', async (t) => {
  const file = join(tempDir(), 'sub', 'store.sqlite');
  const a = new SqliteNotificationStore(file);
  const { notification } = await a.create(input(), opts, (n) => [{ channel: 'mail', payload: { uuid: n.uuid } }]);
  const uuid = notification!.uuid;
  await a.planTasks(uuid, ['one']);
  await a.finishTask(uuid, 'one', 'SUCCESS', { answer: 42 }, T0 + 3);
  await a.transition(uuid, { from: ['new'], to: 'running', startsRun: true }, T0 + 5);
  await a.close();

  const b = new SqliteNotificationStore(file);
  t.same(
    b.schemaVersions(),
    MIGRATIONS.map((m) => m.version),
    'every migration applied, once',
  );
  t.match(await b.get(uuid), { status: 'running', attempts: 1 });
  t.match(await b.tasks(uuid), [{ name: 'one', state: 'SUCCESS', result: { answer: 42 } }]);
  t.match(await b.claimMessages('mail', 10, T0, 1000), [{ payload: { uuid } }]);
  await b.close();
  // WAL journal and synchronous=FULL, as configured on each connection.
  const raw = new Database(file);
  t.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
  raw.close();
});

t.test('a failing backend surfaces as StoreError, and the failed transaction leaves nothing behind', async (t) => {
  const file = join(tempDir(), 'store.sqlite');
  const s = new SqliteNotificationStore(file);
  const other = new Database(file);
  other.exec(`CREATE TRIGGER fail_host_upsert BEFORE INSERT ON hosts BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END;`);
  other.close();
  const err = (await s.create(input(), opts).catch((e: unknown) => e)) as StoreError;
  t.type(err, StoreError);
  t.match(err.message, /store create failed: disk full/);
  t.same(await s.list({}, { limit: 10, sort: [] }), [], 'the notification insert was rolled back with the failed host upsert');
  await s.close();
  await t.rejects(s.get('x'), StoreError, 'a closed store rejects with StoreError too');
  const notADir = join(tempDir(), 'file');
  writeFileSync(notADir, '');
  t.throws(() => new SqliteNotificationStore(join(notADir, 'store.sqlite')), StoreError, 'an unusable path fails at open');
});

/** A store file as a receiver of migration `version` left it (its migrations applied, the later ones not), open. */
function fileAtMigration(file: string, version: number): Database.Database {
  const raw = new Database(file);
  raw.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
  for (const m of MIGRATIONS.filter((m) => m.version <= version)) {
    raw.exec(m.sql);
    raw.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)').run(m.version);
  }
  return raw;
}

/** The store of `file` opened by this receiver: every later migration applied, once. */
function upgraded(t: Test, file: string): SqliteNotificationStore {
  const s = new SqliteNotificationStore(file);
  t.teardown(() => s.close());
  t.same(
    s.schemaVersions(),
    MIGRATIONS.map((m) => m.version),
    'every migration applied',
  );
  return s;
}

t.test('a store of migration 5 upgrades: the outbox messages about a notification join its activity', async (t) => {
  const file = join(tempDir(), 'v5.sqlite');
  const raw = fileAtMigration(file, 5);
  const insert = raw.prepare("INSERT INTO outbox (channel, payload, status, next_attempt_at, created_at, done_at) VALUES ('mail', ?, ?, ?, ?, ?)");
  insert.run(JSON.stringify({ event: 'recovery.started', notification_uuid: 'n-1' }), 'sent', T0, T0, T0 + 5);
  insert.run(JSON.stringify({ event: 'alert.firing', fingerprint: 'f' }), 'pending', T0, T0, null);
  insert.run(JSON.stringify({ event: 'recovery.finished', notification_uuid: 'n-2' }), 'dead', T0, T0, T0 + 9);
  raw.close();
  const s = upgraded(t, file);
  t.match((await s.activityOf('n-1')).messages, [{ channel: 'mail', event: 'recovery.started', status: 'sent', sentAt: T0 + 5 }]);
  t.match((await s.activityOf('n-2')).messages, [{ event: 'recovery.finished', status: 'failed', failedAt: T0 + 9 }]);
  t.equal((await s.activityOf('n-1')).messages.length, 1, 'the alert message belongs to no notification');
});

t.test('a store of migration 7 upgrades: an alert recorded under a replay key of the first form is still a replay', async (t) => {
  const file = join(tempDir(), 'v7.sqlite');
  const raw = fileAtMigration(file, 7);
  const insert = raw.prepare(
    "INSERT INTO notifications (uuid, type, status, host_uuid, host_name, pool_name, generated_at, payload, source, replay_key, created_at) VALUES (?, 'COMPUTE_HOST', 'new', ?, ?, 'pool-a', ?, ?, 'alertmanager', ?, ?)",
  );
  const keys = [...FIRST_FORM_KEYS.map((k) => k.old), ...KEYS_NOT_OF_THE_FIRST_FORM];
  keys.forEach((key, i) => {
    const row = keyedRow(key, i);
    insert.run(row.uuid, HOST_1.uuid, HOST_1.name, T0, row.payload, row.replayKey, T0);
  });
  raw.close();
  const s = upgraded(t, file);
  const read = new Database(file, { readonly: true });
  const stored = read.prepare('SELECT replay_key FROM notifications ORDER BY id').pluck().all();
  read.close();
  t.same(stored, [...FIRST_FORM_KEYS.map((k) => k.now), ...KEYS_NOT_OF_THE_FIRST_FORM], 'first-form keys rewritten time first; the others as they were');
  const again = await s.create(input({ replayKey: FIRST_FORM_KEYS[0]!.now, source: 'alertmanager' }), opts);
  t.equal(again.outcome, 'replay', 'the alert sent again is a replay of the row recorded before the upgrade');
  t.equal(again.notification?.uuid, 'n-0');
});
