// The webhook group commit (intake/recorder.ts): deliveries waiting while a commit runs are committed together, at
// most `maxDeliveries` at a time; beyond `maxWaiting` deliveries waiting (queued or being committed) a delivery is
// refused with a 503 at once.
// Deliveries of one group decide replays and duplicates exactly as if they had come one after the other.
import t from 'tap';
import { createRecoveryMetrics } from '../../recovery-hooks/engine/metrics.js';
import { ApiError } from '../../recovery-hooks/intake/errors.js';
import { type GroupCommitLimits, NotificationRecorder } from '../../recovery-hooks/intake/recorder.js';
import { SqliteNotificationStore } from '../../recovery-hooks/store/sqlite.js';
import { SqliteWorkerStore } from '../../recovery-hooks/store/sqlite-worker.js';
import type { NotificationStore } from '../../recovery-hooks/store/store.js';
import type { NewNotification } from '../../recovery-hooks/store/types.js';
import { tempDir } from './helpers/harness.js';

const input = (i: number, over: Partial<NewNotification> = {}): NewNotification => ({
  type: 'COMPUTE_INSTANCE',
  hostUuid: `00000000-0000-4000-8000-00000000000${i % 3}`,
  hostName: `host-${i % 3}`,
  poolName: 'pool-a',
  generatedAt: Date.now(),
  payload: { event: 'STOPPED_FAILED', instance_uuid: `vm-${i}`, vir_domain_event: 'STOPPED_FAILED' },
  source: 'alertmanager',
  replayKey: `am:${i}`,
  ...over,
});

/** The store, with each createMany held until `release()` and the size of each one recorded. */
function gated(store: NotificationStore) {
  const sizes: number[] = [];
  let open: () => void = () => undefined;
  let gate = new Promise<void>((r) => (open = r));
  const wrapped = new Proxy(store, {
    get(target, key) {
      if (key !== 'createMany') return Reflect.get(target, key, target);
      return async (...args: Parameters<NotificationStore['createMany']>) => {
        sizes.push(args[0].length);
        await gate;
        return target.createMany(...args);
      };
    },
  });
  return {
    store: wrapped,
    sizes,
    release() {
      open();
      gate = Promise.resolve();
    },
  };
}

/** A recorder on `real`, its createMany held by a gate (see gated). */
function gatedRecorder(real: NotificationStore, opts: { dedupWindowMs?: number; groupCommit?: GroupCommitLimits } = {}) {
  const g = gated(real);
  const recorder = new NotificationRecorder({
    store: g.store,
    metrics: createRecoveryMetrics(real),
    events: () => [],
    dedupWindowMs: opts.dedupWindowMs ?? 0,
    now: Date.now,
    groupCommit: opts.groupCommit,
  });
  return { g, recorder };
}

const stores: [string, () => Promise<NotificationStore>][] = [
  ['sqlite on the event loop', async () => new SqliteNotificationStore(':memory:')],
  ['sqlite in a worker thread', () => SqliteWorkerStore.open(`${tempDir()}/store.sqlite`)],
];

