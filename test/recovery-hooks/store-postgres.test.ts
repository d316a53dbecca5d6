// The PostgreSQL store against a real server (Debian's postgresql, a throwaway cluster for this file): the shared
// contract on a fresh database per subtest, then what only a shared database has to get right: receivers (one
// store, one pool each) racing on the same alerts, messages and migrations, and a server that goes away.
import { inspect } from 'node:util';
import pg from 'pg';
import t, { type Test } from 'tap';
import { Secret } from '../../core/config/secret.js';
import { memoryLogger } from '../../core/log.js';
import type { PostgresStoreConfig } from '../../recovery-hooks/config.js';
import { describeStore, openStore } from '../../recovery-hooks/store/open.js';
import { PostgresNotificationStore } from '../../recovery-hooks/store/postgres.js';
import { POSTGRES_MIGRATIONS } from '../../recovery-hooks/store/postgres-migrations.js';
import { StoreError } from '../../recovery-hooks/store/store.js';
import type { OutboxInput } from '../../recovery-hooks/store/types.js';
import { type TestPostgres, postgresSkip, startPostgres } from '../helpers/postgres.js';
import { HOST_1, HOST_2, HOST_3 } from './helpers/harness.js';
import { FIRST_FORM_KEYS, KEYS_NOT_OF_THE_FIRST_FORM, T0, input, keyedRow, opts, storeContract } from './helpers/store-contract.js';

function config(url: string, over: Partial<PostgresStoreConfig> = {}): PostgresStoreConfig {
  return { url: new Secret(url), poolSize: 4, connectTimeoutMs: 3000, statementTimeoutMs: 5000, ...over };
}

/**
 * `batch()` started while `other` (a second connection) holds an uncommitted row with replay key `key`, under a host
 * the batch does not lock (host-3); once the batch waits for that row, `other` ends with `end`.
 */
async function raceOtherInsert<T>(other: pg.Client, key: string, end: 'COMMIT' | 'ROLLBACK', batch: () => Promise<T>): Promise<T> {
  await other.query('BEGIN');
  await other.query(
    `INSERT INTO notifications (uuid, type, status, host_uuid, host_name, pool_name, generated_at, payload, source, replay_key, created_at)
     VALUES ($1, 'COMPUTE_HOST', 'new', $2, $3, 'pool-a', $4, '{}', 'alertmanager', $5, $4)`,
    [`other-${end}`, HOST_3.uuid, HOST_3.name, T0, key],
  );
  const done = batch();
  for (let i = 0; ; i++) {
    const waiting = await other.query(
      `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'transactionid' AND datname = current_database()`,
    );
    if (waiting.rowCount) break;
    if (i > 500) throw new Error('the batch never waited for the other insert');
    await new Promise((r) => setTimeout(r, 10));
  }
  await other.query(end);
  return done;
}

