import { MIGRATIONS } from '../../recovery-hooks/store/migrations.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { MarkerNotFoundError, StoreError } from '../../recovery-hooks/store/store.js';
import { SqliteNotificationStore, canonicalJson } from '../../recovery-hooks/store/sqlite.js';
import type { NewNotification } from '../../recovery-hooks/store/types.js';
import { HOST_1, HOST_2, tempDir } from './helpers/harness.js';

const T0 = Date.UTC(2026, 0, 1);
const opts = { now: T0, dedupWindowMs: 180_000, onMaintenance: 'refuse' as const };

function input(over: Partial<NewNotification> = {}): NewNotification {
  return {
    type: 'COMPUTE_HOST',
    hostUuid: HOST_1.uuid,
    hostName: HOST_1.name,
    poolName: 'pool-a',
    generatedAt: T0,
    payload: { event: 'STOPPED', host_status: 'UNKNOWN', cluster_status: 'OFFLINE' },
    source: 'api',
    ...over,
  };
}

t.test('everything committed survives closing and reopening the file; the schema is migrated once', async (t) => {
  const file = join(tempDir(), 'sub', 'store.sqlite');
  const a = new SqliteNotificationStore(file);
  const created = a.create(input(), opts, (n) => [{ channel: 'mail', payload: { uuid: n.uuid } }]);
  t.equal(created.outcome, 'created');
  const uuid = created.notification!.uuid;
  a.planTasks(uuid, ['one', 'two']);
  a.startTask(uuid, 'one', T0 + 1);
  a.addProgress(uuid, 'one', 'did a thing', 0.5, T0 + 2);
  a.finishTask(uuid, 'one', 'SUCCESS', { answer: 42 }, T0 + 3);
  a.planMoves(uuid, [{ vmUuid: 'vm-1', vmName: 'web', sourceHost: 'host-1', rank: 0, status: 'pending' }], T0);
  a.updateMove(uuid, 'vm-1', { status: 'ongoing', destHost: 'host-2', startTime: T0 + 4 }, T0 + 4);
  a.transition(uuid, { from: ['new'], to: 'running', startsRun: true }, T0 + 5);
  a.close();

  const b = new SqliteNotificationStore(file);
  t.same(b.schemaVersions(), MIGRATIONS.map((m) => m.version), 'every migration applied, once');
  const n = b.get(uuid)!;
  t.match(n, { status: 'running', attempts: 1, payload: { event: 'STOPPED' }, hostName: 'host-1' });
  const tasks = b.tasks(uuid);
  t.match(tasks, [
    { name: 'one', state: 'SUCCESS', progress: 1, result: { answer: 42 }, firstStartedAt: T0 + 1, details: [{ message: 'did a thing', progress: 0.5 }] },
    { name: 'two', state: 'PENDING', result: null },
  ]);
  t.match(b.moves(uuid), [{ vmUuid: 'vm-1', status: 'ongoing', destHost: 'host-2', startTime: T0 + 4 }]);
  t.match(b.claimMessages('mail', 10, T0, 1000), [{ payload: { uuid } }]);
  t.same(b.unfinished().map((x) => x.uuid), [uuid]);
  b.close();
  // WAL journal and synchronous=FULL, as configured on each connection.
  const raw = new Database(file);
  t.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
  raw.close();
});

