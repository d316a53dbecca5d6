// End to end, web hooks around recovery actions: the receiver (real XAPI client, simulated pool) with
// `recovery_hook.action_hooks` pointing at a local HTTP server. A waiting `pre` hook that answers 403 vetoes the
// VM start: the VM stays halted and the notification's progress says why; once the site agrees, the recovery runs
// and the `post` hook receives the action's result. A failing action reaches the `post` hook as an error.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { XapiError } from '../../core/errors.js';
import { hookServer } from './helpers/action-hooks.js';
import { type Rig, type SimHost, instanceAlert, postWebhook, progressLines, settled, startRig, webhookBody } from './helpers/sim-rig.js';

const iso = (ms: number) => new Date(ms).toISOString();

function memberVm(rig: Rig, index = 0): { host: SimHost; vm: { uuid: string; name: string; ref: string } } {
  const host = rig.hosts.find((h) => !h.master && rig.residentVms(h).length > index)!;
  return { host, vm: rig.residentVms(host)[index]! };
}

t.test('a vetoing pre hook stops the action and says why; post hooks get results', async (t) => {
  let licenceValid = false;
  const server = await hookServer(t, (hit, res) => {
    if (hit.body.type === 'pre' && !licenceValid) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('licence expired for this pool');
      return;
    }
    res.writeHead(200).end('{}');
  });
  const rig = await startRig(t, {
    sim: { guestHeartbeatMs: 400 },
    recoveryHook: {
      instance_failure: { heartbeat_timeout_seconds: 3, confirm_timeout_seconds: 5 },
      retry: { attempts: 0, interval_seconds: 0 },
      task_defaults: { timeout_seconds: 30, retries: 2, retry_delay_seconds: 0.1 },
      action_hooks: [
        { url: `${server.base}/licence`, methods: ['vm.start'], type: 'pre', wait_for_response: true, timeout_seconds: 2 },
        { url: `${server.base}/audit`, methods: ['*'], type: 'post' },
      ],
    },
  });
  const hook = rig.hook!;
  const { host, vm } = memberVm(rig);

  await rig.control(`/sim/vms/${vm.uuid}/crash`, { mode: 'halt' });
  const [vetoed] = await postWebhook(hook, webhookBody([instanceAlert(rig, vm, host, 'crashed', { startsAt: iso(Date.now()) })]));
  const n = await settled(hook, vetoed!.notification_uuid!);
  t.equal(n.status, 'failed', 'the recovery did not happen');
  t.match(n.message ?? '', /vm\.start vetoed by pre hook http:\/\/127\.0\.0\.1:\d+\/licence: HTTP 403 \(licence expired for this pool\)/);
  t.ok(
    progressLines(n).some((l) => /^recover_instance: failed: vm\.start vetoed .*licence expired for this pool/.test(l)),
    `the progress says why: ${progressLines(n).join(' | ')}`,
  );
  t.notOk(
    progressLines(n).some((l) => l.includes('retrying')),
    'a veto is an answer: not retried within the task',
  );
  t.equal(rig.calls.starts.length, 0, 'the VM was not started');
  t.equal((await rig.vmStatus(vm.uuid)).power_state, 'Halted');
  const pre = server.hits.filter((h) => h.path === '/licence');
  t.equal(pre.length, 1, 'one pre call');
  t.match(pre[0]!.body, {
    type: 'pre',
    method: 'vm.start',
    params: { vm: vm.uuid, vm_name: vm.name },
    notification: { uuid: vetoed!.notification_uuid, type: 'COMPUTE_INSTANCE', host: host.name, pool: rig.poolName },
  });
  t.equal(server.hits.filter((h) => h.path === '/audit').length, 0, 'no post hook for an action that never ran');

  licenceValid = true;
  await rig.control(`/sim/vms/${vm.uuid}/crash`, { mode: 'halt' }).catch(() => undefined);
  const [allowed] = await postWebhook(hook, webhookBody([instanceAlert(rig, vm, host, 'crashed', { startsAt: iso(Date.now() + 1000) })]));
  const done = await settled(hook, allowed!.notification_uuid!);
  t.equal(done.status, 'finished', done.message ?? 'finished');
  t.same(rig.calls.starts, [vm.uuid], 'started once the site agreed');
  await server.waitForHits(pre.length + 2);
  const post = server.hits.filter((h) => h.path === '/audit');
  t.equal(post.length, 1);
  const [preCall] = server.hits.filter((h) => h.path === '/licence').slice(-1);
  t.match(post[0]!.body, {
    type: 'post',
    method: 'vm.start',
    callId: preCall!.body.callId,
    params: { vm: vm.uuid },
    notification: { uuid: allowed!.notification_uuid },
  });
  t.ok(typeof post[0]!.body.duration === 'number' && post[0]!.body.duration >= 0, 'duration in ms');
  t.ok('result' in post[0]!.body && !('error' in post[0]!.body), 'a result, no error');

  // The receiver recorded each call in the notification's activity (its store file, read beside it).
  const calls = (uuid: string) => {
    const db = new Database(join(rig.dir, 'recovery.sqlite'), { readonly: true });
    try {
      return db
        .prepare('SELECT hook, phase, task_name, method, outcome, http_status, call_id FROM hook_calls WHERE notification_uuid = ? ORDER BY id')
        .all(uuid);
    } finally {
      db.close();
    }
  };
  t.match(calls(vetoed!.notification_uuid!), [
    { hook: `${server.base}/licence`, phase: 'pre', task_name: 'recover_instance', method: 'vm.start', outcome: 'vetoed', http_status: 403 },
  ]);
  for (let i = 0; i < 200 && calls(allowed!.notification_uuid!).length < 2; i++) await new Promise((r) => setTimeout(r, 20));
  t.match(calls(allowed!.notification_uuid!), [
    { hook: `${server.base}/licence`, phase: 'pre', outcome: 'ok', http_status: 200, call_id: preCall!.body.callId },
    { hook: `${server.base}/audit`, phase: 'post', task_name: 'recover_instance', outcome: 'ok', http_status: 200, call_id: preCall!.body.callId },
  ]);
});

