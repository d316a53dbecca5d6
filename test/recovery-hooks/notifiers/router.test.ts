// Which status changes and alerts become messages, for which channels, with what payload — through the real store,
// the way the engine and the intake call it.
import t from 'tap';
import { createRouter } from '../../../recovery-hooks/notifiers/router.js';
import { SqliteNotificationStore } from '../../../recovery-hooks/store/sqlite.js';
import type { OutboxBuilder, OutboxInput } from '../../../recovery-hooks/store/types.js';
import { HOST, count, failRecovery, hostFailure, messagesCounter, mustParse, receive } from './helpers/notifiers.js';

const section = {
  channels: {
    all: { type: 'webhook', url: 'http://127.0.0.1:1/all' },
    critical: { type: 'webhook', url: 'http://127.0.0.1:1/critical', min_severity: 'critical' },
    alerts: { type: 'webhook', url: 'http://127.0.0.1:1/alerts', events: ['alert.firing', 'alert.resolved'], min_severity: 'warning' },
  },
};

function setup() {
  const store = new SqliteNotificationStore(':memory:');
  const metrics = messagesCounter();
  const router = createRouter(mustParse(section).channels, { metrics });
  const sent: OutboxInput[] = [];
  const events: OutboxBuilder = (n, history) => {
    const out = router.statusEvents(n, history);
    sent.push(...out);
    return out;
  };
  return { store, metrics, router, sent, events };
}

const summary = (sent: OutboxInput[]) => sent.map((m) => `${m.channel}:${String(m.payload.event)}`);

t.test('a failed host recovery: received, started, failed with its failing task, what was done and the VMs', async (t) => {
  const { store, metrics, sent, events } = setup();
  t.teardown(() => store.close());
  const n = await receive(store, events);
  await store.planMoves(n.uuid, [{ vmUuid: 'vm-1', vmName: 'web-1', sourceHost: HOST.name, rank: 0, status: 'pending' }], Date.now());
  await failRecovery(store, events, n);
  t.same(summary(sent), [
    'all:notification.received',
    'critical:notification.received',
    'all:recovery.started',
    'all:recovery.failed',
    'critical:recovery.failed',
  ]);
  t.equal(await count(metrics, 'all', 'queued'), 3, 'queued messages are counted');
  const failed = sent.find((m) => m.payload.event === 'recovery.failed')!.payload;
  t.match(failed, {
    severity: 'critical',
    notification_uuid: n.uuid,
    type: 'COMPUTE_HOST',
    type_label: 'host failure',
    status: 'failed',
    signal: 'STOPPED',
    host_name: HOST.name,
    host_uuid: HOST.uuid,
    pool_name: 'pool-a',
    attempts: 1,
    message: /^fence_host failed: BMC 10\.0\.0\.11 did not answer/,
    failed_task: { name: 'fence_host', error: 'BMC 10.0.0.11 did not answer: timed out after 30000 ms' },
    vms: [{ vm_name: 'web-1', vm_uuid: 'vm-1', status: 'pending', dest_host: null }],
  });
  t.same(
    (failed.tasks as { name: string; state: string }[]).map((x) => `${x.name}=${x.state}`),
    ['confirm_host_down=SUCCESS', 'fence_host=FAILURE', 'disable_host=PENDING'],
  );
  const received = sent[0]!.payload;
  t.same(received.tasks, [], 'no task snapshot before a run ended');
  t.equal(received.severity, 'critical', 'a host failure is critical');
  t.same(new Set(sent.map((m) => m.notificationUuid)), new Set([n.uuid]), 'every message is filed under its notification');
  t.same(
    (await store.activityOf(n.uuid)).messages.map((m) => `${m.channel}:${m.event}:${m.status}`),
    summary(sent).map((s) => `${s}:queued`),
    "the notification's activity lists them, queued",
  );
});