for (const [name, open] of stores) {
  t.test(`${name}: at most maxDeliveries per commit; beyond maxWaiting a delivery is refused with 503, nothing else lost`, async (t) => {
    const real = await open();
    t.teardown(() => real.close());
    const { g, recorder } = gatedRecorder(real, { groupCommit: { maxDeliveries: 3, maxWaiting: 8, commitsInFlight: 1 } });
    const first = recorder.recordDelivery([input(0)]);
    await new Promise((r) => setImmediate(r)); // the first delivery's commit starts, and is held
    t.same(g.sizes, [1]);
    // One delivery being committed and seven queued: eight wait, the most allowed.
    const waiting = [...Array(7)].map((_, i) => recorder.recordDelivery([input(i + 1)]));
    const refused = await recorder.recordDelivery([input(8)]).then(
      () => undefined,
      (err: unknown) => err,
    );
    t.ok(refused instanceof ApiError, 'the delivery beyond maxWaiting is refused at once');
    t.equal((refused as ApiError).status, 503);
    t.same((refused as ApiError).headers, { 'Retry-After': '1' });
    t.match((refused as ApiError).message, /group_commit\.max_waiting/);
    g.release();
    const results = await Promise.all([first, ...waiting]);
    t.same(
      results.map((r) => r.map((x) => x.outcome)),
      [...Array(8)].map(() => ['created']),
    );
    t.same(g.sizes, [1, 3, 3, 1], 'the waiting deliveries commit three at a time, in arrival order');
    const stored = await real.list({}, { limit: 100, sort: [{ key: 'id', dir: 'asc' }] });
    t.same(
      stored.map((n) => n.payload.instance_uuid),
      [...Array(8)].map((_, i) => `vm-${i}`),
      'every acknowledged delivery is stored, in arrival order; the refused one is not',
    );
  });

  t.test(`${name}: replays and duplicates within one group decide as one delivery after the other`, async (t) => {
    const real = await open();
    t.teardown(() => real.close());
    const { g, recorder } = gatedRecorder(real, { dedupWindowMs: 60_000 });
    const held = recorder.recordDelivery([input(0)]);
    await new Promise((r) => setImmediate(r));
    // One group: the same alert twice (a replay), and the same failure under another key (a Masakari duplicate).
    const group = [
      recorder.recordDelivery([input(1), input(2)]),
      recorder.recordDelivery([input(1)]),
      recorder.recordDelivery([input(3, { replayKey: 'am:other', payload: input(2).payload, hostUuid: input(2).hostUuid })]),
    ];
    g.release();
    await held;
    const [a, b, c] = await Promise.all(group);
    t.same(g.sizes, [1, 4], 'the three deliveries were one commit');
    t.same(
      [a, b, c].map((r) => r!.map((x) => x.outcome)),
      [['created', 'created'], ['replay'], ['duplicate']],
    );
    t.equal(b![0]!.notification!.uuid, a![0]!.notification!.uuid, 'the replay names the first record');
    t.equal(c![0]!.notification!.uuid, a![1]!.notification!.uuid, 'the duplicate names the record it repeats');
    t.equal((await real.list({}, { limit: 100, sort: [{ key: 'id', dir: 'asc' }] })).length, 3);
  });
}

t.test('commitsInFlight 2 (the worker thread): the next group is handed over while a commit runs, the third waits', async (t) => {
  const real = new SqliteNotificationStore(':memory:');
  t.teardown(() => real.close());
  const { g, recorder } = gatedRecorder(real, { groupCommit: { maxDeliveries: 10, maxWaiting: 100, commitsInFlight: 2 } });
  const tick = () => new Promise((r) => setImmediate(r));
  const first = recorder.recordDelivery([input(0)]);
  await tick();
  const second = [recorder.recordDelivery([input(1)]), recorder.recordDelivery([input(2)])];
  await tick();
  const third = [recorder.recordDelivery([input(3)]), recorder.recordDelivery([input(4)]), recorder.recordDelivery([input(5)])];
  await tick();
  t.same(g.sizes, [1, 2], 'two groups handed to the store, the third waits for an answer');
  g.release();
  await Promise.all([first, ...second, ...third]);
  t.same(g.sizes, [1, 2, 3]);
  t.equal((await real.list({}, { limit: 100, sort: [{ key: 'id', dir: 'asc' }] })).length, 6);
});

t.test('the engine is woken for a notification to recover, not for rows recorded ignored (a notify-only pool)', async (t) => {
  const store = new SqliteNotificationStore(':memory:');
  t.teardown(() => store.close());
  const recorder = new NotificationRecorder({
    store,
    metrics: createRecoveryMetrics(store),
    events: () => [],
    dedupWindowMs: 0,
    now: Date.now,
    modeOf: (pool) => (pool === 'quiet' ? 'notify-only' : 'auto'),
  });
  let wakes = 0;
  recorder.onCreated(() => wakes++);
  const ignored = await recorder.recordDelivery([input(1, { poolName: 'quiet' }), input(2, { poolName: 'quiet' })]);
  t.same(
    ignored.map((r) => [r.outcome, r.notification?.status]),
    [
      ['created', 'ignored'],
      ['created', 'ignored'],
    ],
  );
  t.equal(wakes, 0, 'nothing for the engine to do');
  await recorder.recordDelivery([input(3, { poolName: 'quiet' }), input(4)]);
  t.equal(wakes, 1, 'a new notification in the group wakes it once');
  await recorder.recordDelivery([input(4)]);
  t.equal(wakes, 1, 'a replay does not');
});
