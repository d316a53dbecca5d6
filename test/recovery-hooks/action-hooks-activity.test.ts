// Action hooks record each call in the notification's activity (a real SQLite store, a real local hook receiver):
// pre and post with the task and the HTTP status, a veto, a hook that never answers, one dropped for too many in
// flight, the hook's own token masked in what it echoes, and a store that fails to record without stopping recovery.
import t, { type Test } from 'tap';
import { memoryLogger } from '../../core/log.js';
import { ActionHooks, ActionVetoed } from '../../recovery-hooks/action-hooks/hooks.js';
import type { ActionCall } from '../../recovery-hooks/action-hooks/payload.js';
import { SqliteNotificationStore } from '../../recovery-hooks/store/sqlite.js';
import { StoreError } from '../../recovery-hooks/store/store.js';
import type { NotificationActivity } from '../../recovery-hooks/store/types.js';
import { type Handler, hookServer, mustParseHooks } from './helpers/action-hooks.js';

const NOTIFICATION = { uuid: '6f1c1d9e-5b8e-4b5f-9a51-0f6c2b9d1e01', type: 'COMPUTE_HOST', host: 'xcp-host-02', pool: 'lab' };
const FENCE: ActionCall = { method: 'host.fence', params: { host: 'h-2' }, notification: NOTIFICATION, task: 'fence_host' };

const answer =
  (status: number, text = ''): Handler =>
  (_hit, res) =>
    res.writeHead(status, { 'content-type': 'text/plain' }).end(text);

function setup(t: Test, list: unknown[], opts: { env?: NodeJS.ProcessEnv; maxInFlight?: number } = {}) {
  const store = new SqliteNotificationStore(':memory:');
  const logger = memoryLogger('debug');
  const hooks = new ActionHooks(mustParseHooks(list, { env: opts.env }), { logger, activity: store, maxInFlight: opts.maxInFlight });
  t.teardown(async () => {
    await hooks.drain(0);
    await store.close();
  });
  return { store, hooks, logger };
}

/** The activity once it holds `n` hook calls (post hooks are recorded after the action returned). */
async function calls(store: SqliteNotificationStore, n: number): Promise<NotificationActivity['hookCalls']> {
  for (let i = 0; i < 500; i++) {
    const { hookCalls } = await store.activityOf(NOTIFICATION.uuid);
    if (hookCalls.length >= n) return hookCalls;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`fewer than ${n} hook calls recorded`);
}

t.test('pre and post calls are recorded with the task, the call id, the HTTP status and the answer', async (t) => {
  const server = await hookServer(t, answer(200, '  accepted\n by hook  '));
  const { store, hooks } = setup(t, [{ url: `${server.base}/hook?site=lab`, methods: ['*'], type: 'pre/post', wait_for_response: true }]);
  const before = Date.now();
  await hooks.around(FENCE, async () => 'off');
  const [pre, post] = await calls(store, 2);
  t.match(pre, {
    hook: server.base + '/hook',
    phase: 'pre',
    taskName: 'fence_host',
    method: 'host.fence',
    outcome: 'ok',
    httpStatus: 200,
    attempts: 1,
    output: 'accepted by hook',
  });
  t.match(post, { phase: 'post', outcome: 'ok', httpStatus: 200, callId: pre!.callId });
  t.equal(server.hits[0]!.body.callId, pre!.callId, 'the call id the hook was sent');
  t.notOk('task' in server.hits[0]!.body, 'the task name is recorded, not sent');
  t.ok(pre!.startedAt >= before && pre!.startedAt <= pre!.finishedAt && pre!.finishedAt <= post!.startedAt);
});

t.test('a veto is recorded with the status and the answer; the action does not run', async (t) => {
  const server = await hookServer(t, answer(403, 'maintenance window'));
  const { store, hooks } = setup(t, [{ url: server.base, methods: ['host.fence'], type: 'pre', wait_for_response: true }]);
  let ran = false;
  await t.rejects(
    hooks.around(FENCE, async () => {
      ran = true;
    }),
    ActionVetoed,
  );
  t.equal(ran, false);
  t.match(await calls(store, 1), [{ phase: 'pre', outcome: 'vetoed', httpStatus: 403, output: 'maintenance window' }]);
});

t.test('a hook that never answers: failed, no status, the error as output', async (t) => {
  const server = await hookServer(t, () => undefined);
  const { store, hooks } = setup(t, [{ url: server.base, methods: ['*'], type: 'post', timeout_seconds: 0.2, retries: 0 }]);
  await hooks.around(FENCE, async () => 'off');
  const [post] = await calls(store, 1);
  t.match(post, { phase: 'post', outcome: 'failed', httpStatus: null, attempts: 1 });
  t.match(post!.output, /time|abort/i);
});

t.test("the hook's own token is masked in the answer it echoes", async (t) => {
  const server = await hookServer(t, (hit, res) => res.writeHead(200).end(`you sent ${hit.headers.authorization} (plain tok-5f1a9)`));
  const { store, hooks } = setup(t, [{ url: server.base, methods: ['*'], type: 'pre', wait_for_response: true, token_env: 'HOOK_TOKEN' }], {
    env: { HOOK_TOKEN: 'tok-5f1a9' },
  });
  await hooks.around(FENCE, async () => 'off');
  const [pre] = await calls(store, 1);
  t.notMatch(pre!.output, /tok-5f1a9/);
  t.match(pre!.output, /\[secret\]/);
});

t.test('a call dropped for too many in flight is recorded as dropped', async (t) => {
  const server = await hookServer(t, () => undefined);
  const { store, hooks } = setup(t, [{ url: server.base, methods: ['*'], type: 'post', timeout_seconds: 5, retries: 0 }], { maxInFlight: 1 });
  await hooks.around(FENCE, async () => 1);
  await hooks.around(FENCE, async () => 2);
  const [dropped] = await calls(store, 1);
  t.match(dropped, { phase: 'post', outcome: 'dropped', httpStatus: null, attempts: 0, output: /dropped/ });
});

t.test('a store that cannot record: logged, and the action still runs', async (t) => {
  const server = await hookServer(t, answer(204));
  const logger = memoryLogger('debug');
  const failing = { recordHookCall: async () => Promise.reject(new StoreError('recordHookCall', new Error('disk full'))) };
  const hooks = new ActionHooks(mustParseHooks([{ url: server.base, methods: ['*'], type: 'pre', wait_for_response: true }]), { logger, activity: failing });
  t.teardown(() => hooks.drain(0));
  t.equal(await hooks.around(FENCE, async () => 'off'), 'off');
  t.match(
    logger.lines.filter((l) => l.msg === 'action hook call not recorded in the activity'),
    [{ error: /disk full/ }],
  );
});
