// Web hooks around recovery actions against a real local HTTP(S) receiver: XO's payload (pre, post, callId,
// duration, result or error), method matching, a waiting pre hook that vetoes (403, hang) or needs a retry, post
// hooks that never delay recovery and are bounded in flight, secrets kept out, the bearer token and TLS pinning.
import { setTimeout as delay } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { Secret } from '../../core/config/secret.js';
import { memoryLogger } from '../../core/log.js';
import type { ActionHookConfig } from '../../recovery-hooks/action-hooks/config.js';
import { ActionHooks, ActionVetoed, createActionHookCounter } from '../../recovery-hooks/action-hooks/hooks.js';
import type { ActionCall } from '../../recovery-hooks/action-hooks/payload.js';
import { selfSignedCert } from '../helpers/tls.js';
import { type Handler, counterValue, hookServer, mustParseHooks } from './helpers/action-hooks.js';

const NOTIFICATION = { uuid: '6f1c1d9e-5b8e-4b5f-9a51-0f6c2b9d1e01', type: 'COMPUTE_INSTANCE', host: 'xcp-host-02', pool: 'lab' };
const VM_START: ActionCall = { method: 'vm.start', params: { vm: 'a1b2c3d4-0000-4000-8000-000000000001', name: 'web-01' }, notification: NOTIFICATION };

const answer =
  (status: number, text = ''): Handler =>
  (_hit, res) =>
    res.writeHead(status, { 'content-type': 'text/plain' }).end(text);
const hang: Handler = () => undefined;

function start(t: Test, list: unknown[], opts: { env?: NodeJS.ProcessEnv; maxInFlight?: number } = {}) {
  const logger = memoryLogger();
  const counter = createActionHookCounter([]);
  const hooks = new ActionHooks(mustParseHooks(list, { env: opts.env }), { logger, counter, maxInFlight: opts.maxInFlight });
  t.teardown(() => hooks.drain(0));
  return { hooks, logger, counter };
}

/** An action that records that it ran and takes `ms`. */
function action<T>(ms: number, value: T) {
  const runs: number[] = [];
  const fn = async () => {
    runs.push(Date.now());
    await delay(ms);
    return value;
  };
  return { fn, runs };
}

t.test('pre and post carry XO’s payload with the notification; the same callId; post has duration and result', async (t) => {
  const server = await hookServer(t, answer(204));
  const { hooks, logger, counter } = start(t, [{ url: `${server.base}/hook?site=lab`, methods: ['vm.start'], type: 'pre/post', wait_for_response: true }]);
  const act = action(60, { ref: 'OpaqueRef:42', password: 'hunter2' });
  const before = Date.now();
  t.same(await hooks.around(VM_START, act.fn), { ref: 'OpaqueRef:42', password: 'hunter2' }, 'the caller gets the action’s own result');
  t.ok(server.hits[0]!.at <= act.runs[0]!, 'the waiting pre hook was received before the action ran');
  await server.waitForHits(2);
  const [pre, post] = server.hits.map((h) => h.body);
  t.same(Object.keys(pre).sort(), ['callId', 'method', 'notification', 'params', 'timestamp', 'type']);
  t.match(pre, { type: 'pre', method: 'vm.start', notification: NOTIFICATION, params: VM_START.params, callId: /^[0-9a-f-]{36}$/ });
  t.ok(pre.timestamp >= before && pre.timestamp <= act.runs[0]!, 'pre timestamp: when it was sent');
  t.same(Object.keys(post).sort(), ['callId', 'duration', 'method', 'notification', 'params', 'result', 'timestamp', 'type']);
  t.match(post, { type: 'post', callId: pre.callId, method: 'vm.start', notification: NOTIFICATION, params: VM_START.params });
  t.ok(post.duration >= 55, `duration ${post.duration} ms covers the action`);
  t.ok(post.timestamp >= pre.timestamp + post.duration, 'post timestamp is when the action ended');
  t.same(post.result, { ref: 'OpaqueRef:42' }, 'the result without its secret');
  t.equal(server.hits[0]!.headers['content-type'], 'application/json');
  t.equal(server.hits[0]!.path, '/hook?site=lab', 'the query string is sent');
  await hooks.drain(1000);
  t.equal(await counterValue(counter, 'pre', 'ok'), 1);
  t.equal(await counterValue(counter, 'post', 'ok'), 1);
  const delivered = logger.lines.filter((l) => l.msg === 'action hook delivered');
  t.match(delivered, [
    { level: 'debug', hook: `${server.base}/hook`, type: 'pre', callId: pre.callId, status: 204 },
    { level: 'debug', hook: `${server.base}/hook`, type: 'post', callId: pre.callId },
  ]);
  t.notMatch(JSON.stringify(logger.lines), /site=lab/, 'logs never show the query string');
});