t.test('exact replays return the first record; Masakari duplicates are detected on type, host, payload and window', async (t) => {
  const s = new SqliteNotificationStore(':memory:');
  const first = s.create(input({ replayKey: 'am:abc:1:STOPPED' }), opts);
  t.equal(first.outcome, 'created');
  const replay = s.create(input({ replayKey: 'am:abc:1:STOPPED', generatedAt: T0 + 999_999 }), opts);
  t.equal(replay.outcome, 'replay');
  t.equal(replay.notification!.uuid, first.notification!.uuid);

  // Same payload with keys in another order, 100 s later: duplicate.
  const dup = s.create(input({ generatedAt: T0 + 100_000, payload: { cluster_status: 'OFFLINE', host_status: 'UNKNOWN', event: 'STOPPED' } }), opts);
  t.equal(dup.outcome, 'duplicate');
  t.equal(dup.notification!.uuid, first.notification!.uuid);
  // Outside the window, another payload, another host or another type: new notifications.
  t.equal(s.create(input({ generatedAt: T0 + 181_000 }), opts).outcome, 'created');
  t.equal(s.create(input({ payload: { event: 'STOPPED', host_status: 'NORMAL' } }), opts).outcome, 'created');
  t.equal(s.create(input({ hostUuid: HOST_2.uuid, hostName: HOST_2.name }), opts).outcome, 'created');
  t.equal(s.create(input({ type: 'COMPUTE_PROCESS', payload: { event: 'STOPPED', process_name: 'xapi' } }), opts).outcome, 'created');
  t.equal(s.create(input(), { ...opts, dedupWindowMs: 0 }).outcome, 'created', 'a 0 window disables the check');
  t.equal(canonicalJson({ b: 1, a: { d: 1, c: 2 } }), '{"a":{"c":2,"d":1},"b":1}');
  s.close();
});

t.test('a host on maintenance: refused, or recorded as ignored, or let through', async (t) => {
  const s = new SqliteNotificationStore(':memory:');
  s.setMaintenance({ uuid: HOST_1.uuid, name: HOST_1.name, pool: 'pool-a' }, { notification: 'n-1', reason: 'recovery running' }, T0);
  t.same(s.create(input(), opts), { outcome: 'host-on-maintenance' });
  const recorded = s.create(input({ replayKey: 'am:x:1:STOPPED' }), { ...opts, onMaintenance: 'record-ignored' });
  t.equal(recorded.outcome, 'host-on-maintenance');
  t.match(recorded.notification, { status: 'ignored', message: /on maintenance/ });
  t.equal(s.create(input({ generatedAt: T0 + 1_000_000 }), { ...opts, onMaintenance: 'proceed' }).outcome, 'created');
  t.match(s.hosts(), [{ hostUuid: HOST_1.uuid, onMaintenance: true, maintenanceBy: 'n-1' }]);
  s.setMaintenance({ uuid: HOST_1.uuid, name: HOST_1.name, pool: 'pool-a' }, null, T0);
  t.equal(s.create(input({ generatedAt: T0 + 2_000_000 }), opts).outcome, 'created');
  s.close();
});

t.test('transitions are compare-and-set', async (t) => {
  const s = new SqliteNotificationStore(':memory:');
  const { notification } = s.create(input(), opts);
  t.ok(s.transition(notification!.uuid, { from: ['new'], to: 'running', startsRun: true }, T0));
  t.equal(s.transition(notification!.uuid, { from: ['new'], to: 'running', startsRun: true }, T0), undefined, 'a second claim loses');
  t.match(s.transition(notification!.uuid, { from: ['running'], to: 'error', message: 'boom', nextAttemptAt: T0 + 5 }, T0 + 1), {
    status: 'error',
    message: 'boom',
    nextAttemptAt: T0 + 5,
    attempts: 1,
    updatedAt: T0 + 1,
  });
  t.same(s.countByStatus(), { new: 0, running: 0, error: 1, failed: 0, ignored: 0, finished: 0 });
  s.close();
});

