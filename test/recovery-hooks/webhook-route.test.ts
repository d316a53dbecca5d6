// The webhook's direct route (intake/webhook-route.ts, node:http before Koa) answers exactly as the Koa route does:
// the same request to the exact path (direct) and to the path with a trailing slash (Koa's router) gets the same
// status, body and headers — for a missing or wrong token, a token without the scope, bad bodies, and a good one.
import t from 'tap';
import { Secret } from '../../core/config/secret.js';
import { type Hook, startHook, tempDir, testConfig } from './helpers/harness.js';

let hook: Hook;
t.before(async () => {
  const config = testConfig(tempDir(), '      mode: dry-run\n');
  config.recovery_hook.tokens.push({ name: 'reader', token: new Secret('reader-token-0123456789'), scopes: ['notifications:read'] });
  hook = await startHook(config);
});
t.teardown(() => hook.stop());

const alert = (fingerprint: string) => ({
  status: 'firing',
  labels: { alertname: 'X', xcp_notification_type: 'COMPUTE_HOST', pool_name: 'pool-a', host_name: 'nowhere' },
  startsAt: new Date(Date.now() - 1000).toISOString(),
  fingerprint,
});

const cases: [string, { body?: unknown; raw?: string; headers?: Record<string, string>; auth?: boolean }][] = [
  ['no token', { auth: false, body: { alerts: [] } }],
  ['a wrong token', { auth: false, headers: { Authorization: 'Bearer nope' }, body: { alerts: [] } }],
  ['a token without the alertmanager scope', { auth: false, headers: { 'X-Auth-Token': 'reader-token-0123456789' }, body: { alerts: [] } }],
  ['text/plain', { raw: '{"alerts": []}', headers: { 'Content-Type': 'text/plain' } }],
  ['an empty body', { raw: ' \n', headers: { 'Content-Type': 'application/json' } }],
  ['malformed JSON', { raw: '{"alerts": [', headers: { 'Content-Type': 'application/json' } }],
  ['nested too deep', { raw: `{"alerts": [], "x": ${'['.repeat(40)}${']'.repeat(40)}}`, headers: { 'Content-Type': 'application/json' } }],
  ['brackets inside strings with escaped quotes', { raw: `{"alerts": [], "x": "\\"${'['.repeat(40)}\\\\"}`, headers: { 'Content-Type': 'application/json' } }],
  ['no alerts list', { body: { version: '4' } }],
  ['a wrong version', { body: { version: '3', alerts: [] } }],
  ['an alert with a control character in a label', { body: { alerts: [{ ...alert('c1'), labels: { alertname: 'a\u0001b' } }] } }],
  ['an alert with an unknown host', { body: { version: '4', alerts: [alert('f1'), alert('f2')] } }],
];

for (const [name, request] of cases)
  t.test(`${name}: the direct route answers as Koa's`, async (t) => {
    const direct = await hook.request('POST', '/alertmanager', request);
    const koa = await hook.request('POST', '/alertmanager/', request);
    t.equal(direct.status, koa.status, 'status');
    t.same(direct.json, koa.json, 'body');
    for (const header of ['content-type', 'www-authenticate', 'retry-after']) t.equal(direct.headers.get(header), koa.headers.get(header), header);
    t.ok(direct.json && typeof direct.json === 'object', 'a JSON body');
  });

t.test('a token without the scope is refused however the path is spelled (Koa matches any case, a trailing slash)', async (t) => {
  const reader = { 'X-Auth-Token': 'reader-token-0123456789' };
  for (const [method, path] of [
    ['POST', '/alertmanager/'],
    ['POST', '/ALERTMANAGER'],
    ['POST', '/Alertmanager/'],
    ['POST', '/V1/Notifications'],
    ['POST', '/v1/NOTIFICATIONS/'],
    ['POST', '/v1/notifications/x/CONFIRM-FENCED'],
  ]) {
    const res = await hook.request(method!, path!, { auth: false, headers: reader, body: { alerts: [] } });
    t.equal(res.status, 403, `${method} ${path}`);
  }
});

t.test('a query string still reaches the webhook; other methods are answered by Koa (405)', async (t) => {
  const res = await hook.request('POST', '/alertmanager?from=am', { body: { version: '4', alerts: [alert('q1')] } });
  t.equal(res.status, 202);
  t.equal(res.json.receipts[0].fingerprint, 'q1');
  const get = await hook.request('GET', '/alertmanager');
  t.equal(get.status, 405);
  t.match(get.json, { badMethod: { code: 405 } });
});
