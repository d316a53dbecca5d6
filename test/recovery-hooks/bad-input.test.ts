// Bad input, by hand, on both stores: each hostile request gets the same precise answer from a receiver on SQLite and
// one on PostgreSQL (a 4xx naming the field, or a per-alert `invalid` receipt in a 202), nothing of it is stored or
// learned, log lines stay short; a stream of valid webhooks mixed with poison ones is acknowledged and stored whole;
// and a poison delivery in a group commit fails alone.
import t from 'tap';
import { memoryLogger } from '../../core/log.js';
import { Secret } from '../../core/config/secret.js';
import { createRecoveryMetrics } from '../../recovery-hooks/engine/metrics.js';
import { NotificationRecorder } from '../../recovery-hooks/intake/recorder.js';
import { PostgresNotificationStore } from '../../recovery-hooks/store/postgres.js';
import { SqliteNotificationStore } from '../../recovery-hooks/store/sqlite.js';
import { StoreError, type NotificationStore } from '../../recovery-hooks/store/store.js';
import type { NewNotification } from '../../recovery-hooks/store/types.js';
import { postgresSkip, startPostgres } from '../helpers/postgres.js';
import { startBothStores } from './helpers/both-stores.js';
import { HOST_1, HOST_2 } from './helpers/harness.js';

const recent = () => new Date(Date.now() - 1000).toISOString();
const hostAlert = (labels: Record<string, string> = {}, over: Record<string, unknown> = {}) => ({
  status: 'firing',
  startsAt: recent(),
  labels: { alertname: 'XcpHostDown', xcp_notification_type: 'COMPUTE_HOST', pool_name: 'pool-a', host_name: HOST_1.name, host_uuid: HOST_1.uuid, ...labels },
  ...over,
});
const webhook = (...alerts: unknown[]) => ({ version: '4', status: 'firing', receiver: 'xcp', groupKey: '{}:{}', alerts });
const notification = (over: Record<string, unknown> = {}, payload: Record<string, unknown> = { event: 'STOPPED', host_status: 'UNKNOWN' }) => ({
  notification: { type: 'COMPUTE_HOST', hostname: HOST_1.name, generated_time: recent(), payload, ...over },
});
const HUGE = 'h'.repeat(900 * 1024);
const json = { 'Content-Type': 'application/json' };

