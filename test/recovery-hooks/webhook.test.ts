// Alertmanager intake: published payloads, recovery labels, replays and duplicates, resolved alerts, store failures.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { HOST_1, HOST_2, type Hook, startHook, tempDir, testConfig } from './helpers/harness.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/alertmanager/${name}`, import.meta.url), 'utf8'));
const hostLabels = (host = HOST_1) => ({
  xcp_notification_type: 'COMPUTE_HOST',
  pool_name: 'pool-a',
  pool_id: 'p-1',
  host_name: host.name,
  host_uuid: host.uuid,
});

/** The published firing payload with its first alert turned into a recovery alert (other alerts unchanged). */
function firingPayload(startsAt: string, labels: Record<string, string> = hostLabels()) {
  const body = fixture('webhook-v4-firing-multi-alert.json');
  body.alerts[0].labels = { ...body.alerts[0].labels, ...labels };
  body.alerts[0].startsAt = startsAt;
  return body;
}

let dir: string;
let hook: Hook;
t.before(async () => {
  dir = tempDir();
  // dry-run: no XAPI needed, and no maintenance flag (so each test is independent of the others' hosts).
  hook = await startHook(testConfig(dir, '      mode: dry-run\n  workflows: { host: [confirm_host_down] }\n'));
});
t.teardown(() => hook.stop());

t.test('published payloads without recovery labels are accepted and skipped', async (t) => {
  for (const name of ['webhook-v4-firing-multi-alert.json', 'webhook-v4-resolved-single-alert.json', 'am-executor-example-alert_payload.json']) {
    const res = await hook.request('POST', '/alertmanager', { body: fixture(name) });
    t.equal(res.status, 202, name);
    t.ok(
      res.json.receipts.every((r: any) => r.outcome === 'skipped'),
      `${name}: skipped`,
    );
  }
});

t.test('a firing recovery alert becomes one notification; replays and a second Alertmanager do not add one', async (t) => {
  const startsAt = new Date(Date.now() - 5000).toISOString();
  const first = await hook.request('POST', '/alertmanager', { body: firingPayload(startsAt) });
  t.equal(first.status, 202);
  const receipt = first.json.receipts[0];
  t.match(receipt, { outcome: 'created', status: 'firing', notification_uuid: String });
  t.same(
    first.json.receipts.slice(1).map((r: any) => r.outcome),
    ['skipped', 'skipped'],
  );

  // repeat_interval re-send (same group), and the same alert from a peer Alertmanager (other receiver/groupKey).
  const again = await hook.request('POST', '/alertmanager', { body: firingPayload(startsAt) });
  const peer = firingPayload(startsAt);
  peer.receiver = 'peer';
  peer.groupKey = '{}:{other}';
  const fromPeer = await hook.request('POST', '/alertmanager', { body: peer });
  for (const res of [again, fromPeer]) {
    t.equal(res.status, 202);
    t.match(res.json.receipts[0], { outcome: 'replay', notification_uuid: receipt.notification_uuid });
  }
  // Another alert (other fingerprint) for the same host failure within the window: Masakari duplicate.
  const other = firingPayload(new Date(Date.now() - 4000).toISOString(), { ...hostLabels(), alertname: 'XcpHostUnreachable' });
  const dup = await hook.request('POST', '/alertmanager', { body: other });
  t.match(dup.json.receipts[0], { outcome: 'duplicate', notification_uuid: receipt.notification_uuid });

  const list = await hook.request('GET', `/v1/notifications?source_host_uuid=${HOST_1.uuid}&type=COMPUTE_HOST`);
  t.equal(list.json.notifications.length, 1, 'one notification, one recovery');
  t.match(list.json.notifications[0].payload, { event: 'STOPPED', host_status: 'UNKNOWN' });
  const metrics = (await hook.request('GET', '/metrics', { auth: false })).text;
  t.match(metrics, /xcp_recovery_webhooks_total\{outcome="duplicate"\} 3/);
});

t.test('a resolved alert is recorded as a STARTED event and finishes without any recovery', async (t) => {
  const body = fixture('webhook-v4-resolved-single-alert.json');
  const startsAt = new Date(Date.now() - 60_000).toISOString();
  Object.assign(body.alerts[0], { startsAt, endsAt: new Date().toISOString() });
  body.alerts[0].labels = { ...body.alerts[0].labels, ...hostLabels(HOST_2) };
  const res = await hook.request('POST', '/alertmanager', { body });
  t.match(res.json.receipts, [{ outcome: 'created', status: 'resolved', fingerprint: 'fbab788ec4c1018b' }]);
  const id = res.json.receipts[0].notification_uuid;
  let shown: any;
  for (let i = 0; i < 100; i++) {
    shown = (await hook.request('GET', `/v1/notifications/${id}`)).json.notification;
    if (shown.status !== 'new' && shown.status !== 'running') break;
    await new Promise((r) => setTimeout(r, 20));
  }
  t.match(shown, { status: 'finished', payload: { event: 'STARTED' }, message: /never taken as proof of recovery/ });
});