t.test('an action without a result reports true, as XO does', async (t) => {
  const server = await hookServer(t, answer(200));
  const { hooks } = start(t, [{ url: server.base, methods: ['host.disable'], type: 'post' }]);
  t.equal(await hooks.around({ ...VM_START, method: 'host.disable' }, async () => undefined), undefined);
  await server.waitForHits(1);
  t.equal(server.hits[0]!.body.result, true);
});

t.test('`*` matches every action; a hook for other actions is not called', async (t) => {
  const server = await hookServer(t, answer(200));
  const { hooks } = start(t, [
    { url: `${server.base}/all`, methods: ['*'], type: 'post' },
    { url: `${server.base}/disable`, methods: ['host.disable', 'vm.power_state_reset'], type: 'pre' },
  ]);
  await hooks.around(VM_START, async () => 'started');
  await hooks.around({ ...VM_START, method: 'host.fence' }, async () => 'fenced');
  await hooks.drain(1000);
  t.same(
    server.hits.map((h) => [h.path, h.body.type, h.body.method]),
    [
      ['/all', 'post', 'vm.start'],
      ['/all', 'post', 'host.fence'],
    ],
  );
  const only = start(t, [{ url: `${server.base}/disable`, methods: ['host.disable'], type: 'pre' }]).hooks;
  await only.around({ ...VM_START, method: 'host.disable' }, async () => 'disabled');
  await only.drain(1000);
  t.same(
    server.hits.slice(2).map((h) => [h.path, h.body.type, h.body.method]),
    [['/disable', 'pre', 'host.disable']],
  );
});

t.test('a waiting pre hook answering 403 vetoes the action, with its reason; no post is sent', async (t) => {
  const server = await hookServer(t, (hit, res) =>
    hit.path.startsWith('/pre') ? answer(403, 'licence expired\n for pool lab')(hit, res, 0) : answer(200)(hit, res, 0),
  );
  const { hooks, logger, counter } = start(t, [
    { url: `${server.base}/pre?key=abc`, methods: ['vm.start'], type: 'pre', wait_for_response: true, retries: 2, retry_delay_seconds: 0.01 },
    { url: `${server.base}/post`, methods: ['*'], type: 'post' },
  ]);
  const act = action(0, 'started');
  const err = await hooks.around(VM_START, act.fn).catch((e: unknown) => e);
  t.type(err, ActionVetoed);
  t.match(err, {
    hook: `${server.base}/pre`,
    status: 403,
    reason: 'licence expired for pool lab',
    method: 'vm.start',
    message: `vm.start vetoed by pre hook ${server.base}/pre: HTTP 403 (licence expired for pool lab)`,
  });
  t.same(act.runs, [], 'the action did not run');
  await hooks.drain(500);
  t.same(
    server.hits.map((h) => h.path),
    ['/pre?key=abc'],
    'a 4xx is an answer: not retried; and no post for an action that did not run',
  );
  t.equal(await counterValue(counter, 'pre', 'vetoed'), 1);
  t.match(
    logger.lines.find((l) => l.level === 'warn'),
    { msg: 'action vetoed by pre hook', hook: `${server.base}/pre`, status: 403, reason: /licence expired/ },
  );
});

t.test('a waiting pre hook that hangs vetoes the action after timeout_seconds', async (t) => {
  const server = await hookServer(t, hang);
  const { hooks } = start(t, [{ url: `${server.base}/slow`, methods: ['host.fence'], type: 'pre', wait_for_response: true, timeout_seconds: 0.2 }]);
  const act = action(0, 'fenced');
  const began = Date.now();
  const err = await hooks.around({ ...VM_START, method: 'host.fence' }, act.fn).catch((e: unknown) => e);
  const took = Date.now() - began;
  t.type(err, ActionVetoed);
  t.match(err, { status: undefined, reason: /timed out after 200 ms/ });
  t.ok(took >= 190 && took < 2000, `vetoed after ${took} ms`);
  t.same(act.runs, []);
});

