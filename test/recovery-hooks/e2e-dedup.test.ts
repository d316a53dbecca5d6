// End to end, repeats: one host failure reported many times — the same group re-sent, the same alert from a
// clustered peer Alertmanager, the alert of a second Prometheus replica through a third Alertmanager, a hostmonitor
// using the Masakari API, and the repeat_interval re-sends after the recovery finished — gives one recovery: the
// host is fenced once and no VM is reset or started twice (counted in the simulator). Likewise for a VM crash.
import t from 'tap';
import {
  countBy,
  hostDownAlert,
  instanceAlert,
  notification,
  postWebhook,
  settled,
  sleep,
  startRig,
  untilNotLive,
  vmoves,
  waitUntil,
  webhookBody,
} from './helpers/sim-rig.js';

const iso = (ms: number) => new Date(ms).toISOString();

t.test('duplicate and replayed webhooks: one recovery, the host fenced once, no VM started twice', async (t) => {
  const rig = await startRig(t, { sim: { vmBootMs: 300 } });
  const hook = rig.hook!;
  const victim = rig.hosts.find((h) => !h.master && rig.residentVms(h).length >= 3)!;
  const vms = rig.residentVms(victim);
  await rig.control(`/sim/hosts/${victim.name}/fail`, {});
  await untilNotLive(rig, victim);

  // XcpHostDown fires after `for: 2m`.
  const alert = hostDownAlert(rig, victim, { startsAt: iso(Date.now() - 130_000) });
  const group = webhookBody([alert]);
  const peer = webhookBody([alert], { externalURL: 'http://alertmanager-2.test:9093' });

  // Concurrent deliveries: the group, its retry (the first answer was lost), the same alert from a clustered peer.
  const receipts = (await Promise.all([group, group, peer].map((b) => postWebhook(hook, b)))).map((r) => r[0]!);
  t.same(receipts.map((r) => r.outcome).sort(), ['created', 'replay', 'replay'], 'one created, the others are replays of it');
  const uuid = receipts[0]!.notification_uuid!;
  t.ok(
    receipts.every((r) => r.notification_uuid === uuid),
    'all name the same notification',
  );

  // While the recovery runs the host is on maintenance: the alert of a second Prometheus replica (its own startsAt)
  // is recorded as ignored, and the host's own monitor using the Masakari API gets a 409.
  await waitUntil('the recovery to run', async () => (await notification(hook, uuid)).status === 'running');
  const replica = webhookBody([{ ...alert, startsAt: iso(Date.now() - 125_000) }], { externalURL: 'http://alertmanager-3.test:9093' });
  const [fromReplica] = await postWebhook(hook, replica);
  t.equal(fromReplica!.outcome, 'host-on-maintenance');
  const ignored = await notification(hook, fromReplica!.notification_uuid!);
  t.match(ignored, {
    status: 'ignored',
    message: `host ${victim.name} is on maintenance: notification recorded, no recovery started`,
    recovery_workflow_details: [],
  });
  const viaApi = await hook.request('POST', '/v1/notifications', {
    body: {
      notification: {
        type: 'COMPUTE_HOST',
        hostname: victim.name,
        generated_time: iso(Date.now() - 120_000),
        payload: { event: 'STOPPED', host_status: 'UNKNOWN', cluster_status: 'OFFLINE' },
      },
    },
  });
  t.equal(viaApi.status, 409);
  t.match(viaApi.json, { conflictingRequest: { message: /is ignored as the host is already under maintenance/ } });

  const n = await settled(hook, uuid);
  t.equal(n.status, 'finished', n.message ?? 'finished');

  // Alertmanager keeps re-sending the firing alert (the host is fenced, so it stays down), from every peer.
  for (const [body, expected] of [
    [group, uuid],
    [peer, uuid],
    [replica, fromReplica!.notification_uuid],
  ] as const) {
    const [again] = await postWebhook(hook, body);
    t.match(again, { notification_uuid: expected, outcome: 'replay' }, 'a re-send after the recovery is a replay');
  }
  await sleep(500);

  const list = (await hook.request('GET', `/v1/notifications?source_host_uuid=${victim.uuid}&sort_key=id&sort_dir=asc`)).json.notifications as any[];
  t.same(
    list.map((x) => [x.notification_uuid, x.status]),
    [
      [uuid, 'finished'],
      [fromReplica!.notification_uuid, 'ignored'],
    ],
    'one recovery; the replica alert only recorded',
  );
  t.same(rig.calls.powerOffs, [victim.name], 'fenced once');
  t.same(countBy(rig.calls.starts), Object.fromEntries(vms.map((v) => [v.uuid, 1])), 'every VM started exactly once');
  t.same(countBy(rig.calls.resets), Object.fromEntries(vms.map((v) => [v.uuid, 1])), 'every power state reset exactly once');
  t.same(
    (await vmoves(hook, uuid)).map((m) => m.status),
    vms.map(() => 'succeeded'),
  );
  const metrics = (await hook.request('GET', '/metrics', { auth: false })).text;
  t.match(metrics, /xcp_recovery_webhooks_total\{outcome="duplicate"\} 5/, 'five deliveries were repeats');

  // The host is powered on again and the alert resolves: recorded as a STARTED event, no recovery.
  await rig.control(`/sim/hosts/${victim.name}/power-on`, {});
  const [resolved] = await postWebhook(hook, webhookBody([{ ...alert, status: 'resolved', endsAt: iso(Date.now()) }]));
  t.equal(resolved!.outcome, 'created');
  const started = await settled(hook, resolved!.notification_uuid!);
  t.match(started, { status: 'finished', payload: { event: 'STARTED' }, message: /STARTED event recorded/ });
  t.equal(rig.calls.starts.length, vms.length, 'still one start per VM');
  for (const vm of vms) t.not((await rig.vmStatus(vm.uuid)).resident_on, victim.name, `${vm.name} stays where it was restarted`);
});

t.test('one VM crash reported by two Prometheus replicas: one recovery, the VM started once', async (t) => {
  const rig = await startRig(t);
  const hook = rig.hook!;
  const host = rig.hosts.find((h) => !h.master)!;
  const vm = rig.residentVms(host)[0]!;
  await rig.control(`/sim/vms/${vm.uuid}/crash`, { mode: 'halt' });
  // Each replica's XcpVmHaltedUnexpectedly is active from its own first evaluation after the crash, so the two
  // startsAt differ by a few seconds, both before the recovery.
  const crashedAt = Date.now() - 65_000;
  const a = instanceAlert(rig, vm, host, 'crashed', { startsAt: iso(crashedAt + 5_000) });
  const b = instanceAlert(rig, vm, host, 'crashed', { startsAt: iso(crashedAt + 12_000) });
  const [first] = await postWebhook(hook, webhookBody([a]));
  t.equal(first!.outcome, 'created');
  const n = await settled(hook, first!.notification_uuid!);
  t.equal(n.status, 'finished');
  // The other replica's alert arrives late (after the recovery finished) but reports the same crash.
  const [second] = await postWebhook(hook, webhookBody([b], { externalURL: 'http://alertmanager-2.test:9093' }));
  t.match(second, { outcome: 'duplicate', notification_uuid: first!.notification_uuid });
  await sleep(300);
  t.same(rig.calls.starts, [vm.uuid], 'started once');
  t.equal((await hook.request('GET', `/v1/notifications?type=COMPUTE_INSTANCE`)).json.notifications.length, 1);
});