t.test('the snapshot is of the run that just ended, not of a later retry', async (t) => {
  const { store, sent, events } = setup();
  t.teardown(() => store.close());
  const n = await receive(store, events);
  await store.transition(n.uuid, { from: ['new'], to: 'running', startsRun: true }, Date.now(), events);
  await store.planTasks(n.uuid, ['confirm_host_down']);
  await store.startTask(n.uuid, 'confirm_host_down', Date.now());
  await store.addProgress(n.uuid, 'confirm_host_down', 'failed: XAPI unreachable', 1, Date.now());
  await store.finishTask(n.uuid, 'confirm_host_down', 'FAILURE', null, Date.now());
  const retryAt = Date.now() + 120_000;
  await store.transition(
    n.uuid,
    { from: ['running'], to: 'error', message: 'confirm_host_down failed: XAPI unreachable', nextAttemptAt: retryAt },
    Date.now(),
    events,
  );
  const error = sent.find((m) => m.payload.event === 'recovery.error')!.payload;
  // The next run starts the task again: the queued message must still show the failure.
  await store.startTask(n.uuid, 'confirm_host_down', Date.now());
  t.match(error, {
    severity: 'warning',
    next_attempt_at: new Date(retryAt).toISOString(),
    failed_task: { name: 'confirm_host_down', error: 'XAPI unreachable' },
    tasks: [{ name: 'confirm_host_down', state: 'FAILURE', message: 'failed: XAPI unreachable' }],
  });
  t.same(summary(sent), ['all:notification.received', 'critical:notification.received', 'all:recovery.started', 'all:recovery.error']);
});

t.test('finished and ignored recoveries; a STARTED signal is announced once, as received, at info', async (t) => {
  const { store, sent, events } = setup();
  t.teardown(() => store.close());
  const a = await receive(
    store,
    events,
    hostFailure({ type: 'COMPUTE_INSTANCE', payload: { instance_uuid: 'vm-9', vir_domain_event: 'STOPPED_FAILED', event: 'LIFECYCLE' } }),
  );
  await store.transition(a.uuid, { from: ['new'], to: 'running', startsRun: true }, Date.now(), events);
  await store.transition(a.uuid, { from: ['running'], to: 'finished', message: null }, Date.now(), events);
  const b = await receive(store, events, hostFailure({ type: 'COMPUTE_PROCESS', payload: { process_name: 'xapi', event: 'STOPPED' } }));
  await store.transition(b.uuid, { from: ['new'], to: 'running', startsRun: true }, Date.now(), events);
  await store.transition(b.uuid, { from: ['running'], to: 'ignored', message: 'no ssh configured for pool pool-a' }, Date.now(), events);
  sent.length = 0;
  const up = await receive(store, events, hostFailure({ payload: { event: 'STARTED', host_status: 'NORMAL', cluster_status: 'ONLINE' } }));
  await store.transition(up.uuid, { from: ['new'], to: 'running', startsRun: true }, Date.now(), events);
  await store.transition(up.uuid, { from: ['running'], to: 'finished', message: 'STARTED event recorded' }, Date.now(), events);
  t.same(summary(sent), ['all:notification.received'], 'only the arrival of an up signal');
  t.match(sent[0]!.payload, { severity: 'info', signal: 'STARTED' });
});

t.test('an instance and a process notification carry their VM and process', async (t) => {
  const { store, sent, events } = setup();
  t.teardown(() => store.close());
  await receive(store, events, hostFailure({ type: 'COMPUTE_INSTANCE', payload: { instance_uuid: 'vm-9', event: 'LIFECYCLE' } }));
  await receive(store, events, hostFailure({ type: 'COMPUTE_PROCESS', payload: { process_name: 'xapi', event: 'STOPPED' } }));
  t.match(sent[0]!.payload, { type_label: 'VM failure', vm_uuid: 'vm-9', severity: 'warning' });
  t.match(sent[1]!.payload, { type_label: 'toolstack failure', process_name: 'xapi' });
  t.same(summary(sent), ['all:notification.received', 'all:notification.received'], 'warnings do not reach a critical-only channel');
});