t.test('retries: a 500 then a 200 lets the action run; a dead receiver is retried then vetoes', async (t) => {
  const server = await hookServer(t, (hit, res, i) => answer(i === 0 ? 500 : 200)(hit, res, i));
  const { hooks } = start(t, [{ url: server.base, methods: ['vm.hard_reboot'], type: 'pre', wait_for_response: true, retries: 1, retry_delay_seconds: 0.05 }]);
  const act = action(0, 'rebooted');
  t.equal(await hooks.around({ ...VM_START, method: 'vm.hard_reboot' }, act.fn), 'rebooted');
  t.equal(server.hits.length, 2);
  t.equal(server.hits[0]!.body.callId, server.hits[1]!.body.callId, 'a retry is the same call');
  t.equal(act.runs.length, 1);

  const dead = start(t, [{ url: 'http://127.0.0.1:1/', methods: ['*'], type: 'pre', wait_for_response: true, retries: 2, retry_delay_seconds: 0.01 }]);
  const err = await dead.hooks.around(VM_START, act.fn).catch((e: unknown) => e);
  t.match(err, { name: 'ActionVetoed', status: undefined, reason: /ECONNREFUSED/ });
  t.match(
    dead.logger.lines.find((l) => l.level === 'warn'),
    { attempts: 3 },
  );
});

t.test('post hooks and non-waiting pre hooks never delay recovery nor throw into it', async (t) => {
  const server = await hookServer(t, hang);
  const { hooks, counter } = start(t, [
    { url: `${server.base}/post`, methods: ['*'], type: 'post', timeout_seconds: 5 },
    { url: `${server.base}/pre`, methods: ['*'], type: 'pre', timeout_seconds: 5 },
    { url: 'http://127.0.0.1:1/dead', methods: ['*'], type: 'pre/post' },
  ]);
  const began = Date.now();
  t.equal(await hooks.around(VM_START, async () => 'started'), 'started');
  t.ok(Date.now() - began < 500, `around returned after ${Date.now() - began} ms`);
  await server.waitForHits(2);
  t.equal(await hooks.drain(300), 2, 'the two hung deliveries are cut at shutdown');
  t.equal(await counterValue(counter, 'pre', 'failed'), 2);
  t.equal(await counterValue(counter, 'post', 'failed'), 2);
});

t.test('an action that throws: post carries the error message, around rethrows the same error', async (t) => {
  const server = await hookServer(t, answer(200));
  const { hooks } = start(t, [{ url: server.base, methods: ['toolstack.restart'], type: 'post' }]);
  const boom = new Error('ssh: connection refused by xcp-host-02');
  const err = await hooks.around({ ...VM_START, method: 'toolstack.restart' }, async () => Promise.reject(boom)).catch((e: unknown) => e);
  t.equal(err, boom);
  await server.waitForHits(1);
  const post = server.hits[0]!.body;
  t.equal(post.error, 'ssh: connection refused by xcp-host-02', 'the message, not a stack');
  t.notOk('result' in post);
  t.equal(typeof post.duration, 'number');
});

t.test('params are sanitised: secret keys removed at any depth, Secret values dropped, JSON-safe', async (t) => {
  const server = await hookServer(t, answer(200));
  const { hooks } = start(t, [{ url: server.base, methods: ['*'], type: 'pre' }]);
  const cyclic: Record<string, unknown> = { name: 'loop' };
  cyclic.self = cyclic;
  const params = {
    host: 'xcp-host-02',
    password: 'hunter2',
    bmc: { user: 'ADMIN', bmcPassword: 'hunter2', sshKey: 'hunter2', credentials: ['hunter2'], apiToken: 'hunter2' },
    list: [{ client_secret: 'hunter2', keep: 1 }, undefined, () => 1],
    unnamed: new Secret('hunter2'),
    big: 2n ** 70n,
    when: new Date(0),
    nan: Number.NaN,
    cyclic,
  };
  await hooks.around({ ...VM_START, params }, async () => 'ok');
  await server.waitForHits(1);
  t.notMatch(server.hits[0]!.raw, /hunter2|secret\]/);
  t.same(server.hits[0]!.body.params, {
    host: 'xcp-host-02',
    bmc: { user: 'ADMIN' },
    list: [{ keep: 1 }, null, null],
    big: '1180591620717411303424',
    when: '1970-01-01T00:00:00.000Z',
    nan: null,
    cyclic: { name: 'loop', self: '[circular]' },
  });
});

