// Forwarding round trips: a receiver whose pool is in `mode: forward` feeds our own receiver running as the remote
// Instance-HA API in a second process, through a proxy that injects faults. Each notification reaches the remote
// exactly once (counted in the remote's own list), and ours mirrors what the remote did.
import t from 'tap';
import { notification, progressLines, settled, waitUntil } from './helpers/sim-rig.js';
import { FaultProxy, HOST_1, HOST_2, HOST_3, HOST_9, REMOTE_TOKEN, atTime, startForwarder, startRemote, uniqueTime } from './helpers/forward-rig.js';

const remote = await startRemote(t);
const proxy = await FaultProxy.start(t, remote.url);
const fwd = await startForwarder(t, proxy.url);

const hostEvent = (host: { name: string }, event: 'STARTED' | 'STOPPED', generated_time = uniqueTime()) => ({
  type: 'COMPUTE_HOST',
  hostname: host.name,
  generated_time,
  payload: { event, host_status: event === 'STARTED' ? 'NORMAL' : 'UNKNOWN', cluster_status: event === 'STARTED' ? 'ONLINE' : 'OFFLINE' },
});

/** The outbox row that carried notification `uuid`. */
const rowOf = (uuid: string) => fwd.outbox().find((r) => JSON.parse(r.payload).notification_uuid === uuid);

t.test('202: forwarded once with the service token; the remote finished it, so ours is finished', async (t) => {
  const sent = hostEvent(HOST_1, 'STARTED');
  const uuid = await fwd.notify(sent);
  const n = await settled(fwd.hook, uuid);
  t.equal(n.status, 'finished');
  const remoteCopies = atTime(await remote.list(), sent.generated_time);
  t.equal(remoteCopies.length, 1, 'the remote has it exactly once');
  const theirs = remoteCopies[0];
  t.match(n.forward, {
    endpoint: `${proxy.url}/v1/notifications`,
    outcome: 'accepted',
    remote_uuid: theirs.notification_uuid,
    remote_status: 'finished',
    reason: null,
  });
  t.match(theirs, { type: 'COMPUTE_HOST', status: 'finished', source_host_uuid: HOST_1.uuid, payload: sent.payload });
  t.ok(progressLines(n).includes(`forward_notification: forwarded to ${proxy.url}/v1/notifications as ${theirs.notification_uuid}`));
  t.ok(
    progressLines(n).includes(
      `await_remote_recovery: remote notification ${theirs.notification_uuid} is finished: STARTED event recorded (a recovery signal is never taken as proof of recovery)`,
    ),
  );
  const posts = proxy.posts().filter((r) => r.body.notification.generated_time === sent.generated_time);
  t.equal(posts.length, 1);
  t.equal(posts[0]!.headers.authorization, `Bearer ${REMOTE_TOKEN}`, 'auth: bearer sends the token file as a Bearer token');
  t.same(posts[0]!.body, { notification: sent }, "Masakari's request: type, hostname, generated_time, payload");
  t.match(rowOf(uuid), { status: 'sent', attempts: 1, last_error: null });
});

t.test('202 then the remote ignores it (notify-only pool): ours is ignored with the remote reason', async (t) => {
  const sent = hostEvent(HOST_3, 'STOPPED');
  const uuid = await fwd.notify(sent);
  const n = await settled(fwd.hook, uuid);
  const [theirs] = atTime(await remote.list(), sent.generated_time);
  t.equal(n.status, 'ignored');
  t.equal(n.message, `remote notification ${theirs.notification_uuid} was ignored: pool quiet is in notify-only mode: no recovery attempted`);
  t.match(n.forward, { outcome: 'accepted', remote_status: 'ignored' });
});

t.test("the remote's error is not an end: ours runs on, mirrors it, and fails when the remote does", async (t) => {
  const sent = { type: 'PROCESS', hostname: HOST_2.name, generated_time: uniqueTime(), payload: { process_name: 'xapi', event: 'STOPPED' } };
  const uuid = await fwd.notify(sent);
  const during = await waitUntil('the remote error to be mirrored', async () => {
    const n = await notification(fwd.hook, uuid);
    return n.forward?.remote_status === 'error' ? n : undefined;
  });
  t.equal(during.status, 'running', "Masakari retries an error: ours waits for the remote's end");
  const n = await settled(fwd.hook, uuid, undefined, 30_000);
  const [theirs] = atTime(await remote.list(), sent.generated_time);
  t.equal(theirs.status, 'failed');
  t.equal(n.status, 'failed');
  t.match(n.message, new RegExp(`await_remote_recovery failed: remote notification ${theirs.notification_uuid} failed: check_toolstack failed`));
  t.match(n.forward, { remote_status: 'failed' });
  const lines = progressLines(n);
  t.ok(
    lines.some((l) => l.startsWith(`await_remote_recovery: remote notification ${theirs.notification_uuid} is error: check_toolstack failed`)),
    'the remote status change is a progress line',
  );
  t.ok(
    lines.some((l) => l.startsWith('await_remote_recovery: remote check_toolstack: failed: ')),
    "the remote tasks' progress is mirrored",
  );
  const detailed = await remote.get(theirs.notification_uuid);
  const mirrored = lines.filter((l) => l.startsWith('await_remote_recovery: remote check_toolstack: ')).length;
  t.equal(mirrored, detailed.recovery_workflow_details[0].progress_details.length, 'each remote progress line once, across both remote runs');
});

