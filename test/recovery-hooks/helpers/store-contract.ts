// The NotificationStore contract: what every backend must do, run against SQLite (store.test.ts) and PostgreSQL
// (store-postgres.test.ts). `open` gives a new, empty store each time; the suite closes what it opens.
import type { Test } from 'tap';
import { replayKeyOf } from '../../../recovery-hooks/intake/alertmanager.js';
import { canonicalJson } from '../../../recovery-hooks/store/rows.js';
import { MarkerNotFoundError, type NotificationStore, StoreError } from '../../../recovery-hooks/store/store.js';
import type { ListPage, NewNotification, NotificationStatus, RunHistory, SortKey } from '../../../recovery-hooks/store/types.js';
import { activityContract } from './activity-contract.js';
import { HOST_1, HOST_2, HOST_3 } from './harness.js';

export const T0 = Date.UTC(2026, 0, 1);
export const opts = { now: T0, dedupWindowMs: 180_000, onMaintenance: 'refuse' as const };

/**
 * Replay keys of the first form (`am:FINGERPRINT:STARTS:EVENT`, before migration 8) and what migration 8 makes of
 * them: a fingerprint may hold ':' and end in digits or '-', a start time may be negative.
 */
export const FIRST_FORM_KEYS = (
  [
    ['a3f0c9e1d2b4c5a6', 1_767_225_600_000, 'STOPPED'],
    ['x:9', 100, 'QEMU_GUEST_AGENT_ERROR'],
    ['f-', -5, 'LIFECYCLE'],
    ['12', 7, 'POWER_LOST'],
  ] as const
).map(([fingerprint, startsAt, event]) => ({ old: `am:${fingerprint}:${startsAt}:${event}`, now: replayKeyOf(fingerprint, startsAt, event) }));
/** Keys migration 8 leaves alone: not of the first form (no fingerprint, no time, not an alert's). */
export const KEYS_NOT_OF_THE_FIRST_FORM = ['am:1', 'am::5:STOPPED', 'am:f:x:STOPPED', 'other:f:5:STOPPED'];

/** A row of a notification of HOST_1 under `replayKey`, as the upgrade tests insert it. */
export const keyedRow = (replayKey: string, i: number) => ({
  uuid: `n-${i}`,
  payload: JSON.stringify({ event: 'STOPPED', n: i }),
  replayKey,
});