type Case = [string, string, string, { body?: unknown; raw?: string; headers?: Record<string, string> }, number, RegExp];
/** [what, method, path, request, status, what the body says (the fault message, or the first receipt's reason)] */
const CASES: Case[] = [
  [
    'NUL in host_name',
    'POST',
    '/alertmanager',
    { body: webhook(hostAlert({ host_name: 'host-1\u0000' })) },
    202,
    /labels\.host_name contains a control character/,
  ],
  [
    'NUL in host_uuid',
    'POST',
    '/alertmanager',
    { body: webhook(hostAlert({ host_uuid: `${HOST_1.uuid}\u0000` })) },
    202,
    /labels\.host_uuid contains a control character/,
  ],
  [
    'NUL in vm_uuid',
    'POST',
    '/alertmanager',
    { body: webhook(hostAlert({ xcp_notification_type: 'COMPUTE_INSTANCE', vm_uuid: '\u0000' })) },
    202,
    /labels\.vm_uuid contains a control character/,
  ],
  [
    'vm_uuid not a uuid',
    'POST',
    '/alertmanager',
    { body: webhook(hostAlert({ xcp_notification_type: 'COMPUTE_INSTANCE', vm_uuid: 'vm-1' })) },
    202,
    /label vm_uuid: 'vm-1' is not a 'uuid'/,
  ],
  ['NUL in an unrelated label', 'POST', '/alertmanager', { body: webhook(hostAlert({ job: 'x\u0000' })) }, 202, /labels\.job contains a control character/],
  ['NUL in a label name', 'POST', '/alertmanager', { body: webhook(hostAlert({ 'a\u0000b': 'x' })) }, 202, /labels name .* contains a control character/],
  [
    'NUL in an annotation',
    'POST',
    '/alertmanager',
    { body: webhook(hostAlert({}, { annotations: { summary: 'a\u0000' } })) },
    202,
    /annotations\.summary contains a control character/,
  ],
  [
    'NUL in the fingerprint',
    'POST',
    '/alertmanager',
    { body: webhook(hostAlert({}, { fingerprint: 'ab\u0000' })) },
    202,
    /fingerprint contains a control character/,
  ],
  [
    'SQL in host_name',
    'POST',
    '/alertmanager',
    { body: webhook(hostAlert({ host_name: "1' OR '1'='1", host_uuid: '00000000-0000-4000-8000-0000000000fe' })) },
    202,
    /host '1' OR '1'='1' is not a host of pool pool-a in its XAPI inventory/,
  ],
  [
    'host name longer than 255',
    'POST',
    '/alertmanager',
    { body: webhook(hostAlert({ host_name: 'h'.repeat(256) })) },
    202,
    /label host_name: .*is too long \(256 characters, at most 255\)/,
  ],
  ['900 KB host name', 'POST', '/alertmanager', { body: webhook(hostAlert({ host_name: HUGE })) }, 202, /is too long/],
  ['unknown pool', 'POST', '/alertmanager', { body: webhook(hostAlert({ pool_name: 'pool-z' })) }, 202, /pool_name 'pool-z' is not a configured pool/],
  [
    'uuid of no host of the inventory',
    'POST',
    '/alertmanager',
    { body: webhook(hostAlert({ host_name: 'ghost', host_uuid: '00000000-0000-4000-8000-0000000000ff' })) },
    202,
    /not a host of pool pool-a/,
  ],
  // The uuid is the identity (a renamed host keeps it): taken as host-2, the one notification these cases store.
  ['uuid and name of two hosts', 'POST', '/alertmanager', { body: webhook(hostAlert({ host_uuid: HOST_2.uuid, host_name: HOST_1.name })) }, 202, /^$/],
  [
    'impossible startsAt',
    'POST',
    '/alertmanager',
    { body: webhook(hostAlert({}, { startsAt: '2026-02-30T10:00:00Z' })) },
    202,
    /startsAt '2026-02-30T10:00:00Z' is not an RFC 3339 time/,
  ],
  ['alert not an object', 'POST', '/alertmanager', { body: webhook(42) }, 202, /alerts\[0\] is not an object/],
  [
    'status neither firing nor resolved',
    'POST',
    '/alertmanager',
    { body: webhook(hostAlert({}, { status: 'burning' })) },
    202,
    /status must be "firing" or "resolved"/,
  ],
  [
    'webhook as text/plain',
    'POST',
    '/alertmanager',
    { raw: JSON.stringify(webhook(hostAlert())), headers: { 'Content-Type': 'text/plain' } },
    415,
    /Unsupported Content-Type/,
  ],
  [
    'webhook nested 100 000 deep',
    'POST',
    '/alertmanager',
    { raw: `{"alerts":${'['.repeat(100_000)}${']'.repeat(100_000)}}`, headers: json },
    400,
    /nested deeper than 32/,
  ],
  [
    'notification nested deep',
    'POST',
    '/v1/notifications',
    { raw: `{"notification":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`, headers: json },
    400,
    /nested deeper than 32/,
  ],
  [
    'notification as form',
    'POST',
    '/v1/notifications',
    { raw: 'a=b', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } },
    415,
    /Unsupported Content-Type/,
  ],
  [
    'impossible generated_time',
    'POST',
    '/v1/notifications',
    { body: notification({ generated_time: '2026-02-30T10:00:00' }) },
    400,
    /generated_time.*is not a 'date-time'/,
  ],
  ['NUL in hostname', 'POST', '/v1/notifications', { body: notification({ hostname: 'host-1\u0000' }) }, 400, /field\/attribute notification\/hostname/],
  [
    'NUL in process_name',
    'POST',
    '/v1/notifications',
    { body: notification({ type: 'PROCESS' }, { process_name: 'x\u0000', event: 'STOPPED' }) },
    400,
    /payload\/process_name.*control character/,
  ],
  [
    'NUL in vir_domain_event',
    'POST',
    '/v1/notifications',
    { body: notification({ type: 'VM' }, { instance_uuid: '11111111-0000-4000-8000-000000000001', vir_domain_event: '\u0000', event: 'LIFECYCLE' }) },
    400,
    /payload\/vir_domain_event/,
  ],
  ['huge value in the message', 'POST', '/v1/notifications', { body: notification({ hostname: HUGE }) }, 400, /^.{0,600}$/s],
  ['marker beyond 64 bits', 'GET', '/v1/notifications?marker=18446744073709551616', {}, 400, /Marker 18446744073709551616 could not be found/],
  ['marker beyond 2^53', 'GET', '/v1/notifications?marker=9007199254740993', {}, 400, /could not be found/],
  ['NUL in source_host_uuid', 'GET', '/v1/notifications?source_host_uuid=%00', {}, 400, /source_host_uuid.*control character/],
  ['NUL in sort_key', 'GET', '/v1/notifications?sort_key=%00', {}, 400, /sort_key.*control character/],
  ['limit beyond any size', 'GET', `/v1/notifications?limit=${'9'.repeat(40)}`, {}, 200, /notifications/],
  ['impossible generated-since', 'GET', '/v1/notifications?generated-since=2026-02-30T10:00:00', {}, 400, /Invalid generated-since value/],
  ['a key repeated 100 times', 'GET', `/v1/notifications?${'status=new&'.repeat(100)}`, {}, 400, /repeated more than 16 times/],
  ['segments: unknown marker', 'GET', '/v1/segments?marker=nope', {}, 400, /Marker 'nope' could not be found/],
  ['segments: bad limit', 'GET', '/v1/segments?limit=-3', {}, 400, /limit must be >= 0/],
  ['segments: bad sort key', 'GET', '/v1/segments?sort_key=colour', {}, 400, /Sort key supplied is invalid/],
  ['hosts: on_maintenance not a boolean', 'GET', '/v1/segments/SEGMENT/hosts?on_maintenance=maybe', {}, 400, /Invalid value for on_maintenance/],
  ['hosts: NUL in a filter', 'GET', '/v1/segments/SEGMENT/hosts?type=%00', {}, 400, /control character/],
];