t.test('list: filters, Masakari default sort (created_at desc, id desc), sort keys and marker paging', async (t) => {
  const s = new SqliteNotificationStore(':memory:');
  const uuids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const type = i % 2 ? 'COMPUTE_PROCESS' : 'COMPUTE_HOST';
    const payload = type === 'COMPUTE_HOST' ? { event: 'STOPPED', n: i } : { event: 'STOPPED', process_name: 'xapi', n: i };
    uuids.push(s.create(input({ type, payload, generatedAt: T0 + i * 1000 }), { ...opts, now: T0 + (i < 3 ? 0 : i) }).notification!.uuid);
  }
  const page = (limit: number, markerId?: number, sort = [] as { key: any; dir: 'asc' | 'desc' }[]) => ({ limit, markerId, sort });
  t.same(s.list({}, page(10)).map((n) => n.id), [5, 4, 3, 2, 1], 'created_at desc then id desc');
  t.same(s.list({}, page(2)).map((n) => n.id), [5, 4]);
  t.same(s.list({}, page(2, 4)).map((n) => n.id), [3, 2], 'after marker 4');
  t.same(s.list({}, page(10, 2)).map((n) => n.id), [1]);
  t.same(s.list({}, page(10, undefined, [{ key: 'generated_time', dir: 'asc' }])).map((n) => n.id), [1, 2, 3, 4, 5]);
  // type asc, generated desc: 5, 3, 1 (hosts), 4, 2 (processes).
  t.same(s.list({}, page(2, 3, [{ key: 'type', dir: 'asc' }, { key: 'generated_time', dir: 'desc' }])).map((n) => n.id), [1, 4]);
  t.same(s.list({ type: 'COMPUTE_PROCESS' }, page(10)).map((n) => n.id), [4, 2]);
  t.same(s.list({ generatedSince: T0 + 3000 }, page(10)).map((n) => n.id), [5, 4]);
  t.same(s.list({ status: 'running' }, page(10)), []);
  t.same(s.list({ hostUuid: HOST_1.uuid }, page(0)), [], 'limit 0 answers nothing');
  t.throws(() => s.list({}, page(10, 99)), MarkerNotFoundError);
  s.close();
});

t.test('outbox: claim leases messages, ack, retry later, give up', async (t) => {
  const s = new SqliteNotificationStore(':memory:');
  s.create(input(), opts, () => [
    { channel: 'mail', payload: { n: 1 } },
    { channel: 'mail', payload: { n: 2 } },
    { channel: 'xmpp', payload: { n: 3 } },
  ]);
  const claimed = s.claimMessages('mail', 10, T0, 60_000);
  t.same(claimed.map((m) => m.payload.n), [1, 2]);
  t.same(s.claimMessages('mail', 10, T0 + 1, 60_000), [], 'claimed messages are leased');
  s.ackMessage(claimed[0]!.id, T0 + 2);
  s.retryMessageAt(claimed[1]!.id, T0 + 10_000, 'smtp 451');
  t.same(s.claimMessages('mail', 10, T0 + 5_000, 60_000), [], 'not before its retry time');
  const again = s.claimMessages('mail', 10, T0 + 10_000, 60_000);
  t.match(again, [{ payload: { n: 2 }, attempts: 2, lastError: 'smtp 451' }]);
  s.giveUpMessage(again[0]!.id, 'smtp 550', T0 + 10_001);
  t.same(s.claimMessages('mail', 10, T0 + 999_999, 60_000), []);
  t.same(s.claimMessages('xmpp', 10, T0, 1).map((m) => m.payload.n), [3]);
  t.same(s.claimMessages('xmpp', 10, T0 + 2, 1).map((m) => m.payload.n), [3], 'an expired lease (crashed notifier) frees the message');
  s.close();
});

t.test('a failing backend surfaces as StoreError, and the failed transaction leaves nothing behind', async (t) => {
  const file = join(tempDir(), 'store.sqlite');
  const s = new SqliteNotificationStore(file);
  const other = new Database(file);
  other.exec(`CREATE TRIGGER fail_host_upsert BEFORE INSERT ON hosts BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END;`);
  other.close();
  const err = t.throws(() => s.create(input(), opts)) as StoreError;
  t.type(err, StoreError);
  t.match(err.message, /store create failed: disk full/);
  t.same(s.list({}, { limit: 10, sort: [] }), [], 'the notification insert was rolled back with the failed host upsert');
  s.close();
  t.throws(() => s.get('x'), StoreError, 'a closed store throws StoreError too');
  const notADir = join(tempDir(), 'file');
  writeFileSync(notADir, '');
  t.throws(() => new SqliteNotificationStore(join(notADir, 'store.sqlite')), StoreError, 'an unusable path fails at open');
});
