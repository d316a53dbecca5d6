// The Masakari-compatible API: shapes of the upstream samples, every 4xx with its JSON body, auth, body limit.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { TokenAuthenticator } from '../../recovery-hooks/intake/auth.js';
import { HOST_1, HOST_2, HOST_3, type Hook, TOKEN, startHook, tempDir, testConfig } from './helpers/harness.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/masakari/${name}`, import.meta.url), 'utf8'));
const recent = () => new Date(Date.now() - 1000).toISOString();

/** A sample request re-pointed at one of our hosts and a current time. */
function sample(name: string, host = HOST_1): any {
  const req = fixture(name);
  req.notification.hostname = host.name;
  req.notification.generated_time = recent();
  return req;
}

let hook: Hook;
t.before(async () => {
  // Only the first task of each workflow: no XAPI client is needed for these API tests.
  hook = await startHook(
    testConfig(tempDir(), '  workflows: { host: [confirm_host_down], instance: [check_instance], process: [check_toolstack] }\n  max_body_bytes: 2048\n'),
  );
});
t.teardown(() => hook.stop());

t.test("version discovery needs no token and has the samples' shape", async (t) => {
  const root = await hook.request('GET', '/', { auth: false });
  t.equal(root.status, 200);
  t.same(Object.keys(root.json.versions[0]).sort(), Object.keys(fixture('versions__versions-get-resp.json').versions[0]).sort());
  const v1 = await hook.request('GET', '/v1', { auth: false });
  t.same(Object.keys(v1.json.version).sort(), Object.keys(fixture('versions__v1-version-get-resp.json').version).sort());
  t.equal(v1.json.version.links[0].href, `${hook.url}/v1/`);
  t.match(v1.json.version, { min_version: '1.0', version: '1.3', status: 'CURRENT' });
});