const said = (res: { json: any; text: string }) =>
  res.json?.receipts
    ? String(res.json.receipts[0]?.reason ?? '')
    : res.json
      ? String((Object.values(res.json)[0] as any)?.message ?? JSON.stringify(res.json))
      : res.text;

t.test('each hostile request: the same precise answer on both stores, nothing stored or learned, short log lines', async (t) => {
  const { hooks } = await startBothStores(t);
  const answers = new Map<string, string[]>();
  for (const { store, hook } of hooks) {
    const segment = (await hook.request('GET', '/v1/segments')).json.segments[0].uuid;
    for (const [what, method, path, opts, status, message] of CASES) {
      const res = await hook.request(method, path.replace('SEGMENT', segment), opts);
      t.equal(res.status, status, `${store}: ${what} → ${status}`);
      t.match(said(res), message, `${store}: ${what}: ${said(res).slice(0, 160)}`);
      if (res.status >= 400)
        t.equal(Object.values(res.json)[0] && (Object.values(res.json)[0] as any).code, res.status, `${store}: ${what}: Masakari's error body`);
      answers.set(what, [...(answers.get(what) ?? []), res.status === 200 ? '200' : `${res.status} ${said(res)}`]);
    }
    const listed = (await hook.request('GET', '/v1/notifications')).json.notifications;
    t.same(
      listed.map((n: any) => n.source_host_uuid),
      [HOST_2.uuid],
      `${store}: one notification stored, by uuid`,
    );
    const hosts = (await hook.request('GET', `/v1/segments/${segment}/hosts`)).json.hosts.map((h: any) => h.name);
    t.same(hosts, ['host-1', 'host-2', 'host-3'], `${store}: no host learned from labels`);
    const longest = Math.max(...hook.logger.lines.map((l) => JSON.stringify(l).length));
    t.ok(longest < 4096, `${store}: the longest log line has ${longest} characters`);
  }
  if (hooks.length === 2) for (const [what, [a, b]] of answers) t.equal(b, a, `same answer on both stores: ${what}`);
});