export function input(over: Partial<NewNotification> = {}): NewNotification {
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function storeContract(t: Test, open: () => Promise<NotificationStore>): void {
  const fresh = async (t: Test) => {
    const s = await open();
    t.teardown(() => s.close());
    return s;
  };

  t.test('listeners hear of each commit that queued messages, after it, and of no other', async (t) => {
    const s = await fresh(t);
    const heard: number[] = [];
    s.onMessagesQueued(async () => heard.push((await s.claimMessages('mail', 10, T0 + 10, 1000)).length));
    const { notification } = await s.create(input(), opts);
    await s.transition(notification!.uuid, { from: ['new'], to: 'running' }, T0 + 1, () => []);
    t.same(heard, [], 'nothing queued, nobody told');
    await s.transition(notification!.uuid, { from: ['running'], to: 'finished' }, T0 + 2, (n) => [{ channel: 'mail', payload: { uuid: n.uuid } }]);
    // The listener's claim is a query of its own: wait for it with a deadline (a loaded machine is slow), then check.
    const heardAtLeast = async (n: number) => {
      for (let i = 0; i < 200 && heard.length < n; i++) await sleep(10);
      await sleep(20);
    };
    await heardAtLeast(1);
    t.same(heard, [1], 'told once the transition committed: its message is claimable');
    await s.createMany([input({ hostUuid: HOST_2.uuid, hostName: HOST_2.name })], opts, undefined, [{ channel: 'mail', payload: { alert: 1 } }]);
    await heardAtLeast(2);
    t.same(heard, [1, 1], 'and again after the create');
  });

  t.test('tasks, progress, moves and status survive as written', async (t) => {
    const s = await fresh(t);
    const created = await s.create(input(), opts, (n) => [{ channel: 'mail', payload: { uuid: n.uuid } }]);
    t.equal(created.outcome, 'created');
    const uuid = created.notification!.uuid;
    await s.planTasks(uuid, ['one', 'two']);
    await s.planTasks(uuid, ['one', 'two']);
    await s.startTask(uuid, 'one', T0 + 1);
    await s.addProgress(uuid, 'one', 'did a thing', 0.5, T0 + 2);
    await s.finishTask(uuid, 'one', 'SUCCESS', { answer: 42 }, T0 + 3);
    await s.planMoves(uuid, [{ vmUuid: 'vm-1', vmName: 'web', sourceHost: 'host-1', rank: 0, status: 'pending' }], T0);
    await s.updateMove(uuid, 'vm-1', { status: 'ongoing', destHost: 'host-2', startTime: T0 + 4 }, T0 + 4);
    await s.transition(uuid, { from: ['new'], to: 'running', startsRun: true }, T0 + 5);

    t.match(await s.get(uuid), { status: 'running', attempts: 1, payload: { event: 'STOPPED' }, hostName: 'host-1', createdAt: T0, updatedAt: T0 + 5 });
    t.equal(await s.get('no-such-uuid'), undefined);
    t.match(await s.tasks(uuid), [
      {
        seq: 0,
        name: 'one',
        state: 'SUCCESS',
        progress: 1,
        result: { answer: 42 },
        firstStartedAt: T0 + 1,
        finishedAt: T0 + 3,
        details: [{ timestamp: T0 + 2, message: 'did a thing', progress: 0.5 }],
      },
      { seq: 1, name: 'two', state: 'PENDING', result: null, details: [] },
    ]);
    t.match(await s.moves(uuid), [{ vmUuid: 'vm-1', status: 'ongoing', destHost: 'host-2', startTime: T0 + 4, rank: 0 }]);
    t.match(await s.claimMessages('mail', 10, T0, 1000), [{ payload: { uuid }, attempts: 1 }]);
    t.same(
      (await s.unfinished()).map((x) => x.uuid),
      [uuid],
    );
  });

  t.test('unfinished: new, running and error ones, oldest first; with a time, only those generated before it', async (t) => {
    const s = await fresh(t);
    const made = async (generatedAt: number, host = HOST_1) =>
      (await s.create(input({ generatedAt, hostUuid: host.uuid, hostName: host.name, payload: { event: 'STOPPED', at: generatedAt } }), opts)).notification!
        .uuid;
    const old = await made(T0 - 10_000);
    const recent = await made(T0);
    const oldRunning = await made(T0 - 20_000, HOST_2);
    await s.transition(oldRunning, { from: ['new'], to: 'running' }, T0);
    const oldFinished = await made(T0 - 30_000, HOST_2);
    await s.transition(oldFinished, { from: ['new'], to: 'finished' }, T0);
    t.same(
      (await s.unfinished()).map((n) => n.uuid),
      [old, recent, oldRunning],
      'every unfinished one, by id',
    );
    t.same(
      (await s.unfinished(1000, T0 - 5_000)).map((n) => n.uuid),
      [old, oldRunning],
      'generated before the time (strictly): the recent one and the finished one are not',
    );
    t.same(
      (await s.unfinished(1000, T0 - 10_000)).map((n) => n.uuid),
      [oldRunning],
      'one generated at the time itself is not before it',
    );
    t.same(
      (await s.unfinished(1, T0)).map((n) => n.uuid),
      [old],
      'at most `limit`',
    );
  });

  t.test('exact replays return the first record; Masakari duplicates are detected on type, host, payload and window', async (t) => {
    const s = await fresh(t);
    const first = await s.create(input({ replayKey: 'am:abc:1:STOPPED' }), opts);
    t.equal(first.outcome, 'created');
    const replay = await s.create(input({ replayKey: 'am:abc:1:STOPPED', generatedAt: T0 + 999_999 }), opts);
    t.equal(replay.outcome, 'replay');
    t.equal(replay.notification!.uuid, first.notification!.uuid);

    // Same payload with keys in another order, 100 s later: duplicate.
    const dup = await s.create(input({ generatedAt: T0 + 100_000, payload: { cluster_status: 'OFFLINE', host_status: 'UNKNOWN', event: 'STOPPED' } }), opts);
    t.equal(dup.outcome, 'duplicate');
    t.equal(dup.notification!.uuid, first.notification!.uuid);
    // Outside the window, another payload, another host or another type: new notifications.
    t.equal((await s.create(input({ generatedAt: T0 + 181_000 }), opts)).outcome, 'created');
    t.equal((await s.create(input({ payload: { event: 'STOPPED', host_status: 'NORMAL' } }), opts)).outcome, 'created');
    t.equal((await s.create(input({ hostUuid: HOST_2.uuid, hostName: HOST_2.name }), opts)).outcome, 'created');
    t.equal((await s.create(input({ type: 'COMPUTE_PROCESS', payload: { event: 'STOPPED', process_name: 'xapi' } }), opts)).outcome, 'created');
    t.equal((await s.create(input(), { ...opts, dedupWindowMs: 0 })).outcome, 'created', 'a 0 window disables the check');
    t.equal(canonicalJson({ b: 1, a: { d: 1, c: 2 } }), '{"a":{"c":2,"d":1},"b":1}');
  });

  t.test('a finished notification does not absorb a new failure generated after it ended', async (t) => {
    const s = await fresh(t);
    const { notification } = await s.create(input(), opts);
    await s.transition(notification!.uuid, { from: ['new'], to: 'finished' }, T0 + 10_000);
    t.equal((await s.create(input({ generatedAt: T0 + 20_000 }), opts)).outcome, 'created', 'generated after the first ended');
    t.equal((await s.create(input({ generatedAt: T0 + 5_000 }), opts)).outcome, 'duplicate', 'a re-send of a report from before the end');
  });

  t.test('createMany: one result per input, in order, with extra messages in the same commit', async (t) => {
    const s = await fresh(t);
    const results = await s.createMany(
      [input({ replayKey: 'k1' }), input({ replayKey: 'k1' }), input({ hostUuid: HOST_2.uuid, hostName: HOST_2.name, replayKey: 'k2' })],
      opts,
      (n) => [{ channel: 'mail', payload: { uuid: n.uuid } }],
      [{ channel: 'mail', payload: { alert: 'x' } }],
    );
    t.same(
      results.map((r) => r.outcome),
      ['created', 'replay', 'created'],
    );
    t.equal(results[1]!.notification!.uuid, results[0]!.notification!.uuid);
    t.same(
      (await s.claimMessages('mail', 10, T0, 1000)).map((m) => m.payload.uuid ?? m.payload.alert),
      [results[0]!.notification!.uuid, results[2]!.notification!.uuid, 'x'],
    );
    t.same((await s.createMany([], opts)).length, 0);
  });

  t.test('the result of a create is the row it inserted, also for the first notification of a host', async (t) => {
    const s = await fresh(t);
    for (let i = 0; i < 3; i++) await s.create(input({ generatedAt: T0 + i * 1_000_000 }), opts);
    await s.setMaintenance({ uuid: HOST_3.uuid, name: HOST_3.name, pool: 'pool-a' }, null, T0);
    const one = await s.create(input({ hostUuid: HOST_2.uuid, hostName: HOST_2.name, replayKey: 'h2' }), opts);
    t.match(one.notification, { id: 4, hostUuid: HOST_2.uuid, generatedAt: T0 });
    const many = await s.createMany(
      [input({ generatedAt: T0 + 5_000_000 }), input({ hostUuid: 'new-host', hostName: 'new' }), input({ hostUuid: 'other-host', hostName: 'other' })],
      opts,
    );
    t.match(
      many.map((r) => r.notification),
      [
        { id: 5, hostUuid: HOST_1.uuid },
        { id: 6, hostUuid: 'new-host' },
        { id: 7, hostUuid: 'other-host' },
      ],
    );
    for (const r of [one, ...many]) t.same(await s.get(r.notification!.uuid), r.notification);
  });

  t.test('createMany: inputs meet the rows inserted before them in the batch, as one create after the other', async (t) => {
    const s = await fresh(t);
    const h2 = { hostUuid: HOST_2.uuid, hostName: HOST_2.name };
    const results = await s.createMany(
      [
        input({ replayKey: 'k1' }),
        input({ replayKey: 'k2', generatedAt: T0 + 1000 }), // same failure 1 s later: a duplicate of the first
        input({ replayKey: 'k2', generatedAt: T0 + 2000 }), // k2 was never inserted: no replay, a duplicate again
        input({ ...h2, replayKey: 'k3', ignoreReason: 'notify-only' }), // recorded as ignored
        input({ ...h2, replayKey: 'k4', generatedAt: T0 + 1 }), // an ignored row absorbs nothing: created
        input({ ...h2, replayKey: 'k1' }), // the first row's key, under another host: replay
        input({ ...h2, generatedAt: T0 + 2 }), // a duplicate of the row created at index 4
        input({ type: 'COMPUTE_PROCESS', payload: { event: 'STOPPED', process_name: 'xapi' } }),
      ],
      opts,
      (n) => [{ channel: 'mail', payload: { uuid: n.uuid } }],
      [{ channel: 'mail', payload: { alert: 'x' } }],
    );
    t.same(
      results.map((r) => r.outcome),
      ['created', 'duplicate', 'duplicate', 'created', 'created', 'replay', 'duplicate', 'created'],
    );
    const uuid = (i: number) => results[i]!.notification!.uuid;
    t.same([uuid(1), uuid(2), uuid(5)], [uuid(0), uuid(0), uuid(0)]);
    t.equal(uuid(6), uuid(4));
    t.equal(results[3]!.notification!.status, 'ignored');
    t.match(results[5]!.notification, { hostUuid: HOST_1.uuid, generatedAt: T0 }, 'the replay answers the stored record');
    t.same(
      (await s.list({}, { limit: 10, sort: [{ key: 'id', dir: 'asc' }] })).map((n) => n.uuid),
      [uuid(0), uuid(3), uuid(4), uuid(7)],
      'ids in input order',
    );
    t.same(
      (await s.claimMessages('mail', 10, T0, 1000)).map((m) => m.payload.uuid ?? m.payload.alert),
      [uuid(0), uuid(3), uuid(4), uuid(7), 'x'],
      'announced in input order, then the extra messages',
    );
  });

  t.test('createMany: stored rows and hosts on maintenance, in a batch of several hosts', async (t) => {
    const s = await fresh(t);
    const h2 = { hostUuid: HOST_2.uuid, hostName: HOST_2.name };
    const h3 = { hostUuid: HOST_3.uuid, hostName: HOST_3.name };
    const stored = (await s.create(input({ replayKey: 'old' }), opts)).notification!;
    await s.create(input({ ...h3, type: 'COMPUTE_PROCESS', payload: { event: 'STOPPED', process_name: 'xapi' } }), opts);
    await s.setMaintenance({ uuid: HOST_2.uuid, name: HOST_2.name, pool: 'pool-a' }, { notification: 'n-1', reason: 'recovery running' }, T0);
    const batch = [
      input({ generatedAt: T0 + 1000 }), // duplicate of the stored row
      input({ replayKey: 'old', ...h3 }), // replay of the stored row, whatever the host
      input({ ...h2, replayKey: 'm1' }), // host on maintenance
      input({ ...h3, replayKey: 'm1' }), // m1 is free when the first was refused
      input({ ...h2, replayKey: 'm1' }), // now taken: replay, before the maintenance check
      input({ ...h2, replayKey: 'm2' }),
      input({ ...h3, hostName: 'host-3-renamed', poolName: 'pool-b', generatedAt: T0 + 5_000_000 }),
    ];
    const refused = await s.createMany(batch, opts);
    t.same(
      refused.map((r) => r.outcome),
      ['duplicate', 'replay', 'host-on-maintenance', 'created', 'replay', 'host-on-maintenance', 'created'],
    );
    t.equal(refused[0]!.notification!.uuid, stored.uuid);
    t.equal(refused[1]!.notification!.uuid, stored.uuid);
    t.equal(refused[4]!.notification!.uuid, refused[3]!.notification!.uuid);
    t.equal(refused[2]!.notification, undefined);
    t.match(
      await s.hosts(),
      [
        { hostUuid: HOST_1.uuid, onMaintenance: false },
        { hostUuid: HOST_2.uuid, onMaintenance: true, maintenanceBy: 'n-1' },
        { hostUuid: HOST_3.uuid, hostName: 'host-3-renamed', poolName: 'pool-b', onMaintenance: false },
      ],
      'a host takes the name and pool of its latest notification',
    );

    // Recorded as ignored: no duplicate check for them, and they absorb nothing.
    const recorded = await s.createMany(
      [
        input({ ...h2, generatedAt: T0 + 9_000_000 }),
        input({ ...h2, generatedAt: T0 + 9_000_001 }),
        input({ ...h2, replayKey: 'm2' }),
        input({ generatedAt: T0 + 9_000_000 }),
      ],
      { ...opts, onMaintenance: 'record-ignored' },
    );
    t.same(
      recorded.map((r) => r.outcome),
      ['host-on-maintenance', 'host-on-maintenance', 'host-on-maintenance', 'created'],
    );
    t.same(
      recorded.slice(0, 3).map((r) => r.notification!.status),
      ['ignored', 'ignored', 'ignored'],
    );
    t.equal(new Set(recorded.map((r) => r.notification!.uuid)).size, 4);
    const proceed = await s.createMany(
      [input({ ...h2, generatedAt: T0 + 9_000_000 }), input({ ...h2, generatedAt: T0 + 9_000_001 }), input({ ...h2, replayKey: 'm2' })],
      { ...opts, onMaintenance: 'proceed' },
    );
    t.same(
      proceed.map((r) => r.outcome),
      ['created', 'duplicate', 'replay'],
    );
  });

  t.test('createMany decides a batch as creates one after the other would (random batches against a sequential twin)', async (t) => {
    const batched = await fresh(t);
    const sequential = await fresh(t);
    let seed = 42;
    const random = (n: number) => {
      // mulberry32: a seeded generator, so that a failure can be replayed.
      seed = (seed + 0x6d2b79f5) | 0;
      let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
      return Math.floor((((x ^ (x >>> 14)) >>> 0) / 2 ** 32) * n);
    };
    const hosts = [HOST_1, HOST_2, HOST_3];
    const modes = ['refuse', 'record-ignored', 'proceed'] as const;
    const announce = (n: { uuid: string }) => [{ channel: 'mail', payload: { uuid: n.uuid } }];
    // The same history on both: a finished and an ignored notification, a host on maintenance.
    for (const s of [batched, sequential]) {
      const done = (await s.create(input({ replayKey: 'r0', payload: { event: 'STOPPED', n: 0 } }), opts, announce)).notification!;
      await s.transition(done.uuid, { from: ['new'], to: 'finished' }, T0 + 50_000);
      await s.create(input({ hostUuid: HOST_2.uuid, hostName: HOST_2.name, payload: { event: 'STOPPED', n: 1 }, ignoreReason: 'notify-only' }), opts, announce);
      await s.setMaintenance({ uuid: HOST_3.uuid, name: HOST_3.name, pool: 'pool-a' }, { notification: 'n-0', reason: 'recovery running' }, T0);
    }
    const labels = new Map<string, string>();
    const label = (uuid: string | undefined, mine: string) => {
      if (uuid === undefined) return '-';
      if (!labels.has(`${mine}:${uuid}`)) labels.set(`${mine}:${uuid}`, `#${[...labels.keys()].filter((k) => k.startsWith(`${mine}:`)).length}`);
      return labels.get(`${mine}:${uuid}`)!;
    };
    for (let round = 0; round < 30; round++) {
      const batch = Array.from({ length: 1 + random(24) }, () => {
        const host = hosts[random(3)]!;
        const key = random(3);
        return input({
          type: random(4) ? 'COMPUTE_HOST' : 'COMPUTE_INSTANCE',
          hostUuid: host.uuid,
          hostName: random(2) ? host.name : `${host.name}-renamed`,
          generatedAt: T0 + (round * 4 + random(6)) * 60_000,
          payload: { event: 'STOPPED', n: random(3) },
          replayKey: key === 0 ? undefined : `r${round - random(2)}:${random(6)}`, // this round's keys, some of the last round's
          ignoreReason: random(5) ? undefined : 'notify-only',
        });
      });
      const o = { ...opts, now: T0 + round, dedupWindowMs: random(4) ? 180_000 : 0, onMaintenance: modes[random(3)]! };
      const many = await batched.createMany(batch, o, announce, [{ channel: 'mail', payload: { round } }]);
      const one = [];
      for (const i of batch) one.push(await sequential.create(i, o, announce));
      await sequential.createMany([], o, undefined, [{ channel: 'mail', payload: { round } }]);
      const describe = (rs: typeof many, mine: string) => rs.map((r) => `${r.outcome} ${label(r.notification?.uuid, mine)} ${r.notification?.status ?? ''}`);
      t.same(describe(many, 'b'), describe(one, 's'), `round ${round}: ${batch.length} inputs, ${o.onMaintenance}, window ${o.dedupWindowMs}`);
    }
    const state = async (s: NotificationStore, mine: string) => ({
      counts: await s.countByStatus(),
      hosts: await s.hosts(),
      rows: (await s.list({}, { limit: 1000, sort: [{ key: 'id', dir: 'asc' }] })).map((n) => [
        label(n.uuid, mine),
        n.status,
        n.message,
        n.hostName,
        n.generatedAt,
      ]),
      mail: (await s.claimMessages('mail', 10_000, T0, 1000)).map((m) => (typeof m.payload.uuid === 'string' ? label(m.payload.uuid, mine) : m.payload.round)),
    });
    t.same(await state(batched, 'b'), await state(sequential, 's'), 'the same rows, hosts and messages');
  });

  t.test('a host on maintenance: refused, or recorded as ignored, or let through', async (t) => {
    const s = await fresh(t);
    await s.setMaintenance({ uuid: HOST_1.uuid, name: HOST_1.name, pool: 'pool-a' }, { notification: 'n-1', reason: 'recovery running' }, T0);
    t.same(await s.create(input(), opts), { outcome: 'host-on-maintenance' });
    const recorded = await s.create(input({ replayKey: 'am:x:1:STOPPED' }), { ...opts, onMaintenance: 'record-ignored' });
    t.equal(recorded.outcome, 'host-on-maintenance');
    t.match(recorded.notification, { status: 'ignored', message: /on maintenance/ });
    t.equal((await s.create(input({ generatedAt: T0 + 1_000_000 }), { ...opts, onMaintenance: 'proceed' })).outcome, 'created');
    t.match(await s.hosts(), [
      {
        hostUuid: HOST_1.uuid,
        hostName: HOST_1.name,
        poolName: 'pool-a',
        onMaintenance: true,
        maintenanceBy: 'n-1',
        reason: 'recovery running',
        updatedAt: T0,
      },
    ]);
    await s.setMaintenance({ uuid: HOST_1.uuid, name: HOST_1.name, pool: 'pool-a' }, null, T0 + 1);
    t.match(await s.hosts(), [{ onMaintenance: false, maintenanceBy: null, reason: null }]);
    t.equal((await s.create(input({ generatedAt: T0 + 2_000_000 }), opts)).outcome, 'created');
    t.equal((await s.create(input({ ignoreReason: 'notify-only pool', generatedAt: T0 + 3_000_000 }), opts)).notification!.status, 'ignored');
  });

  t.test('hosts are listed by pool then name', async (t) => {
    const s = await fresh(t);
    await s.create(input({ hostUuid: 'u-b', hostName: 'b', poolName: 'pool-b' }), opts);
    await s.create(input({ hostUuid: 'u-z', hostName: 'Z', poolName: 'pool-a' }), opts);
    await s.create(input({ hostUuid: 'u-a', hostName: 'a', poolName: 'pool-a' }), opts);
    t.same(
      (await s.hosts()).map((h) => h.hostName),
      ['Z', 'a', 'b'],
      'byte order, as SQLite compares text',
    );
  });

  t.test('transitions are compare-and-set', async (t) => {
    const s = await fresh(t);
    const { notification } = await s.create(input(), opts);
    t.ok(await s.transition(notification!.uuid, { from: ['new'], to: 'running', startsRun: true }, T0));
    t.equal(await s.transition(notification!.uuid, { from: ['new'], to: 'running', startsRun: true }, T0), undefined, 'a second claim loses');
    t.match(await s.transition(notification!.uuid, { from: ['running'], to: 'error', message: 'boom', nextAttemptAt: T0 + 5 }, T0 + 1), {
      status: 'error',
      message: 'boom',
      nextAttemptAt: T0 + 5,
      attempts: 1,
      updatedAt: T0 + 1,
    });
    t.same(await s.countByStatus(), { new: 0, running: 0, error: 1, failed: 0, ignored: 0, finished: 0 });
    t.equal(await s.transition('no-such-uuid', { from: ['new'], to: 'running' }, T0), undefined);
  });

  t.test('a status change that ends a run hands its tasks and moves to the outbox builder, in the same commit', async (t) => {
    const s = await fresh(t);
    const { notification } = await s.create(input(), opts);
    const uuid = notification!.uuid;
    await s.planTasks(uuid, ['fence']);
    await s.planMoves(uuid, [{ vmUuid: 'vm-1', vmName: 'web', sourceHost: 'host-1', rank: 0, status: 'pending' }], T0);
    const seen: RunHistory[] = [];
    const builder = (_n: unknown, history: RunHistory) => {
      seen.push(history);
      return [{ channel: 'mail', payload: { tasks: history.tasks.length } }];
    };
    await s.transition(uuid, { from: ['new'], to: 'running' }, T0 + 1, builder);
    await s.finishTask(uuid, 'fence', 'SUCCESS', null, T0 + 2);
    await s.transition(uuid, { from: ['running'], to: 'finished' }, T0 + 3, builder);
    t.same(seen[0], { tasks: [], moves: [] }, 'not at the start of a run');
    t.match(seen[1], { tasks: [{ name: 'fence', state: 'SUCCESS' }], moves: [{ vmUuid: 'vm-1' }] });
    t.same(
      (await s.claimMessages('mail', 10, T0 + 3, 1000)).map((m) => m.payload.tasks),
      [0, 1],
    );
  });

  t.test('list: filters, Masakari default sort (created_at desc, id desc), sort keys and marker paging', async (t) => {
    const s = await fresh(t);
    for (let i = 0; i < 5; i++) {
      const type = i % 2 ? 'COMPUTE_PROCESS' : 'COMPUTE_HOST';
      const payload = type === 'COMPUTE_HOST' ? { event: 'STOPPED', n: i } : { event: 'STOPPED', process_name: 'xapi', n: i };
      await s.create(input({ type, payload, generatedAt: T0 + i * 1000 }), { ...opts, now: T0 + (i < 3 ? 0 : i) });
    }
    const page = (limit: number, markerId?: number, sort: { key: SortKey; dir: 'asc' | 'desc' }[] = []): ListPage => ({ limit, markerId, sort });
    const ids = async (filter: Parameters<NotificationStore['list']>[0], p: ListPage) => (await s.list(filter, p)).map((n) => n.id);
    t.same(await ids({}, page(10)), [5, 4, 3, 2, 1], 'created_at desc then id desc');
    t.same(await ids({}, page(2)), [5, 4]);
    t.same(await ids({}, page(2, 4)), [3, 2], 'after marker 4');
    t.same(await ids({}, page(10, 2)), [1]);
    t.same(await ids({}, page(10, undefined, [{ key: 'generated_time', dir: 'asc' }])), [1, 2, 3, 4, 5]);
    // type asc, generated desc: 5, 3, 1 (hosts), 4, 2 (processes).
    t.same(
      await ids(
        {},
        page(2, 3, [
          { key: 'type', dir: 'asc' },
          { key: 'generated_time', dir: 'desc' },
        ]),
      ),
      [1, 4],
    );
    t.same(await ids({}, page(10, 3, [{ key: 'updated_at', dir: 'asc' }])), [4, 5], 'ties on updated_at (none set yet) fall back to created_at, then id');
    t.same(await ids({ type: 'COMPUTE_PROCESS' }, page(10)), [4, 2]);
    t.same(await ids({ generatedSince: T0 + 3000 }, page(10)), [5, 4]);
    t.same(await ids({ hostUuid: HOST_1.uuid, status: 'new' }, page(1)), [5]);
    t.same(await s.list({ status: 'running' }, page(10)), []);
    t.same(await s.list({ hostUuid: HOST_1.uuid }, page(0)), [], 'limit 0 answers nothing');
    await t.rejects(s.list({}, page(10, 99)), MarkerNotFoundError);
  });

  t.test('outbox: claim leases messages, ack, retry later, give up', async (t) => {
    const s = await fresh(t);
    await s.create(input(), opts, () => [
      { channel: 'mail', payload: { n: 1 } },
      { channel: 'mail', payload: { n: 2 } },
      { channel: 'xmpp', payload: { n: 3 } },
    ]);
    const claimed = await s.claimMessages('mail', 10, T0, 60_000);
    t.same(
      claimed.map((m) => m.payload.n),
      [1, 2],
    );
    t.match(claimed[0], { channel: 'mail', attempts: 1, createdAt: T0, lastError: null });
    t.same(await s.claimMessages('mail', 10, T0 + 1, 60_000), [], 'claimed messages are leased');
    await s.ackMessage(claimed[0]!.id, T0 + 2);
    await s.retryMessageAt(claimed[1]!.id, T0 + 10_000, 'smtp 451');
    t.same(await s.claimMessages('mail', 10, T0 + 5_000, 60_000), [], 'not before its retry time');
    const again = await s.claimMessages('mail', 10, T0 + 10_000, 60_000);
    t.match(again, [{ payload: { n: 2 }, attempts: 2, lastError: 'smtp 451' }]);
    await s.giveUpMessage(again[0]!.id, 'smtp 550', T0 + 10_001);
    t.same(await s.claimMessages('mail', 10, T0 + 999_999, 60_000), []);
    t.same(
      (await s.claimMessages('xmpp', 10, T0, 1)).map((m) => m.payload.n),
      [3],
    );
    t.same(
      (await s.claimMessages('xmpp', 10, T0 + 2, 1)).map((m) => m.payload.n),
      [3],
      'an expired lease (crashed notifier) frees the message',
    );
  });

  t.test('outbox: a message whose dedup_key is already queued on its channel is dropped', async (t) => {
    const s = await fresh(t);
    const alert = (status: string) => ({ channel: 'mail', payload: { dedup_key: `fp:1:${status}`, status } });
    await s.createMany([], opts, undefined, [alert('firing'), alert('firing'), { channel: 'xmpp', payload: { dedup_key: 'fp:1:firing' } }]);
    await s.createMany([], opts, undefined, [
      alert('firing'),
      alert('resolved'),
      { channel: 'mail', payload: { no: 'key' } },
      { channel: 'mail', payload: { no: 'key' } },
    ]);
    t.same(
      (await s.claimMessages('mail', 10, T0, 1000)).map((m) => m.payload.status ?? m.payload.no),
      ['firing', 'resolved', 'key', 'key'],
      'messages without a key never collide',
    );
    t.equal((await s.claimMessages('xmpp', 10, T0, 1000)).length, 1, 'the same key on another channel is another message');
  });

  t.test('claimMessages honours its limit, oldest first', async (t) => {
    const s = await fresh(t);
    await s.createMany(
      [],
      opts,
      undefined,
      [1, 2, 3, 4, 5].map((n) => ({ channel: 'mail', payload: { n } })),
    );
    t.same(
      (await s.claimMessages('mail', 2, T0, 1000)).map((m) => m.payload.n),
      [1, 2],
    );
    t.same(
      (await s.claimMessages('mail', 10, T0, 1000)).map((m) => m.payload.n),
      [3, 4, 5],
    );
  });

  t.test('leases: granted, renewed by their owner, refused to another until they expire, released', async (t) => {
    const s = await fresh(t);
    const ttl = 1000;
    t.equal(await s.acquireLease('host:1', 'receiver-a', Date.now(), ttl), true, 'granted when free');
    t.equal(await s.acquireLease('host:1', 'receiver-b', Date.now(), ttl), false, 'refused to another owner');
    t.equal(await s.acquireLease('host:2', 'receiver-b', Date.now(), ttl), true, 'another name is another lease');
    await sleep(ttl / 2);
    t.equal(await s.acquireLease('host:1', 'receiver-a', Date.now(), ttl), true, 'renewed by its owner');
    await sleep(ttl / 2 + 100);
    t.equal(await s.acquireLease('host:1', 'receiver-b', Date.now(), ttl), false, 'the renewal pushed the expiry back');
    await sleep(ttl);
    t.equal(await s.acquireLease('host:1', 'receiver-b', Date.now(), ttl), true, 'granted to another once expired');
    t.equal(await s.acquireLease('host:1', 'receiver-a', Date.now(), ttl), false, 'the former owner lost it');
    await s.releaseLease('host:1', 'receiver-a');
    t.equal(await s.acquireLease('host:1', 'receiver-a', Date.now(), ttl), false, 'only the owner can release');
    await s.releaseLease('host:1', 'receiver-b');
    t.equal(await s.acquireLease('host:1', 'receiver-a', Date.now(), ttl), true, 'free again once released');
  });

  t.test('forwards: saved, read back and updated field by field', async (t) => {
    const s = await fresh(t);
    const { notification } = await s.create(input(), opts);
    const uuid = notification!.uuid;
    t.equal(await s.getForward(uuid), undefined);
    await s.saveForward(uuid, { endpoint: 'https://masakari.example/v1', outcome: 'queued' }, T0);
    t.same(await s.getForward(uuid), {
      notificationUuid: uuid,
      endpoint: 'https://masakari.example/v1',
      outcome: 'queued',
      remoteUuid: null,
      remoteStatus: null,
      reason: null,
      remoteDetails: null,
      updatedAt: T0,
    });
    await s.saveForward(uuid, { outcome: 'accepted', remoteUuid: 'r-1', remoteStatus: 'running', remoteDetails: [{ name: 'Task', progress: 0.5 }] }, T0 + 1);
    t.match(await s.getForward(uuid), {
      endpoint: 'https://masakari.example/v1',
      outcome: 'accepted',
      remoteUuid: 'r-1',
      remoteStatus: 'running',
      remoteDetails: [{ name: 'Task', progress: 0.5 }],
      updatedAt: T0 + 1,
    });
    await s.saveForward(uuid, { remoteStatus: 'finished', reason: null }, T0 + 2);
    t.match(
      await s.getForward(uuid),
      { outcome: 'accepted', remoteUuid: 'r-1', remoteStatus: 'finished', updatedAt: T0 + 2 },
      'undefined fields are left as they are',
    );
    const other = (await s.create(input({ hostUuid: HOST_2.uuid, hostName: HOST_2.name }), opts)).notification!.uuid;
    await t.rejects(s.saveForward(other, { remoteStatus: 'running' }, T0), StoreError, 'a new record needs its endpoint and outcome');
    t.equal(await s.getForward(other), undefined);
  });

  t.test('purge: ended notifications older than the cutoff go with all their rows; recent and unfinished ones stay', async (t) => {
    const s = await fresh(t);
    const o = { ...opts, dedupWindowMs: 0 };
    const recent = Date.now() + 86_400_000;
    const make = async (n: number, over: Partial<NewNotification> = {}) =>
      (await s.create(input({ payload: { event: 'STOPPED', n }, ...over }), o)).notification!.uuid;
    const end = async (uuid: string, path: NotificationStatus[], at: number) => {
      for (let i = 1; i < path.length; i++) t.ok(await s.transition(uuid, { from: [path[i - 1]!], to: path[i]! }, at));
    };
    const withRows = async (uuid: string) => {
      await s.planTasks(uuid, ['one', 'two']);
      await s.startTask(uuid, 'one', T0 + 1);
      await s.addProgress(uuid, 'one', 'half way', 0.5, T0 + 2);
      await s.finishTask(uuid, 'one', 'SUCCESS', { ok: true }, T0 + 3);
      await s.planMoves(uuid, [{ vmUuid: `vm-${uuid}`, vmName: 'web', sourceHost: 'host-1', rank: 0, status: 'pending' }], T0);
      await s.saveForward(uuid, { endpoint: 'https://masakari.example/v1', outcome: 'queued' }, T0);
    };
    const oldFinished = await make(1);
    await withRows(oldFinished);
    await end(oldFinished, ['new', 'running', 'finished'], T0 + 10);
    const oldFailed = await make(2);
    await withRows(oldFailed);
    await end(oldFailed, ['new', 'running', 'failed'], T0 + 10);
    const oldIgnored = await make(3, { ignoreReason: 'not ours' }); // never updated: created_at counts
    const oldNew = await make(4);
    await withRows(oldNew);
    const oldRunning = await make(5);
    await end(oldRunning, ['new', 'running'], T0 + 10);
    const oldError = await make(6);
    await end(oldError, ['new', 'running', 'error'], T0 + 10);
    const recentFinished = await make(7);
    await withRows(recentFinished);
    await end(recentFinished, ['new', 'running', 'finished'], recent);
    t.match(await s.get(oldIgnored), { status: 'ignored', updatedAt: null });

    // Outbox: old sent and dead rows go; a recent sent one, a claimed pending one and an unclaimed one stay.
    await s.createMany(
      [],
      o,
      undefined,
      [1, 2, 3, 4, 5].map((n) => ({ channel: 'mail', payload: { n } })),
    );
    const claimed = await s.claimMessages('mail', 4, T0, 60_000);
    await s.ackMessage(claimed[0]!.id, T0 + 1);
    await s.giveUpMessage(claimed[1]!.id, 'smtp 550', T0 + 1);
    await s.ackMessage(claimed[2]!.id, recent);

    t.equal(await s.acquireLease('old', 'receiver-a', Date.now(), 1), true);
    await sleep(30);
    t.equal(await s.acquireLease('live', 'receiver-a', Date.now(), 60_000), true);
    const before = Date.now() - 10;

    t.same(await s.purge(before, 100), { notifications: 3, messages: 2, leases: 1, hosts: 0 }, 'host-1 stays: notifications name it');
    for (const uuid of [oldFinished, oldFailed, oldIgnored]) {
      t.equal(await s.get(uuid), undefined, `${uuid} purged`);
      t.same(await s.tasks(uuid), []);
      t.same(await s.moves(uuid), []);
      t.equal(await s.getForward(uuid), undefined);
    }
    for (const uuid of [oldNew, oldRunning, oldError, recentFinished]) t.ok(await s.get(uuid), `${uuid} kept`);
    for (const uuid of [oldNew, recentFinished]) {
      t.match(await s.tasks(uuid), [{ name: 'one', state: 'SUCCESS', details: [{ message: 'half way' }] }, { name: 'two' }], 'tasks and progress kept');
      t.equal((await s.moves(uuid)).length, 1);
      t.ok(await s.getForward(uuid));
    }
    t.same(
      (await s.hosts()).map((h) => h.hostUuid),
      [HOST_1.uuid],
      'hosts still named by a notification stay',
    );
    t.same(
      (await s.claimMessages('mail', 10, T0 + 120_000, 60_000)).map((m) => m.payload.n),
      [4, 5],
      'pending messages stay',
    );
    t.equal(await s.acquireLease('live', 'receiver-b', Date.now(), 60_000), false, 'a live lease stays');
    t.same(await s.purge(before, 100), { notifications: 0, messages: 0, leases: 0, hosts: 0 }, 'nothing left to purge');
  });

  t.test('purge honours its limit, oldest first', async (t) => {
    const s = await fresh(t);
    const o = { ...opts, dedupWindowMs: 0 };
    const uuids: string[] = [];
    for (let n = 0; n < 5; n++) uuids.push((await s.create(input({ payload: { n }, ignoreReason: 'old' }), o)).notification!.uuid);
    await s.createMany(
      [],
      o,
      undefined,
      [1, 2, 3].map((n) => ({ channel: 'mail', payload: { n } })),
    );
    for (const m of await s.claimMessages('mail', 10, T0, 60_000)) await s.ackMessage(m.id, T0 + 1);
    const before = T0 + 1000;
    t.same(await s.purge(before, 2), { notifications: 2, messages: 2, leases: 0, hosts: 0 });
    t.same(await s.get(uuids[0]!), undefined);
    t.same(await s.get(uuids[1]!), undefined);
    t.ok(await s.get(uuids[2]!), 'the oldest went first');
    t.same(await s.purge(before, 2), { notifications: 2, messages: 1, leases: 0, hosts: 0 });
    t.same(await s.purge(before, 2), { notifications: 1, messages: 0, leases: 0, hosts: 1 }, 'the host no notification names any more goes with the last one');
    t.same(await s.purge(before, 2), { notifications: 0, messages: 0, leases: 0, hosts: 0 });
    t.equal((await s.list({}, { limit: 10, sort: [] })).length, 0);
    t.same(await s.hosts(), []);
  });

  t.test('operator waits: parked with a reason, listed while open, confirmed once, replaced after a confirmation', async (t) => {
    const s = await fresh(t);
    const { notification } = await s.create(input(), opts);
    const uuid = notification!.uuid;
    await s.transition(uuid, { from: ['new'], to: 'running', startsRun: true }, T0 + 1);
    t.equal(
      await s.waitForOperator('00000000-0000-4000-8000-00000000dead', { kind: 'fence_confirmation', reason: 'x' }, T0),
      undefined,
      'unknown notification',
    );
    t.equal(await s.confirmFenced(uuid, 'ops', T0 + 2), undefined, 'not waiting: nothing to confirm');
    const told: string[] = [];
    const messages = (n: { uuid: string }, w: { kind: string; reason: string }) => {
      told.push(`${n.uuid} ${w.kind}`);
      return [{ channel: 'mail', payload: { waiting: w.reason } }];
    };
    const w1 = await s.waitForOperator(uuid, { kind: 'fence_confirmation', reason: 'BMC unreachable' }, T0 + 10, messages);
    t.match(w1, {
      notificationUuid: uuid,
      kind: 'fence_confirmation',
      reason: 'BMC unreachable',
      since: T0 + 10,
      hostUuid: HOST_1.uuid,
      hostName: HOST_1.name,
      poolName: 'pool-a',
      confirmedAt: null,
      confirmedBy: null,
    });
    const w2 = await s.waitForOperator(uuid, { kind: 'fence_confirmation', reason: 'BMC still unreachable' }, T0 + 20, messages);
    t.match(w2, { reason: 'BMC still unreachable', since: T0 + 10 }, 'a new reason keeps the time the wait began');
    t.same(told, [`${uuid} fence_confirmation`], 'the channels are told once per wait');
    t.match(await s.claimMessages('mail', 10, T0 + 30, 1000), [{ payload: { waiting: 'BMC unreachable' } }], 'queued in the same commit');
    t.match(await s.openOperatorWaits(), [{ notificationUuid: uuid, kind: 'fence_confirmation' }]);

    const confirmed = await s.confirmFenced(uuid, 'ops', T0 + 40);
    t.match(confirmed, { confirmedAt: T0 + 40, confirmedBy: 'ops' });
    t.equal(await s.confirmFenced(uuid, 'ops2', T0 + 41), undefined, 'confirmed once');
    t.same(await s.openOperatorWaits(), [], 'a confirmed wait is not open');
    t.match(await s.operatorWait(uuid), { confirmedBy: 'ops' }, 'but kept: the fence task reads it');

    const w3 = await s.waitForOperator(uuid, { kind: 'blast_radius', reason: 'too many hosts down' }, T0 + 50, messages);
    t.match(w3, { kind: 'blast_radius', since: T0 + 50, confirmedAt: null }, 'a new wait after a confirmation starts afresh');
    t.equal(told.length, 2);
    await s.transition(uuid, { from: ['running'], to: 'failed', message: 'expired' }, T0 + 60);
    t.same(await s.openOperatorWaits(), [], 'an ended notification waits no more');
    t.equal(await s.confirmFenced(uuid, 'ops', T0 + 61), undefined, 'and cannot be confirmed');
  });

  t.test("fences: at most max per pool in the window, a notification's own fence granted again, pools apart", async (t) => {
    const s = await fresh(t);
    const limits = { windowMs: 600_000, max: 1 };
    const a = { poolName: 'pool-a', hostUuid: HOST_1.uuid, notificationUuid: '00000000-0000-4000-8000-0000000000a1' };
    const b = { poolName: 'pool-a', hostUuid: HOST_2.uuid, notificationUuid: '00000000-0000-4000-8000-0000000000b1' };
    t.same(await s.reserveFence(a, limits, T0), { granted: true });
    t.same(await s.reserveFence(a, limits, T0 + 5), { granted: true }, 'the same notification again (a resumed workflow)');
    t.match(await s.reserveFence(b, limits, T0 + 10), { granted: false, recent: [{ hostUuid: HOST_1.uuid, notificationUuid: a.notificationUuid, at: T0 }] });
    t.same(
      await s.reserveFence({ ...b, poolName: 'pool-b', notificationUuid: '00000000-0000-4000-8000-0000000000b2' }, limits, T0 + 10),
      { granted: true },
      'another pool has its own limit',
    );
    t.same(await s.reserveFence(b, { windowMs: 600_000, max: 2 }, T0 + 10), { granted: true }, 'a higher limit');
    t.match(await s.fenceOf(a.notificationUuid), { at: T0, hostUuid: HOST_1.uuid });
    t.equal(await s.fenceOf('00000000-0000-4000-8000-0000000000c1'), undefined);
    const c = { poolName: 'pool-a', hostUuid: HOST_3.uuid, notificationUuid: '00000000-0000-4000-8000-0000000000c1' };
    t.match(await s.reserveFence(c, { windowMs: 600_000, max: 2 }, T0 + 20), { granted: false });
    t.same(await s.reserveFence(c, { windowMs: 600_000, max: 2 }, T0 + 600_001), { granted: true }, 'the window slides');
    // Concurrent reservations of different hosts: exactly max granted.
    const many = await Promise.all(
      [1, 2, 3, 4, 5, 6].map((i) =>
        s.reserveFence({ poolName: 'pool-c', hostUuid: `h${i}`, notificationUuid: `00000000-0000-4000-8000-00000000000${i}` }, { windowMs: 1000, max: 2 }, T0),
      ),
    );
    t.equal(many.filter((r) => r.granted).length, 2, 'two of six concurrent reservations granted');
  });

  t.test("leases with conflicts: a host's lease and its VMs' leases exclude each other; VMs of one host do not", async (t) => {
    const s = await fresh(t);
    const now = Date.now();
    const host = 'host:h1';
    const vm = (v: string) => `host:h1/vm:${v}`;
    t.equal(await s.acquireLease(vm('a'), 'r1', now, 60_000, { names: [host] }), true);
    t.equal(await s.acquireLease(vm('b'), 'r2', now, 60_000, { names: [host] }), true, 'two VMs of one host, two receivers');
    t.equal(await s.acquireLease(host, 'r3', now, 60_000, { prefix: `${host}/` }), false, 'the host waits for its VM workflows');
    t.equal(await s.acquireLease(host, 'r1', now, 60_000, { prefix: `${host}/` }), false, 'even for the owner of one of them, while another holds one');
    await s.releaseLease(vm('b'), 'r2');
    t.equal(await s.acquireLease(host, 'r1', now, 60_000, { prefix: `${host}/` }), true, "the owner's own VM lease does not conflict");
    await s.releaseLease(vm('a'), 'r1');
    t.equal(await s.acquireLease(vm('c'), 'r2', now, 60_000, { names: [host] }), false, 'a VM waits for the host workflow');
    t.equal(await s.acquireLease('host:h10/vm:x', 'r2', now, 60_000, { names: ['host:h10'] }), true, 'another host (h10 is not h1/)');
    await s.releaseLease(host, 'r1');
    t.equal(await s.acquireLease(vm('c'), 'r2', now, 60_000, { names: [host] }), true);
  });

  activityContract(t, fresh);
}
