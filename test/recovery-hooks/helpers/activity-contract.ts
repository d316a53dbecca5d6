// A notification's activity (outbox messages about it, action-hook calls), part of the store contract: run by
// storeContract against SQLite, SQLite in a worker thread and PostgreSQL.
import type { Test } from 'tap';
import { ACTIVITY_LIMIT, ACTIVITY_TEXT_MAX } from '../../../recovery-hooks/store/activity.js';
import type { NotificationStore } from '../../../recovery-hooks/store/store.js';
import type { HookCallInput } from '../../../recovery-hooks/store/types.js';
import { HOST_2 } from './harness.js';
import { T0, input, opts } from './store-contract.js';

export function hookCall(notificationUuid: string, over: Partial<HookCallInput> = {}): HookCallInput {
  return {
    notificationUuid,
    hook: 'https://hooks.example/xcp',
    phase: 'pre',
    taskName: 'fence_host',
    method: 'host.power_off',
    callId: 'call-1',
    outcome: 'ok',
    httpStatus: 200,
    attempts: 1,
    startedAt: T0 + 1,
    finishedAt: T0 + 2,
    output: 'accepted',
    ...over,
  };
}

export function activityContract(t: Test, fresh: (t: Test) => Promise<NotificationStore>): void {
  t.test('activity: the outbox messages about a notification, as they go queued → sent or failed, and no others', async (t) => {
    const s = await fresh(t);
    const { notification } = await s.create(input(), opts, (n) => [
      { channel: 'mail', payload: { event: 'notification.received', n: 1 }, notificationUuid: n.uuid },
      { channel: 'xmpp', payload: { event: 'notification.received', n: 2 }, notificationUuid: n.uuid },
      { channel: 'forward:pool-a', payload: { notification_uuid: n.uuid }, notificationUuid: n.uuid },
    ]);
    const uuid = notification!.uuid;
    const other = (
      await s.create(input({ hostUuid: HOST_2.uuid, hostName: HOST_2.name }), opts, (n) => [
        { channel: 'mail', payload: { event: 'notification.received' }, notificationUuid: n.uuid },
      ])
    ).notification!.uuid;
    await s.createMany([], opts, undefined, [{ channel: 'mail', payload: { event: 'alert.firing' } }]);

    const queued = await s.activityOf(uuid);
    t.same(queued.hookCalls, []);
    t.match(queued.messages, [
      { channel: 'mail', event: 'notification.received', status: 'queued', attempts: 0, createdAt: T0, sentAt: null, failedAt: null, nextAttemptAt: T0 },
      { channel: 'xmpp', status: 'queued' },
      { channel: 'forward:pool-a', event: null, status: 'queued' },
    ]);
    t.equal(queued.messages.length, 3, "neither the other notification's message nor the alert's");

    const [mail, , alert] = await s.claimMessages('mail', 10, T0 + 5, 60_000);
    t.equal(alert?.payload.event, 'alert.firing');
    await s.retryMessageAt(mail!.id, T0 + 100, 'connect ECONNREFUSED smtp://relay:secretpw@mail.example:25 (password=hunter2)');
    await s.ackMessage(alert!.id, T0 + 6);
    const [xmpp] = await s.claimMessages('xmpp', 10, T0 + 5, 60_000);
    await s.ackMessage(xmpp!.id, T0 + 7);
    let a = await s.activityOf(uuid);
    t.match(a.messages[0], { status: 'queued', attempts: 1, nextAttemptAt: T0 + 100, sentAt: null });
    t.notMatch(a.messages[0]!.lastError, /secretpw|hunter2/, 'the error is shown without its secrets');
    t.match(a.messages[0]!.lastError, /ECONNREFUSED smtp:\/\/relay:\[secret\]@mail\.example:25 \(password=\[secret\]\)/);
    t.match(a.messages[1], { channel: 'xmpp', status: 'sent', attempts: 1, sentAt: T0 + 7, failedAt: null, nextAttemptAt: null });

    const [again] = await s.claimMessages('mail', 10, T0 + 100, 60_000);
    await s.giveUpMessage(again!.id, 'x'.repeat(5000), T0 + 101);
    a = await s.activityOf(uuid);
    t.match(a.messages[0], { status: 'failed', attempts: 2, failedAt: T0 + 101, sentAt: null, nextAttemptAt: null });
    t.equal(a.messages[0]!.lastError!.length, ACTIVITY_TEXT_MAX, 'a long error is cut');
    t.equal((await s.activityOf(other)).messages.length, 1);
    t.same(await s.activityOf('no-such-notification'), { messages: [], hookCalls: [] }, 'an unknown uuid has no activity');
  });

  t.test('activity: hook calls, in order, with outputs masked and cut and identifiers bounded', async (t) => {
    const s = await fresh(t);
    const uuid = (await s.create(input(), opts)).notification!.uuid;
    await s.recordHookCall(hookCall(uuid));
    await s.recordHookCall(
      hookCall(uuid, {
        phase: 'post',
        callId: 'call-1',
        outcome: 'failed',
        httpStatus: null,
        attempts: 3,
        startedAt: T0 + 3,
        finishedAt: T0 + 9,
        output: `echo: {"token":"abc123","authorization":"Bearer abcdefghijkl"} ${'y'.repeat(5000)}`,
      }),
    );
    await s.recordHookCall(
      hookCall(uuid, { taskName: null, hook: 'h'.repeat(10_000), method: 'vm.start', callId: 'call-2', outcome: 'vetoed', httpStatus: 409, output: null }),
    );
    const { hookCalls, messages } = await s.activityOf(uuid);
    t.same(messages, []);
    t.equal(hookCalls.length, 3);
    t.match(hookCalls[0], {
      hook: 'https://hooks.example/xcp',
      phase: 'pre',
      taskName: 'fence_host',
      method: 'host.power_off',
      callId: 'call-1',
      outcome: 'ok',
      httpStatus: 200,
      attempts: 1,
      startedAt: T0 + 1,
      finishedAt: T0 + 2,
      output: 'accepted',
    });
    t.match(hookCalls[1], { phase: 'post', outcome: 'failed', httpStatus: null, attempts: 3, startedAt: T0 + 3, finishedAt: T0 + 9 });
    t.equal(hookCalls[1]!.output!.length, ACTIVITY_TEXT_MAX, 'the output is cut');
    t.notMatch(hookCalls[1]!.output, /abc123|abcdefghijkl/, 'secrets the hook echoed are masked');
    t.match(hookCalls[2], { taskName: null, method: 'vm.start', outcome: 'vetoed', httpStatus: 409, output: null });
    t.equal(hookCalls[2]!.hook.length, 500, 'a long hook name is cut');
    t.ok(hookCalls[0]!.id < hookCalls[1]!.id && hookCalls[1]!.id < hookCalls[2]!.id);
  });

  t.test(`activity: at most ${ACTIVITY_LIMIT} of each kind, the most recent, oldest first`, async (t) => {
    const s = await fresh(t);
    const uuid = (await s.create(input(), opts)).notification!.uuid;
    const extra = ACTIVITY_LIMIT + 5;
    for (let i = 0; i < extra; i++) await s.recordHookCall(hookCall(uuid, { callId: `call-${i}` }));
    await s.createMany(
      [],
      opts,
      undefined,
      Array.from({ length: extra }, (_, i) => ({ channel: 'mail', payload: { event: 'recovery.started', i }, notificationUuid: uuid })),
    );
    const a = await s.activityOf(uuid);
    t.equal(a.hookCalls.length, ACTIVITY_LIMIT);
    t.equal(a.hookCalls[0]!.callId, 'call-5');
    t.equal(a.hookCalls.at(-1)!.callId, `call-${extra - 1}`);
    t.equal(a.messages.length, ACTIVITY_LIMIT);
    t.ok(a.messages[0]!.id < a.messages.at(-1)!.id);
  });

  t.test('activity: purged with its notification; kept while the notification stays', async (t) => {
    const s = await fresh(t);
    const o = { ...opts, dedupWindowMs: 0 };
    const old = (await s.create(input({ payload: { n: 1 } }), o)).notification!.uuid;
    const kept = (await s.create(input({ payload: { n: 2 } }), o)).notification!.uuid;
    for (const uuid of [old, kept]) await s.recordHookCall(hookCall(uuid));
    await s.transition(old, { from: ['new'], to: 'finished' }, T0 + 1);
    t.match(await s.purge(T0 + 1000, 100), { notifications: 1 });
    t.same((await s.activityOf(old)).hookCalls, [], 'the hook calls went with the notification');
    t.equal((await s.activityOf(kept)).hookCalls.length, 1);
  });

  t.test('activity: bad input is contained (odd uuids, non-finite numbers, a missing notification)', async (t) => {
    const s = await fresh(t);
    for (const uuid of ["'; DROP TABLE hook_calls; --", '', 'ü'.repeat(2000)]) t.same(await s.activityOf(uuid), { messages: [], hookCalls: [] });
    await s.recordHookCall(hookCall('not-stored', { httpStatus: Number.NaN, attempts: Number.POSITIVE_INFINITY, startedAt: 1.7 }));
    t.match((await s.activityOf('not-stored')).hookCalls, [{ httpStatus: null, attempts: 0, startedAt: 1 }]);
  });
}