t.test('valid webhooks mixed with poison ones, concurrently: every valid one acknowledged and stored, on both stores', async (t) => {
  const { hooks } = await startBothStores(t);
  const VALID = 150;
  const POISON = 150;
  for (const { store, hook, pool } of hooks) {
    const vms = [...Array(VALID)].map((_, i) => pool.addVm(`stream-${i}`, null).uuid);
    const poison = (i: number) => {
      const kinds = [
        hostAlert({ host_name: `host-1\u0000${i}` }),
        hostAlert({ host_uuid: `${HOST_1.uuid}\u0000` }),
        hostAlert({ xcp_notification_type: 'COMPUTE_INSTANCE', vm_uuid: `x\u0000${i}` }),
        hostAlert({}, { fingerprint: `\u0000${i}` }),
        hostAlert({ pool_name: `pool-${i}` }),
      ];
      return webhook(kinds[i % kinds.length]);
    };
    const valid = (i: number) =>
      webhook(
        hostAlert({ xcp_notification_type: 'COMPUTE_INSTANCE', vm_uuid: vms[i]!, host_name: 'host-2', host_uuid: HOST_2.uuid }, { fingerprint: `valid-${i}` }),
      );
    const order = [...[...Array(VALID)].map((_, i) => ['valid', i] as const), ...[...Array(POISON)].map((_, i) => ['poison', i] as const)].sort(
      () => Math.random() - 0.5,
    );
    const started = Date.now();
    const results = await Promise.all(
      order.map(async ([kind, i]) => ({ kind, i, res: await hook.request('POST', '/alertmanager', { body: kind === 'valid' ? valid(i) : poison(i) }) })),
    );
    const seconds = (Date.now() - started) / 1000;
    const acked = results.filter((r) => r.kind === 'valid' && r.res.status === 202 && r.res.json.receipts[0].outcome === 'created');
    const poisonAnswers = results.filter((r) => r.kind === 'poison').map((r) => `${r.res.status} ${r.res.json?.receipts?.[0]?.outcome}`);
    t.equal(
      acked.length,
      VALID,
      `${store}: ${acked.length}/${VALID} valid webhooks acknowledged (created), ${POISON} poison ones mixed in, ${seconds.toFixed(1)} s`,
    );
    t.same([...new Set(poisonAnswers)], ['202 invalid'], `${store}: every poison webhook gets 202 with an invalid receipt (never 5xx: no endless re-send)`);
    const stored = new Set<string>();
    for (let marker: number | undefined; ; ) {
      const page = (await hook.request('GET', `/v1/notifications?type=COMPUTE_INSTANCE&sort_key=id&sort_dir=asc&limit=100${marker ? `&marker=${marker}` : ''}`))
        .json.notifications;
      for (const n of page) stored.add(n.notification_uuid);
      if (page.length < 100) break;
      marker = page.at(-1).id;
    }
    t.ok(
      acked.every((r) => stored.has(r.res.json.receipts[0].notification_uuid)),
      `${store}: every acknowledged notification is stored (${stored.size})`,
    );
    t.equal(stored.size, VALID, `${store}: and nothing else`);
    // No notification is left `running`: every workflow of the stream ends.
    const deadline = Date.now() + 60_000;
    let counts: Record<string, number> = {};
    while (Date.now() < deadline) {
      counts = (await hook.request('GET', '/health')).json.notifications;
      if (!counts.new && !counts.running) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    t.equal((counts.new ?? 0) + (counts.running ?? 0), 0, `${store}: no notification stuck new or running (${JSON.stringify(counts)})`);
  }
});

t.test('a poison delivery in a group commit fails alone; its neighbours commit (PostgreSQL refuses NUL, SQLite keeps it)', async (t) => {
  const stores: [string, () => Promise<NotificationStore>][] = [['sqlite', async () => new SqliteNotificationStore(':memory:')]];
  if (!postgresSkip) {
    const server = await startPostgres();
    t.teardown(() => server.stop());
    const url = await server.createDatabase();
    stores.push([
      'postgres',
      () => PostgresNotificationStore.open({ url: new Secret(url), poolSize: 4, connectTimeoutMs: 3000, statementTimeoutMs: 5000 }, memoryLogger()),
    ]);
  }
  for (const [name, open] of stores) {
    const store = await open();
    t.teardown(() => store.close());
    const recorder = new NotificationRecorder({ store, metrics: createRecoveryMetrics(store), events: () => [], dedupWindowMs: 0, now: Date.now });
    const input = (i: number, hostName = `host-${i}`): NewNotification => ({
      type: 'COMPUTE_HOST',
      hostUuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      hostName,
      poolName: 'pool-a',
      generatedAt: Date.now(),
      payload: { event: 'STOPPED' },
      source: 'alertmanager',
      replayKey: `k${i}`,
    });
    // One event-loop turn: the deliveries are grouped in one commit; the 5th bypasses the validator with a NUL.
    const outcomes = await Promise.allSettled([...Array(10)].map((_, i) => recorder.recordDelivery([input(i, i === 4 ? 'bad\u0000host' : `host-${i}`)])));
    const fulfilled = outcomes.filter((o) => o.status === 'fulfilled').length;
    if (name === 'postgres') {
      t.equal(fulfilled, 9, 'postgres: the nine neighbours commit');
      const failure = (outcomes[4] as PromiseRejectedResult).reason;
      t.ok(failure instanceof StoreError && failure.refusedInput, 'postgres: the poison one fails alone, as refused input (answered 400, not 503)');
    } else t.equal(fulfilled, 10, 'sqlite: all ten commit');
    t.equal((await store.list({}, { limit: 100, sort: [{ key: 'id', dir: 'asc' }] })).length, fulfilled, `${name}: what was acknowledged is stored`);
  }
});
