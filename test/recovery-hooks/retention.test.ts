// Retention against a real SQLite file store: the lease holder purges (in batches), the other receiver does not;
// store errors are warnings retried at the next interval; stop() is prompt when idle and waits for a purge running.
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { memoryLogger } from '../../core/log.js';
import { RETENTION_LEASE, startRetention } from '../../recovery-hooks/retention.js';
import { SqliteNotificationStore } from '../../recovery-hooks/store/sqlite.js';
import type { NotificationStore, PurgeCounts } from '../../recovery-hooks/store/store.js';
import { tempDir } from './helpers/harness.js';
import { input, opts } from './helpers/store-contract.js';
import { waitFor } from '../../core/concurrency.js';

const DAY_MS = 86_400_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(t: Test, what: string, check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  await waitFor(what, check, { timeoutMs, everyMs: 10 }).catch((err: Error) => t.fail(err.message));
}

function openStore(t: Test): SqliteNotificationStore {
  const store = new SqliteNotificationStore(join(tempDir(), 'store.sqlite'));
  t.teardown(() => store.close());
  return store;
}

/**
 * `count` notifications that ended long ago (recorded as ignored at T0: 2026-01-01), in one commit: a purge running
 * meanwhile sees all of them or none (one by one, a purge between two creates made two runs of what the test expects
 * as one).
 */
async function seedOld(store: NotificationStore, count: number, from = 0): Promise<void> {
  const inputs = Array.from({ length: count }, (_, i) => input({ payload: { n: from + i }, ignoreReason: 'old' }));
  await store.createMany(inputs, { ...opts, dedupWindowMs: 0 });
}

const total = async (store: NotificationStore) => Object.values(await store.countByStatus()).reduce((a, b) => a + b, 0);

/** The store, with purge replaced. */
function withPurge(store: NotificationStore, purge: (before: number, limit: number) => Promise<PurgeCounts>): NotificationStore {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'purge') return purge;
      const value = Reflect.get(target, prop) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

const purgedLines = (lines: Record<string, unknown>[]) => lines.filter((l) => l.msg === 'retention: purged old records');

t.test('of two receivers, only the holder of the retention lease purges, in batches, and logs one line per run', async (t) => {
  const store = openStore(t);
  await seedOld(store, 5);
  const recent = await store.create(input({ payload: { recent: true } }), { ...opts, now: Date.now() });
  await store.transition(recent.notification!.uuid, { from: ['new'], to: 'finished' }, Date.now());
  const logs = { a: memoryLogger('debug'), b: memoryLogger('debug') };
  const runners = (['a', 'b'] as const).map((owner) =>
    startRetention({ store, retentionMs: DAY_MS, owner: `receiver-${owner}`, leaseMs: 60_000, logger: logs[owner], intervalMs: 20, batch: 2 }),
  );
  t.teardown(() => Promise.all(runners.map((r) => r.stop())));

  await until(t, 'the old notifications purged', async () => (await total(store)) === 1);
  await until(t, 'the purge logged', async () => purgedLines([...logs.a.lines, ...logs.b.lines]).length > 0);
  const holder = purgedLines(logs.a.lines).length ? 'a' : 'b';
  const other = holder === 'a' ? 'b' : 'a';
  t.match(purgedLines(logs[holder].lines), [{ level: 'info', notifications: 5, messages: 0, leases: 0 }], 'one line for the run, its batches (2, 2, 1) summed');
  t.ok(await store.get(recent.notification!.uuid), 'a recent finished notification stays');

  // Several intervals later, more old rows: the same receiver purges them, the other still never does.
  await sleep(100);
  await seedOld(store, 3, 100);
  await until(t, 'the new old rows purged', async () => (await total(store)) === 1);
  await sleep(60);
  t.match(purgedLines(logs[holder].lines), [{ notifications: 5 }, { notifications: 3 }]);
  t.same(purgedLines(logs[other].lines), [], 'the receiver without the lease purged nothing');
  t.equal(await store.acquireLease(RETENTION_LEASE, `receiver-${other}`, Date.now(), 1000), false, 'the holder keeps its lease');
  t.same(
    [...logs.a.lines, ...logs.b.lines].filter((l) => l.level === 'warn'),
    [],
  );
});

t.test('a failing store is a warning, and the purge is tried again at the next interval', async (t) => {
  const store = openStore(t);
  await seedOld(store, 2);
  let calls = 0;
  const flaky = withPurge(store, async (before, limit) => {
    if (++calls === 1) throw new Error('database is locked');
    return store.purge(before, limit);
  });
  const logger = memoryLogger('debug');
  const retention = startRetention({ store: flaky, retentionMs: DAY_MS, owner: 'receiver-a', leaseMs: 60_000, logger, intervalMs: 20 });
  t.teardown(() => retention.stop());
  await until(t, 'the purge after the failure', async () => (await total(store)) === 0);
  await retention.stop();
  t.match(
    logger.lines.filter((l) => l.level === 'warn'),
    [{ msg: /retention: purge failed/, error: 'database is locked' }],
  );
  t.match(purgedLines(logger.lines), [{ notifications: 2 }]);
});

t.test('stop(): prompt when idle, and waits for a purge in progress', async (t) => {
  const store = openStore(t);
  let purges = 0;
  const idle = startRetention({
    store: withPurge(store, async () => {
      purges++;
      return { notifications: 0, messages: 0, leases: 0, hosts: 0 };
    }),
    retentionMs: DAY_MS,
    owner: 'a',
    leaseMs: 1000,
    logger: memoryLogger(),
  });
  const started = Date.now();
  await idle.stop();
  t.ok(Date.now() - started < 100, 'stopped at once');
  t.equal(purges, 0, 'no purge after stop');

  let release!: () => void;
  let entered!: () => void;
  const inPurge = new Promise<void>((r) => (entered = r));
  const slow = withPurge(store, async () => {
    entered();
    await new Promise<void>((r) => (release = r));
    return { notifications: 0, messages: 0, leases: 0, hosts: 0 };
  });
  // Retention's timers are unref'd: something else keeps the process alive until its first purge starts.
  const keepAlive = setInterval(() => undefined, 1000);
  t.teardown(() => clearInterval(keepAlive));
  const busy = startRetention({ store: slow, retentionMs: DAY_MS, owner: 'b', leaseMs: 1000, logger: memoryLogger(), intervalMs: 10 });
  await inPurge;
  let stopped = false;
  const stopping = busy.stop().then(() => (stopped = true));
  await sleep(50);
  t.equal(stopped, false, 'stop() waits while the purge runs');
  release();
  await stopping;
  t.equal(stopped, true, 'and returns once it ended');
});