t.test('instance and process alerts map to Masakari payloads; unusable recovery alerts are reported, not refused', async (t) => {
  const startsAt = new Date(Date.now() - 3000).toISOString();
  const vm = firingPayload(startsAt, {
    ...hostLabels(HOST_2),
    xcp_notification_type: 'COMPUTE_INSTANCE',
    vm_uuid: '96ab1c42-668c-4f2d-8689-afa3301d4ee9',
    xcp_instance_event: 'heartbeat',
  });
  const vmRes = await hook.request('POST', '/alertmanager', { body: vm });
  const shown = await hook.request('GET', `/v1/notifications/${vmRes.json.receipts[0].notification_uuid}`);
  t.match(shown.json.notification, {
    type: 'COMPUTE_INSTANCE',
    payload: { instance_uuid: '96ab1c42-668c-4f2d-8689-afa3301d4ee9', event: 'QEMU_GUEST_AGENT_ERROR', vir_domain_event: 'STOPPED_FAILED' },
  });

  const proc = firingPayload(startsAt, { xcp_notification_type: 'PROCESS', host_name: HOST_2.name });
  const procRes = await hook.request('POST', '/alertmanager', { body: proc });
  const procShown = await hook.request('GET', `/v1/notifications/${procRes.json.receipts[0].notification_uuid}`);
  t.match(
    procShown.json.notification,
    { type: 'COMPUTE_PROCESS', source_host_uuid: HOST_2.uuid, payload: { process_name: 'xapi', event: 'STOPPED' } },
    'host found by name',
  );

  const bad = await hook.request('POST', '/alertmanager', { body: firingPayload(startsAt, { xcp_notification_type: 'DISK' }) });
  t.equal(bad.status, 202, "a rules bug is not the sender's to retry");
  t.match(bad.json.receipts[0], { outcome: 'invalid', reason: /is not COMPUTE_HOST/ });
  const noVm = await hook.request('POST', '/alertmanager', { body: firingPayload(startsAt, { ...hostLabels(), xcp_notification_type: 'COMPUTE_INSTANCE' }) });
  t.match(noVm.json.receipts[0], { outcome: 'invalid', reason: /vm_uuid/ });
  const noHost = await hook.request('POST', '/alertmanager', {
    body: firingPayload(startsAt, { xcp_notification_type: 'COMPUTE_HOST', pool_name: 'pool-a', host_name: 'ghost' }),
  });
  t.match(noHost.json.receipts[0], { outcome: 'invalid', reason: /known host/ });
});

t.test('a store failure answers 503 (Alertmanager retries); the retry is recorded once', async (t) => {
  const db = new Database(join(dir, 'recovery.sqlite'));
  db.exec(`CREATE TRIGGER fail_insert BEFORE INSERT ON notifications BEGIN SELECT RAISE(ABORT, 'disk I/O error (simulated)'); END;`);
  const startsAt = new Date(Date.now() - 2000).toISOString();
  const body = firingPayload(startsAt, { ...hostLabels(HOST_2), alertname: 'StoreFailureCase' });
  const failed = await hook.request('POST', '/alertmanager', { body });
  t.equal(failed.status, 503);
  t.equal(failed.headers.get('retry-after'), '5');
  t.match(failed.json, { serviceUnavailable: { code: 503, message: /nothing was acknowledged/ } });
  const apiFailed = await hook.request('POST', '/v1/notifications', {
    body: { notification: { type: 'COMPUTE_HOST', hostname: HOST_2.name, generated_time: startsAt, payload: { event: 'STOPPED', host_status: 'NORMAL' } } },
  });
  t.equal(apiFailed.status, 503, 'the Masakari API too');
  db.exec('DROP TRIGGER fail_insert');
  db.close();

  const retried = await hook.request('POST', '/alertmanager', { body });
  t.match(retried.json.receipts[0], { outcome: 'created' });
  t.match((await hook.request('POST', '/alertmanager', { body })).json.receipts[0], { outcome: 'replay' });
  t.match((await hook.request('GET', '/metrics', { auth: false })).text, /xcp_recovery_webhooks_total\{outcome="error"\} 1/);
  t.ok(
    hook.logger.lines.some((l) => l.level === 'error' && /store failure/.test(String(l.msg))),
    'logged once, with context',
  );
});