t.test('a failing action reaches the post hook as an error, and the pre and post calls share a callId', async (t) => {
  const server = await hookServer(t, (_hit, res) => res.writeHead(204).end());
  const rig = await startRig(t, {
    sim: { guestHeartbeatMs: 400 },
    recoveryHook: {
      instance_failure: { heartbeat_timeout_seconds: 3, confirm_timeout_seconds: 5 },
      retry: { attempts: 0, interval_seconds: 0 },
      action_hooks: [{ url: `${server.base}/audit`, methods: ['vm.start', 'vm.hard_reboot'], type: 'pre/post' }],
    },
  });
  const hook = rig.hook!;
  const { host, vm } = memberVm(rig);
  // XAPI refuses the start: no host has room for it.
  rig.sim.pool.vmStart = async (_vm, _host, method) => {
    throw new XapiError('HOST_NOT_ENOUGH_FREE_MEMORY', ['8589934592', '0'], method);
  };

  await rig.control(`/sim/vms/${vm.uuid}/crash`, { mode: 'halt' });
  const [receipt] = await postWebhook(hook, webhookBody([instanceAlert(rig, vm, host, 'crashed', { startsAt: iso(Date.now()) })]));
  const n = await settled(hook, receipt!.notification_uuid!);
  t.equal(n.status, 'failed');
  t.match(n.message ?? '', /HOST_NOT_ENOUGH_FREE_MEMORY/);
  await server.waitForHits(2);
  const [pre, post] = server.hits;
  t.match(pre!.body, { type: 'pre', method: 'vm.start', params: { vm: vm.uuid } });
  t.match(post!.body, { type: 'post', method: 'vm.start', callId: pre!.body.callId, error: /HOST_NOT_ENOUGH_FREE_MEMORY/ });
  t.notOk('result' in post!.body, 'an error, no result');
  t.equal(server.hits.length, 2, 'nothing else was attempted');
});