t.test('alerts go to the channels subscribed to alert events, at their severity', async (t) => {
  const { store, router, metrics } = setup();
  t.teardown(() => store.close());
  const alert = {
    status: 'firing' as const,
    labels: { alertname: 'XcpHostDown', severity: 'critical', pool_name: 'pool-a', host_name: HOST.name, host_uuid: HOST.uuid },
    annotations: { summary: 'A host is down.', runbook_url: 'https://runbooks.example/XcpHostDown' },
    startsAt: '2026-01-01T00:00:00Z',
    generatorURL: 'http://prometheus:9090/graph?g0.expr=x',
    fingerprint: 'abc123',
  };
  const firing = router.alertEvents(alert);
  t.same(
    firing.map((m) => m.channel),
    ['alerts'],
    'only channels that asked for alerts',
  );
  t.equal(firing[0]!.notificationUuid, undefined, 'an alert message belongs to no notification');
  t.match(firing[0]!.payload, {
    event: 'alert.firing',
    severity: 'critical',
    alertname: 'XcpHostDown',
    summary: 'A host is down.',
    runbook_url: 'https://runbooks.example/XcpHostDown',
    generator_url: 'http://prometheus:9090/graph?g0.expr=x',
    host_name: HOST.name,
    dedup_key: 'abc123:2026-01-01T00:00:00Z:firing',
    labels: [{ name: 'alertname', value: 'XcpHostDown' }, { name: 'host_name' }, { name: 'host_uuid' }, { name: 'pool_name' }, { name: 'severity' }],
  });
  const resolved = router.alertEvents({ ...alert, status: 'resolved', endsAt: '2026-01-01T00:10:00Z' });
  t.match(resolved[0]!.payload, { event: 'alert.resolved', ends_at: '2026-01-01T00:10:00Z', at: '2026-01-01T00:10:00Z' });
  t.same(router.alertEvents({ ...alert, labels: { alertname: 'XcpVmMemoryHigh', severity: 'info' } }), [], 'below the channel minimum');
  const unlabelled = router.alertEvents({ status: 'firing', labels: { alertname: 'X' }, startsAt: '2026-01-01T00:00:00Z' });
  t.match(unlabelled[0]!.payload, { severity: 'warning', fingerprint: /^[0-9a-f]{16}$/ }, 'no severity label: warning; no fingerprint: a hash of the labels');
  t.equal(await count(metrics, 'alerts', 'queued'), 3);
});

t.test('a recovery waiting for an operator: one critical recovery.waiting message per wait, with the reason', async (t) => {
  const { store, router, events } = setup();
  t.teardown(() => store.close());
  const n = await receive(store, events);
  const since = Date.UTC(2026, 0, 1, 0, 5);
  await store.waitForOperator(n.uuid, { kind: 'fence_confirmation', reason: 'the BMC of host-1 does not answer' }, since, router.waitEvents);
  await store.waitForOperator(n.uuid, { kind: 'fence_confirmation', reason: 'the BMC of host-1 still does not answer' }, since + 1000, router.waitEvents);
  const queued = await store.claimMessages('all', 100, Date.now(), 1000);
  const waiting = queued.filter((m) => m.payload.event === 'recovery.waiting');
  t.equal(waiting.length, 1, 'a new reason for the same wait is not a new message');
  t.match(
    (await store.activityOf(n.uuid)).messages.filter((m) => m.event === 'recovery.waiting'),
    [{ channel: 'all' }, { channel: 'critical' }],
  );
  t.match(waiting[0]!.payload, {
    severity: 'critical',
    notification_uuid: n.uuid,
    host_name: HOST.name,
    host_uuid: HOST.uuid,
    message: 'the BMC of host-1 does not answer',
    wait_kind: 'fence_confirmation',
    waiting_since: '2026-01-01T00:05:00.000Z',
  });
  t.equal(
    (await store.claimMessages('critical', 100, Date.now(), 1000)).filter((m) => m.payload.event === 'recovery.waiting').length,
    1,
    'critical: the critical-only channel hears it',
  );
  t.same(
    router.waitEvents(n, { ...(await store.operatorWait(n.uuid))!, kind: 'blast_radius' }).map((m) => m.channel),
    ['all', 'critical'],
  );
});