if (postgresSkip) {
  t.plan(0, `skipped: ${postgresSkip}`);
} else {
  const server: TestPostgres = await startPostgres();
  t.teardown(() => server.stop());
  const logger = memoryLogger('debug');

  /** Two receivers sharing a new database. */
  const receivers = async (t: Test) => {
    const url = await server.createDatabase();
    const [a, b] = await Promise.all([PostgresNotificationStore.open(config(url), logger), PostgresNotificationStore.open(config(url), logger)]);
    t.teardown(() => Promise.all([a.close(), b.close()]));
    return { url, a, b };
  };

  t.test('the store contract, on PostgreSQL', async (t) => {
    storeContract(t, async () => PostgresNotificationStore.open(config(await server.createDatabase()), logger));
  });

  t.test('receivers opening a new database together migrate it once; a reopened store sees what the others wrote', async (t) => {
    const url = await server.createDatabase();
    const stores = await Promise.all([1, 2, 3, 4].map(() => PostgresNotificationStore.open(config(url), logger)));
    for (const s of stores)
      t.same(
        await s.schemaVersions(),
        POSTGRES_MIGRATIONS.map((m) => m.version),
      );
    const { notification } = await stores[0]!.create(input(), opts);
    await Promise.all(stores.map((s) => s.close()));
    const again = await PostgresNotificationStore.open(config(url), logger);
    t.teardown(() => again.close());
    t.same(
      await again.schemaVersions(),
      POSTGRES_MIGRATIONS.map((m) => m.version),
    );
    t.match(await again.get(notification!.uuid), { status: 'new', id: 1, generatedAt: T0 });
  });

  /** A connection to the database at `url` as a receiver of migration `version` left it (the later ones not applied). */
  const databaseAtMigration = async (url: string, version: number) => {
    const raw = new pg.Client({ connectionString: url });
    await raw.connect();
    await raw.query('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
    for (const m of POSTGRES_MIGRATIONS.filter((m) => m.version <= version)) {
      await raw.query(m.sql);
      await raw.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)', [m.version]);
    }
    return raw;
  };

  t.test('a database of migration 5 upgrades: the outbox messages about a notification join its activity', async (t) => {
    const url = await server.createDatabase();
    const raw = await databaseAtMigration(url, 5);
    const insert = "INSERT INTO outbox (channel, payload, status, next_attempt_at, created_at, done_at) VALUES ('mail', $1, $2, $3, $3, $4)";
    await raw.query(insert, [JSON.stringify({ event: 'recovery.started', notification_uuid: 'n-1' }), 'sent', T0, T0 + 5]);
    await raw.query(insert, [JSON.stringify({ event: 'alert.firing', fingerprint: 'f' }), 'pending', T0, null]);
    await raw.query(insert, [JSON.stringify({ event: 'recovery.finished', notification_uuid: 'n-2' }), 'dead', T0, T0 + 9]);
    await raw.end();
    const s = await PostgresNotificationStore.open(config(url), logger);
    t.teardown(() => s.close());
    t.same(
      await s.schemaVersions(),
      POSTGRES_MIGRATIONS.map((m) => m.version),
    );
    t.match((await s.activityOf('n-1')).messages, [{ channel: 'mail', event: 'recovery.started', status: 'sent', sentAt: T0 + 5 }]);
    t.match((await s.activityOf('n-2')).messages, [{ event: 'recovery.finished', status: 'failed', failedAt: T0 + 9 }]);
    t.equal((await s.activityOf('n-1')).messages.length, 1, 'the alert message belongs to no notification');
  });

  t.test('a database of migration 7 upgrades: an alert recorded under a replay key of the first form is still a replay', async (t) => {
    const url = await server.createDatabase();
    const raw = await databaseAtMigration(url, 7);
    const keys = [...FIRST_FORM_KEYS.map((k) => k.old), ...KEYS_NOT_OF_THE_FIRST_FORM];
    for (const [i, key] of keys.entries()) {
      const row = keyedRow(key, i);
      await raw.query(
        "INSERT INTO notifications (uuid, type, status, host_uuid, host_name, pool_name, generated_at, payload, source, replay_key, created_at) VALUES ($1, 'COMPUTE_HOST', 'new', $2, $3, 'pool-a', $4, $5, 'alertmanager', $6, $4)",
        [row.uuid, HOST_1.uuid, HOST_1.name, T0, row.payload, row.replayKey],
      );
    }
    const s = await PostgresNotificationStore.open(config(url), logger);
    t.teardown(() => s.close());
    t.same(
      await s.schemaVersions(),
      POSTGRES_MIGRATIONS.map((m) => m.version),
    );
    const { rows } = await raw.query<{ replay_key: string }>('SELECT replay_key FROM notifications ORDER BY id');
    await raw.end();
    t.same(
      rows.map((r) => r.replay_key),
      [...FIRST_FORM_KEYS.map((k) => k.now), ...KEYS_NOT_OF_THE_FIRST_FORM],
      'first-form keys rewritten time first; the others as they were',
    );
    const again = await s.create(input({ replayKey: FIRST_FORM_KEYS[0]!.now, source: 'alertmanager' }), opts);
    t.equal(again.outcome, 'replay', 'the alert sent again is a replay of the row recorded before the upgrade');
    t.equal(again.notification?.uuid, 'n-0');
  });

  t.test('BIGINT columns come back as numbers, without touching pg’s global type parsers', async (t) => {
    const { a } = await receivers(t);
    const { notification } = await a.create(input({ generatedAt: 2 ** 52 }), opts);
    t.equal((await a.get(notification!.uuid))!.generatedAt, 2 ** 52);
    t.same(await a.countByStatus(), { new: 1, running: 0, error: 0, failed: 0, ignored: 0, finished: 0 });
    t.equal(pg.types.getTypeParser(pg.types.builtins.INT8)('5'), '5', 'the global INT8 parser still answers strings');
  });

  t.test('two receivers recording the same alerts at the same moment create one notification per alert', async (t) => {
    const { a, b } = await receivers(t);
    const hosts = [HOST_1, HOST_2, HOST_3];
    const rounds = 40;
    for (let i = 0; i < rounds; i++) {
      // Alertmanager's webhook (replay key) and a Masakari client's POST (no key: the duplicate rule) for each host,
      // the two receivers holding the hosts in opposite orders.
      const batch = hosts.flatMap((h) => [
        input({ hostUuid: h.uuid, hostName: h.name, replayKey: `am:${h.uuid}:${i}:STOPPED`, generatedAt: T0 + i * 1_000_000, source: 'alertmanager' }),
        input({ hostUuid: h.uuid, hostName: h.name, generatedAt: T0 + i * 1_000_000, payload: { event: 'STOPPED', round: i } }),
      ]);
      const announce = (n: { uuid: string }): OutboxInput[] => [{ channel: 'mail', payload: { dedup_key: `created:${n.uuid}` } }];
      const [ra, rb] = await Promise.all([a.createMany(batch, opts, announce), b.createMany([...batch].reverse(), opts, announce)]);
      const outcomes = [...ra, ...rb].map((r) => r.outcome).sort();
      t.same(outcomes, [...Array(6).fill('created'), ...Array(3).fill('duplicate'), ...Array(3).fill('replay')], `round ${i}`);
    }
    t.equal((await a.countByStatus()).new, rounds * hosts.length * 2, 'exactly one notification per alert');
    const mails = await a.claimMessages('mail', 10_000, T0, 1000);
    t.equal(mails.length, rounds * hosts.length * 2, 'each announced once');
  });

  t.test('a replay key met under another host still answers replay (the unique index, not the host lock)', async (t) => {
    const { a, b } = await receivers(t);
    const [ra, rb] = await Promise.all([
      a.create(input({ replayKey: 'am:shared:1' }), opts),
      b.create(input({ replayKey: 'am:shared:1', hostUuid: HOST_2.uuid, hostName: HOST_2.name }), opts),
    ]);
    t.same([ra.outcome, rb.outcome].sort(), ['created', 'replay']);
    t.equal(ra.notification!.uuid, rb.notification!.uuid);
  });

  t.test('a replay key another receiver inserts while a batch is being recorded: the batch is decided again knowing it', async (t) => {
    const { url, a } = await receivers(t);
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    t.teardown(() => other.end());
    const race = async (end: 'COMMIT' | 'ROLLBACK') => {
      const key = `am:race:${end}`;
      const payload = { event: 'STOPPED', race: end };
      return raceOtherInsert(other, key, end, () =>
        a.createMany(
          [
            input({ replayKey: key, payload }),
            input({ generatedAt: T0 + 1000, payload }),
            input({ replayKey: key, hostUuid: HOST_2.uuid, hostName: HOST_2.name }),
          ],
          opts,
          (n) => [{ channel: 'mail', payload: { uuid: n.uuid } }],
        ),
      );
    };
    const lost = await race('COMMIT');
    t.same(
      lost.map((r) => r.outcome),
      ['replay', 'created', 'replay'],
      'the other row won: the second input is no duplicate of a row never inserted',
    );
    t.same([lost[0]!.notification!.uuid, lost[2]!.notification!.uuid], ['other-COMMIT', 'other-COMMIT']);
    const won = await race('ROLLBACK');
    t.same(
      won.map((r) => r.outcome),
      ['created', 'duplicate', 'replay'],
    );
    t.equal(won[1]!.notification!.uuid, won[0]!.notification!.uuid);
    t.equal(won[2]!.notification!.uuid, won[0]!.notification!.uuid);
    const mails = (await a.claimMessages('mail', 10, T0, 1000)).map((m) => m.payload.uuid);
    t.same(mails, [lost[1]!.notification!.uuid, won[0]!.notification!.uuid], 'only what was kept is announced');
    t.same(
      (await a.list({}, { limit: 10, sort: [{ key: 'id', dir: 'asc' }] })).map((n) => n.uuid),
      ['other-COMMIT', lost[1]!.notification!.uuid, won[0]!.notification!.uuid],
    );
  });

  t.test("a batch that meets another receiver's replay key upserts the hosts of the rows it finally inserts, no others", async (t) => {
    const { url, a } = await receivers(t);
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    t.teardown(() => other.end());
    const [replay] = await raceOtherInsert(other, 'am:race:hosts', 'COMMIT', () =>
      a.createMany([input({ replayKey: 'am:race:hosts', hostUuid: HOST_2.uuid, hostName: HOST_2.name })], opts),
    );
    t.match(replay, { outcome: 'replay', notification: { uuid: 'other-COMMIT' } });
    t.same(
      (await a.hosts()).map((h) => h.hostUuid),
      [],
      'the first attempt inserted a row of host-2 and met the conflict: its host upsert went with it',
    );
    await a.createMany([input({ hostUuid: HOST_2.uuid, hostName: HOST_2.name })], opts);
    t.same(
      (await a.hosts()).map((h) => h.hostUuid),
      [HOST_2.uuid],
      'a batch that inserts upserts its host',
    );
  });

  t.test('two receivers claiming the same channel never claim a message twice', async (t) => {
    const { a, b } = await receivers(t);
    const total = 1000;
    await a.createMany(
      [],
      opts,
      undefined,
      Array.from({ length: total }, (_, n) => ({ channel: 'mail', payload: { n } })),
    );
    const drain = async (s: PostgresNotificationStore) => {
      const ids: number[] = [];
      for (;;) {
        const got = await s.claimMessages('mail', 5, T0, 60_000);
        if (!got.length) return ids;
        ids.push(...got.map((m) => m.id));
      }
    };
    // As many claimers as each pool has connections, so claims really overlap.
    const claimers = (s: PostgresNotificationStore) => Promise.all([1, 2, 3, 4].map(() => drain(s))).then((lists) => lists.flat());
    const [fromA, fromB] = await Promise.all([claimers(a), claimers(b)]);
    const all = [...fromA, ...fromB];
    t.equal(new Set(all).size, all.length, 'no id claimed twice');
    t.equal(all.length, total, 'every message claimed');
    t.ok(fromA.length > 0 && fromB.length > 0, 'both receivers got some');
  });

  t.test('status changes and leases are decided once between receivers', async (t) => {
    const { a, b } = await receivers(t);
    for (let i = 0; i < 20; i++) {
      const { notification } = await a.create(input({ generatedAt: T0 + i * 1_000_000 }), opts);
      const won = await Promise.all([a, b].map((s) => s.transition(notification!.uuid, { from: ['new'], to: 'running', startsRun: true }, T0)));
      t.equal(won.filter(Boolean).length, 1, `one receiver runs notification ${i}`);
      const leased = await Promise.all([a, b].map((s, k) => s.acquireLease(`host:${i}`, `receiver-${k}`, T0, 60_000)));
      t.equal(leased.filter(Boolean).length, 1, `one receiver holds lease ${i}`);
    }
  });

  t.test("a lease ignores the caller's clock: the database's decides", async (t) => {
    const { a, b } = await receivers(t);
    t.equal(await a.acquireLease('host:1', 'receiver-a', Date.now(), 60_000), true);
    t.equal(await b.acquireLease('host:1', 'receiver-b', Date.now() + 3_600_000, 60_000), false, 'a receiver whose clock runs an hour ahead');
  });

  t.test('a failed transaction leaves nothing behind and the store keeps working', async (t) => {
    const { url, a } = await receivers(t);
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`CREATE FUNCTION fail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk full (simulated)'; END $$ LANGUAGE plpgsql`);
    await admin.query('CREATE TRIGGER fail_host_upsert BEFORE INSERT ON hosts FOR EACH ROW EXECUTE FUNCTION fail()');
    const err = await a.create(input(), opts, () => [{ channel: 'mail', payload: {} }]).catch((e: unknown) => e);
    t.type(err, StoreError);
    t.match((err as StoreError).message, /store create failed: disk full \(simulated\)/);
    t.same(await a.list({}, { limit: 10, sort: [] }), [], 'the notification insert was rolled back with the failed host upsert');
    t.same(await a.claimMessages('mail', 10, T0, 1000), [], 'and its messages');
    await admin.query('DROP TRIGGER fail_host_upsert ON hosts');
    await admin.end();
    t.equal((await a.create(input(), opts)).outcome, 'created');
  });

  t.test('open fails with StoreError, never naming the password', async (t) => {
    const wrong = server.url.replace(/:[0-9a-f]+@/, ':hunter2-wrong@');
    const bad = await PostgresNotificationStore.open(config(wrong), logger).catch((e: unknown) => e);
    t.type(bad, StoreError);
    t.match((bad as StoreError).message, /store open failed: .*password authentication failed/);
    const unparsable = await PostgresNotificationStore.open(config('postgres://sentinel:hunter2@[::1/db'), logger).catch((e: unknown) => e);
    t.type(unparsable, StoreError);
    t.notMatch(inspect(unparsable, { depth: 6 }), /hunter2/, 'neither in the message nor in the cause');
    const refused = await PostgresNotificationStore.open(config('postgres://sentinel:hunter2@127.0.0.1:1/db'), logger).catch((e: unknown) => e);
    t.type(refused, StoreError);
    t.notMatch(inspect(refused, { depth: 6 }), /hunter2/);
  });

  t.test('a stopped server: StoreError at once (no crash, no hang), one log line, and work again once it is back', async (t) => {
    const own = memoryLogger('debug');
    const a = await PostgresNotificationStore.open(config(await server.createDatabase()), own);
    t.teardown(() => a.close());
    const { notification } = await a.create(input(), opts);
    await Promise.all([1, 2, 3].map(() => a.get(notification!.uuid)));
    const lostLines = () => own.lines.filter((l) => /lost an idle PostgreSQL connection/.test(String(l.msg))).length;
    const before = lostLines();

    await server.stopServer('fast');
    await new Promise((r) => setTimeout(r, 200));
    t.equal(lostLines() - before, 1, 'the idle connections dropped by the server are logged once');
    const started = Date.now();
    await t.rejects(a.get(notification!.uuid), StoreError);
    await t.rejects(a.create(input({ generatedAt: T0 + 1_000_000 }), opts), StoreError);
    t.ok(Date.now() - started < 3000, 'answered without waiting for a timeout');

    await server.startServer();
    t.match(await a.get(notification!.uuid), { status: 'new' }, 'the pool reconnects');
    t.equal((await a.create(input({ generatedAt: T0 + 1_000_000 }), opts)).outcome, 'created');

    // A crash (immediate shutdown) loses nothing that was committed.
    await server.stopServer('immediate');
    await server.startServer();
    t.equal((await a.countByStatus()).new, 2);
  });

  t.test('a connection lost inside a transaction: StoreError for that call, no crash, and the next call works', async (t) => {
    const { url, a } = await receivers(t);
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    t.teardown(() => admin.end());
    // Hold the table so the store's create waits inside its transaction, then end its connection as an operator's
    // pg_terminate_backend (or a failover) would.
    await admin.query('BEGIN');
    await admin.query('LOCK TABLE notifications IN ACCESS EXCLUSIVE MODE');
    const pending = a.create(input(), opts).catch((e: unknown) => e);
    let terminated = 0;
    for (const deadline = Date.now() + 20_000; !terminated && Date.now() < deadline; ) {
      const r = await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
      );
      terminated = r.rowCount ?? 0;
      if (!terminated) await new Promise((r) => setTimeout(r, 20));
    }
    t.equal(terminated, 1, "the store's waiting connection was terminated");
    const err = await pending;
    t.type(err, StoreError);
    t.match((err as StoreError).message, /store create failed: .*terminat/i);
    await admin.query('ROLLBACK');
    t.equal((await a.create(input(), opts)).outcome, 'created', 'the broken connection was thrown away, a new one works');
    t.equal((await a.countByStatus()).new, 1, 'the interrupted create left nothing behind');
  });

  t.test('openStore opens PostgreSQL when store.postgres is set; describeStore names the server, not the password', async (t) => {
    const url = await server.createDatabase();
    const cfg = { storePath: '/nonexistent/never-opened.sqlite', postgres: config(url), storeWorkerThread: false };
    const first = await openStore(cfg, logger);
    t.type(first, PostgresNotificationStore);
    const { notification } = await first.create(input(), opts);
    await first.close();
    const again = await openStore(cfg, logger);
    t.teardown(() => again.close());
    t.match(await again.get(notification!.uuid), { status: 'new' }, 'a second open sees the same database');
    const described = describeStore(cfg);
    t.match(described, /^postgresql:\/\/127\.0\.0\.1:\d+\//);
    t.notMatch(described, new URL(url).password);
  });
}