t.test('create: the three upstream sample requests answer 202 with the sample response keys', async (t) => {
  // Host and process recoveries put their host on maintenance: one host each.
  for (const [kind, host] of [
    ['vm', HOST_1],
    ['host', HOST_2],
    ['process', HOST_3],
  ] as const) {
    const res = await hook.request('POST', '/v1/notifications', { body: sample(`notifications__${kind}-notification-create-req.json`, host) });
    t.equal(res.status, 202, kind);
    const expected = fixture(`notifications__${kind}-notification-create-resp.json`).notification;
    for (const key of Object.keys(expected)) t.ok(key in res.json.notification, `${kind}: ${key}`);
    t.match(res.json.notification, { status: 'new', source_host_uuid: host.uuid, updated_at: null, deleted: false, payload: expected.payload });
    t.match(res.json.notification.generated_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
  }
  const list = await hook.request('GET', '/v1/notifications?type=VM');
  t.match(list.json.notifications, [{ type: 'COMPUTE_INSTANCE' }], 'upstream type names filter too');
});

t.test('show: recovery_workflow_details from microversion 1.1, by either header', async (t) => {
  const created = await hook.request('POST', '/v1/notifications', {
    body: {
      notification: {
        type: 'VM',
        hostname: HOST_1.name,
        generated_time: recent(),
        payload: { instance_uuid: '96ab1c42-668c-4f2d-8689-afa3301d4ee9', vir_domain_event: 'STARTED_BOOTED', event: 'STARTED' },
      },
    },
  });
  const id = created.json.notification.notification_uuid;
  const plain = await hook.request('GET', `/v1/notifications/${id}`);
  t.notOk('recovery_workflow_details' in plain.json.notification);
  t.equal(plain.headers.get('openstack-api-version'), 'instance-ha 1.0');
  for (const headers of [{ 'OpenStack-API-Version': 'instance-ha 1.1' }, { 'X-OpenStack-Masakari-API-Version': '1.2' }] as Record<string, string>[]) {
    const res = await hook.request('GET', `/v1/notifications/${id}`, { headers });
    t.ok(Array.isArray(res.json.notification.recovery_workflow_details));
  }
});

t.test('segments and hosts are read-only views of the configured pools', async (t) => {
  const segs = await hook.request('GET', '/v1/segments', { headers: { 'OpenStack-API-Version': 'instance-ha 1.2' } });
  t.same(Object.keys(segs.json.segments[0]).sort(), Object.keys(fixture('segments__segments-list-resp.json').segments[0]).sort());
  const seg = segs.json.segments[0];
  t.equal(seg.name, 'pool-a');
  const hosts = await hook.request('GET', `/v1/segments/${seg.uuid}/hosts`);
  t.same(Object.keys(hosts.json.hosts[0]).sort(), Object.keys(fixture('hosts__hosts-list-resp.json').hosts[0]).sort());
  t.same(
    hosts.json.hosts.map((h: any) => h.name),
    ['host-1', 'host-2', 'host-3'],
  );
  const one = await hook.request('GET', `/v1/segments/${seg.uuid}/hosts/${HOST_1.uuid}`);
  t.equal(one.json.host.name, 'host-1');
  for (const [method, path] of [
    ['POST', '/v1/segments'],
    ['PUT', `/v1/segments/${seg.uuid}`],
    ['DELETE', `/v1/segments/${seg.uuid}`],
    ['POST', `/v1/segments/${seg.uuid}/hosts`],
    ['PUT', `/v1/segments/${seg.uuid}/hosts/${HOST_1.uuid}`],
    ['DELETE', `/v1/segments/${seg.uuid}/hosts/${HOST_1.uuid}`],
  ] as const) {
    const res = await hook.request(method, path, { body: {} });
    t.equal(res.status, 405, `${method} ${path}`);
    t.match(res.json, { badMethod: { code: 405, message: /read-only/ } });
  }
});

t.test("every 4xx answers JSON in Masakari's error shape", async (t) => {
  const good = () => sample('notifications__host-notification-create-req.json');
  const cases: [string, string, { body?: unknown; raw?: string; headers?: Record<string, string>; auth?: boolean }, number, string, RegExp][] = [
    ['POST', '/v1/notifications', { raw: '{not json', headers: { 'Content-Type': 'application/json' } }, 400, 'badRequest', /not valid JSON/],
    ['POST', '/v1/notifications', { raw: '', headers: { 'Content-Type': 'application/json' } }, 400, 'badRequest', /empty/],
    ['POST', '/v1/notifications', { raw: JSON.stringify(good()), headers: { 'Content-Type': 'text/plain' } }, 415, 'badMediaType', /Unsupported Content-Type/],
    ['POST', '/v1/notifications', { body: { ...good(), extra: 1 } }, 400, 'badRequest', /Additional properties are not allowed \('extra' was unexpected\)/],
    ['POST', '/v1/notifications', { body: { notification: { ...good().notification, foo: 1 } } }, 400, 'badRequest', /'foo' was unexpected/],
    ['POST', '/v1/notifications', { body: { notification: { ...good().notification, type: 'DISK' } } }, 400, 'badRequest', /'DISK' is not one of/],
    ['POST', '/v1/notifications', { body: { notification: { hostname: 'host-1' } } }, 400, 'badRequest', /is a required property/],
    [
      'POST',
      '/v1/notifications',
      { body: { notification: { ...good().notification, generated_time: 'yesterday' } } },
      400,
      'badRequest',
      /is not a 'date-time'/,
    ],
    [
      'POST',
      '/v1/notifications',
      { body: { notification: { ...good().notification, payload: { event: 'EXPLODED' } } } },
      400,
      'badRequest',
      /field\/attribute payload\/event/,
    ],
    [
      'POST',
      '/v1/notifications',
      { body: { notification: { ...good().notification, payload: { event: 'STOPPED', why: 'x' } } } },
      400,
      'badRequest',
      /'why' was unexpected/,
    ],
    [
      'POST',
      '/v1/notifications',
      { body: { notification: { ...good().notification, type: 'VM', payload: { instance_uuid: 'nope', vir_domain_event: 'X', event: 'Y' } } } },
      400,
      'badRequest',
      /is not a 'uuid'/,
    ],
    [
      'POST',
      '/v1/notifications',
      { body: { notification: { ...good().notification, hostname: 'ghost' } } },
      400,
      'badRequest',
      /Host with name ghost could not be found/,
    ],
    [
      'POST',
      '/v1/notifications',
      { raw: JSON.stringify({ notification: { ...good().notification, pad: 'x'.repeat(4096) } }), headers: { 'Content-Type': 'application/json' } },
      413,
      'overLimit',
      /larger than 2048 bytes/,
    ],
    ['GET', '/v1/notifications?limit=x', {}, 400, 'badRequest', /limit must be an integer/],
    ['GET', '/v1/notifications?limit=-1', {}, 400, 'badRequest', /limit must be >= 0/],
    ['GET', '/v1/notifications?marker=999', {}, 400, 'badRequest', /Marker 999 could not be found/],
    ['GET', '/v1/notifications?marker=abc', {}, 400, 'badRequest', /Marker abc could not be found/],
    ['GET', '/v1/notifications?sort_key=colour', {}, 400, 'badRequest', /Sort key supplied is invalid: colour/],
    ['GET', '/v1/notifications?sort_dir=up', {}, 400, 'badRequest', /Unknown sort direction/],
    ['GET', '/v1/notifications?sort_key=type&sort_dir=asc&sort_dir=desc', {}, 400, 'badRequest', /Sort direction size exceeds sort key size/],
    ['GET', '/v1/notifications?generated-since=soon', {}, 400, 'badRequest', /Invalid generated-since value/],
    ['GET', '/v1/notifications/not-a-uuid', {}, 404, 'itemNotFound', /No notification with id not-a-uuid/],
    ['GET', '/v1/notifications/0b1f2a38-0000-4000-8000-000000000000', {}, 404, 'itemNotFound', /No notification with id/],
    ['GET', '/v1/notifications', { headers: { 'OpenStack-API-Version': 'instance-ha 2.0' } }, 406, 'notAcceptable', /Minimum is 1.0 and maximum is 1.3/],
    ['GET', '/v1/notifications', { headers: { 'OpenStack-API-Version': 'instance-ha one' } }, 400, 'badRequest', /format is not valid/],
    ['GET', '/v1/segments/0b1f2a38-0000-4000-8000-000000000000', {}, 404, 'itemNotFound', /segment .* could not be found/],
    ['GET', '/v1/nothing-here', {}, 404, 'itemNotFound', /No resource/],
    ['DELETE', '/v1/notifications', {}, 405, 'badMethod', /not allowed/],
    ['GET', '/v1/notifications', { auth: false }, 401, 'unauthorized', /Authentication required/],
    ['GET', '/v1/notifications', { auth: false, headers: { 'X-Auth-Token': 'wrong' } }, 401, 'unauthorized', /not valid/],
    ['GET', '/v1/notifications', { auth: false, headers: { Authorization: `Basic ${TOKEN}` } }, 401, 'unauthorized', /Authentication required/],
    ['POST', '/alertmanager', { auth: false, body: { alerts: [] } }, 401, 'unauthorized', /Authentication required/],
    ['POST', '/alertmanager', { body: { receiver: 'x' } }, 400, 'badRequest', /"alerts" must be a list/],
    ['POST', '/alertmanager', { body: { version: '3', alerts: [] } }, 400, 'badRequest', /unsupported webhook payload version/],
    ['POST', '/alertmanager', { body: [] }, 400, 'badRequest', /expected a JSON object/],
    ['GET', '/alertmanager', {}, 405, 'badMethod', /not allowed/],
  ];
  for (const [method, path, opts, status, fault, message] of cases) {
    const res = await hook.request(method, path, opts);
    t.equal(res.status, status, `${method} ${path} → ${status}`);
    t.match(res.headers.get('content-type'), /application\/json/, `${method} ${path}: JSON body`);
    t.match(res.json, { [fault]: { code: status, message } }, `${method} ${path}: ${fault}`);
  }
  const unauth = await hook.request('GET', '/v1/notifications', { auth: false });
  t.match(unauth.headers.get('www-authenticate'), /^Bearer/);
});

t.test('409: duplicate notification, and a host on maintenance', async (t) => {
  const body = sample('notifications__vm-notification-create-req.json');
  body.notification.payload.vir_domain_event = 'STOPPED_SHUTDOWN';
  t.equal((await hook.request('POST', '/v1/notifications', { body })).status, 202);
  const dup = await hook.request('POST', '/v1/notifications', { body });
  t.equal(dup.status, 409);
  t.match(dup.json, { conflictingRequest: { code: 409, message: 'Duplicate notification received for type: COMPUTE_INSTANCE' } });
  // host-2 is on maintenance since its host recovery started (it waits for a retry: no XAPI client in this test).
  const onMaintenance = await hook.request('POST', '/v1/notifications', { body: sample('notifications__vm-notification-create-req.json', HOST_2) });
  t.equal(onMaintenance.status, 409);
  t.match(onMaintenance.json, { conflictingRequest: { code: 409, message: /host-2 .* is ignored as the host is already under maintenance/ } });
  const hosts = await hook.request('GET', `/v1/segments/${(await hook.request('GET', '/v1/segments')).json.segments[0].uuid}/hosts`);
  t.match(
    hosts.json.hosts.find((h: any) => h.name === 'host-2'),
    { on_maintenance: true },
  );
});

t.test('segments and hosts lists: limit and marker page, sort_key/sort_dir order, filters filter', async (t) => {
  const seg = (await hook.request('GET', '/v1/segments?limit=1&recovery_method=auto&service_type=COMPUTE')).json.segments[0];
  t.equal(seg.name, 'pool-a');
  t.same((await hook.request('GET', `/v1/segments?marker=${seg.id}`)).json.segments, [], 'after the last segment: an empty page');
  t.same((await hook.request('GET', '/v1/segments?enabled=false', { headers: { 'OpenStack-API-Version': 'instance-ha 1.2' } })).json.segments, []);
  const names = async (q: string) => (await hook.request('GET', `/v1/segments/${seg.uuid}/hosts?${q}`)).json.hosts.map((h: any) => h.name);
  t.same(await names('sort_key=name&sort_dir=desc'), ['host-3', 'host-2', 'host-1']);
  const all = (await hook.request('GET', `/v1/segments/${seg.uuid}/hosts`)).json.hosts as { name: string; on_maintenance: boolean }[];
  const busy = all.filter((h) => h.on_maintenance).map((h) => h.name);
  const idle = all.filter((h) => !h.on_maintenance).map((h) => h.name);
  t.ok(busy.length && idle.length, `hosts on maintenance (${busy}) and not (${idle}) from the tests above`);
  t.same(await names('sort_key=on_maintenance&sort_key=name&sort_dir=desc&sort_dir=asc'), [...busy, ...idle], 'on maintenance first, then by name');
  const first = (await hook.request('GET', `/v1/segments/${seg.uuid}/hosts?limit=1`)).json.hosts[0];
  t.same(await names(`limit=1&marker=${first.id}`), ['host-2'], 'marker: the id of the last host seen');
  t.same(await names(`limit=5&marker=${first.uuid}`), ['host-2', 'host-3'], 'or its uuid');
  t.same(await names('on_maintenance=True'), busy);
  t.same(await names('on_maintenance=0&reserved=no&type=COMPUTE_HOST'), idle);
  t.same(await names(`failover_segment_id=${seg.uuid}&limit=0`), []);
});

t.test('both auth headers work; Bearer is case-insensitive', async (t) => {
  t.equal((await hook.request('GET', '/v1/notifications', { auth: false, headers: { Authorization: `Bearer ${TOKEN}` } })).status, 200);
  t.equal((await hook.request('GET', '/v1/notifications', { auth: false, headers: { Authorization: `bearer ${TOKEN}` } })).status, 200);
  t.equal((await hook.request('GET', '/v1/notifications', { auth: false, headers: { 'X-Auth-Token': TOKEN } })).status, 200);
  t.equal((await hook.request('GET', '/v1/notifications', { auth: false, headers: { 'X-Auth-Token': TOKEN + 'x' } })).status, 401);
});

t.test('token comparison: digests with timingSafeEqual against every token', async (t) => {
  const source = readFileSync(new URL('../../recovery-hooks/intake/auth.ts', import.meta.url), 'utf8');
  t.match(source, /digestsMatch\(presented, t\.digest\)/, 'each configured token is compared through core/tokens.ts');
  const tokens = readFileSync(new URL('../../core/tokens.ts', import.meta.url), 'utf8');
  t.match(tokens, /timingSafeEqual\(presented, expected\)/, 'constant-time compare of equal-length SHA-256 digests');
  const { tokenMatches } = await import('../../core/tokens.js');
  t.ok(tokenMatches('s3cret', 's3cret'));
  t.notOk(tokenMatches('s3cre', 's3cret'), 'a prefix does not match (and tokens of other lengths compare without throwing)');
  const { Secret } = await import('../../core/config/secret.js');
  const auth = new TokenAuthenticator([
    { name: 'am', token: new Secret('alpha'), scopes: ['alertmanager'] },
    { name: 'ops', token: new Secret('beta'), scopes: ['notifications:read', 'fence:confirm'] },
  ]);
  t.same(auth.authenticate({ authorization: 'Bearer beta' }), { name: 'ops', scopes: ['notifications:read', 'fence:confirm'] });
  t.same(auth.authenticate({ 'x-auth-token': 'alpha' }), { name: 'am', scopes: ['alertmanager'] });
  t.throws(() => auth.authenticate({ 'x-auth-token': 'alph' }), { name: 'ApiError', message: 'The token is not valid' });
});

t.test('health and metrics are public', async (t) => {
  const health = await hook.request('GET', '/health', { auth: false });
  t.match(health.json, { status: 'ok', notifications: { new: Number } });
  const metrics = await hook.request('GET', '/metrics', { auth: false });
  t.match(metrics.text, /xcp_recovery_notifications\{status="new"\}/);
  t.match(metrics.text, /xcp_recovery_webhooks_total\{outcome="rejected"\} \d+/);
  t.match(metrics.text, /xcp_recovery_notifications_total\{type="COMPUTE_HOST",status="new"\} \d+/);
});

t.test('secrets are never logged', async (t) => {
  t.notMatch(JSON.stringify(hook.logger.lines), TOKEN);
});