t.test('400 (a host the remote does not know): recorded with its reason, never retried; ours fails', async (t) => {
  const sent = {
    type: 'VM',
    hostname: HOST_9.name,
    generated_time: uniqueTime(),
    payload: { instance_uuid: '6f3c1f0e-0000-4000-8000-0000000000aa', vir_domain_event: 'STOPPED_FAILED', event: 'LIFECYCLE' },
  };
  const uuid = await fwd.notify(sent);
  const n = await settled(fwd.hook, uuid);
  t.equal(n.status, 'failed');
  t.match(n.forward, { outcome: 'rejected', remote_uuid: null, reason: 'remote answered 400: Host with name host-9 could not be found.' });
  t.match(n.message, /^forward_notification failed: remote answered 400: Host with name host-9 could not be found\./);
  t.equal(atTime(await remote.list(), sent.generated_time).length, 0);
  t.equal(proxy.posts().filter((r) => r.body.notification.generated_time === sent.generated_time).length, 1, 'one attempt only');
  t.match(rowOf(uuid), { status: 'sent', attempts: 1 });
});

t.test('409 (the remote already has this report): an expected outcome, not retried; ours is ignored', async (t) => {
  const sent = hostEvent(HOST_2, 'STARTED');
  // The monitor reported it to the remote directly too.
  const direct = await remote.post(sent);
  t.equal(direct.status, 202);
  await waitUntil(
    'the direct report to finish at the remote',
    async () => (await remote.get(direct.json.notification.notification_uuid)).status === 'finished',
  );
  const uuid = await fwd.notify(sent);
  const n = await settled(fwd.hook, uuid);
  t.equal(n.status, 'ignored');
  t.equal(n.message, 'remote answered 409: Duplicate notification received for type: COMPUTE_HOST');
  t.match(n.forward, { outcome: 'conflict', remote_uuid: null, reason: 'remote answered 409: Duplicate notification received for type: COMPUTE_HOST' });
  t.equal(atTime(await remote.list(), sent.generated_time).length, 1, 'still only the direct report');
  t.equal(proxy.posts().filter((r) => r.body.notification.generated_time === sent.generated_time).length, 1, 'one attempt only');
  t.match(rowOf(uuid), { status: 'sent', attempts: 1 });
});

t.test('500 then 202: retried with backoff, arrives once', async (t) => {
  proxy.failNextPosts(500, 503);
  const sent = hostEvent(HOST_3, 'STARTED');
  const uuid = await fwd.notify(sent);
  const n = await settled(fwd.hook, uuid);
  t.equal(atTime(await remote.list(), sent.generated_time).length, 1, 'exactly once at the remote');
  t.same(
    proxy
      .posts()
      .filter((r) => r.body.notification.generated_time === sent.generated_time)
      .map((r) => r.status),
    [500, 503, 202],
  );
  t.match(rowOf(uuid), { status: 'sent', attempts: 3, last_error: /HTTP 503: injected by the test proxy/ });
  t.match(n.forward, { outcome: 'accepted', reason: null });
  t.ok(
    progressLines(n).includes(
      `forward_notification: not yet taken by ${proxy.url}/v1/notifications: POST ${proxy.url}/v1/notifications: HTTP 500: injected by the test proxy; retrying`,
    ),
    'the wait is explained while the worker retries',
  );
});

t.test('the remote down, then up again on the same port: retried until it answers, arrives once', async (t) => {
  await proxy.down();
  const sent = hostEvent(HOST_1, 'STOPPED');
  const uuid = await fwd.notify(sent);
  const queued = await waitUntil('a few failed attempts', async () => {
    const row = rowOf(uuid);
    return row && row.attempts >= 3 ? row : undefined;
  });
  t.match(queued, { status: 'pending', last_error: /ECONNREFUSED/ });
  const waiting = await notification(fwd.hook, uuid);
  t.equal(waiting.status, 'running');
  t.match(waiting.forward, { outcome: 'queued', remote_uuid: null, reason: /ECONNREFUSED/ }, 'the API says why it is not forwarded yet');
  await proxy.up();
  const n = await settled(fwd.hook, uuid);
  const copies = atTime(await remote.list(), sent.generated_time);
  t.equal(copies.length, 1, 'exactly once at the remote');
  t.match(n.forward, { outcome: 'accepted', remote_uuid: copies[0].notification_uuid });
  t.ok(rowOf(uuid)!.attempts > queued.attempts, 'the attempts went on');
  t.equal(rowOf(uuid)!.status, 'sent');
});

t.test('a remote that never answers: given up after give_up_after_seconds, ours fails with the last error', async (t) => {
  const closed = await FaultProxy.start(t, remote.url);
  await closed.down();
  const lonely = await startForwarder(t, closed.url, { give_up_after_seconds: 1, auth: 'x-auth-token' });
  const uuid = await lonely.notify(hostEvent(HOST_1, 'STOPPED'));
  const n = await settled(lonely.hook, uuid);
  t.equal(n.status, 'failed');
  t.match(n.forward, { outcome: 'gave-up', reason: /ECONNREFUSED/ });
  t.match(n.message, /^forward_notification failed: forwarding given up: .*ECONNREFUSED/);
  t.match(lonely.outbox()[0], { status: 'dead', last_error: /ECONNREFUSED/ });
  t.notOk(JSON.stringify(lonely.hook.logger.lines).includes(REMOTE_TOKEN), 'the token is never logged');
});