t.test('the token is sent as a bearer and never logged', async (t) => {
  const server = await hookServer(t, answer(200));
  const { hooks, logger } = start(t, [{ url: server.base, methods: ['*'], type: 'pre/post', token_env: 'HOOK_TOKEN' }], { env: { HOOK_TOKEN: 'tok-5f1a9' } });
  await hooks.around(VM_START, async () => 'ok');
  await hooks.drain(1000);
  t.same(
    server.hits.map((h) => h.headers.authorization),
    ['Bearer tok-5f1a9', 'Bearer tok-5f1a9'],
  );
  t.notMatch(JSON.stringify(logger.lines) + server.hits.map((h) => h.raw).join(''), /tok-5f1a9/);
});

t.test('unawaited deliveries are bounded: beyond maxInFlight they are dropped, counted and logged', async (t) => {
  const server = await hookServer(t, hang);
  const { hooks, logger, counter } = start(t, [{ url: server.base, methods: ['*'], type: 'post', timeout_seconds: 5 }], { maxInFlight: 2 });
  for (let i = 0; i < 3; i++) await hooks.around(VM_START, async () => i);
  await server.waitForHits(2);
  t.equal(await counterValue(counter, 'post', 'dropped'), 1);
  t.match(
    logger.lines.filter((l) => l.level === 'warn'),
    [{ msg: 'action hook dropped: too many deliveries in flight', hook: server.base, type: 'post', maxInFlight: 2 }],
  );
  t.equal(await hooks.drain(50), 2);
  t.equal(server.hits.length, 2);
});

t.test('drain waits for deliveries that finish in time', async (t) => {
  const server = await hookServer(t, (hit, res, i) => setTimeout(() => answer(200)(hit, res, i), 100));
  const { hooks, counter } = start(t, [{ url: server.base, methods: ['*'], type: 'post' }]);
  await hooks.around(VM_START, async () => 'ok');
  t.equal(await hooks.drain(2000), 0);
  t.equal(await counterValue(counter, 'post', 'ok'), 1);
});

t.test('aborting the task while a pre hook is awaited rejects with the abort reason; the action does not run', async (t) => {
  const server = await hookServer(t, hang);
  const { hooks, counter } = start(t, [{ url: server.base, methods: ['*'], type: 'pre', wait_for_response: true, timeout_seconds: 5 }]);
  const controller = new AbortController();
  const act = action(0, 'started');
  setTimeout(() => controller.abort(new Error('shutdown')), 50);
  const err = await hooks.around(VM_START, act.fn, controller.signal).catch((e: unknown) => e);
  t.match(err, { message: 'shutdown' });
  t.notOk(err instanceof ActionVetoed);
  t.same(act.runs, []);
  t.equal(await counterValue(counter, 'pre', 'failed'), 1);
  await t.rejects(hooks.around(VM_START, act.fn, controller.signal), { message: 'shutdown' }, 'an aborted signal: nothing is sent');
  t.equal(server.hits.length, 1);
});

t.test('HTTPS with a pinned certificate fingerprint; a wrong pin vetoes', async (t) => {
  const tls = selfSignedCert('hooks.example.org');
  const server = await hookServer(t, answer(200), tls);
  const hook = (fingerprint: string) => ({ url: server.base, methods: ['*'], type: 'pre', wait_for_response: true, tls: { fingerprint } });
  t.equal(await start(t, [hook(tls.fingerprint)]).hooks.around(VM_START, async () => 'ok'), 'ok');
  const err = await start(t, [hook('AA:'.repeat(31) + 'AA')])
    .hooks.around(VM_START, async () => 'ok')
    .catch((e: unknown) => e);
  t.match(err, { name: 'ActionVetoed', reason: /fingerprint/ });
});

t.test('no configured hook: the action simply runs', async (t) => {
  const hooks: ActionHookConfig[] = [];
  const ah = new ActionHooks(hooks, { logger: memoryLogger() });
  t.equal(await ah.around(VM_START, async () => 7), 7);
  t.equal(await ah.drain(0), 0);
});
