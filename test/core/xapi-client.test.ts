import t from 'tap';
import { HttpError, TimeoutError, XapiError, errorKind } from '../../core/errors.js';
import { Secret } from '../../core/config/secret.js';
import { memoryLogger } from '../../core/log.js';
import { XapiClient } from '../../core/xapi/client.js';
import { startSim } from '../helpers/sim.js';

const sim = await startSim();
t.teardown(() => sim.stop());
const member = sim.pool.hosts[1]!;
const memberUrl = sim.server.urlOf(member);

const client = (over: Partial<ConstructorParameters<typeof XapiClient>[0]> = {}) =>
  new XapiClient({ url: sim.url, username: 'root', password: new Secret('simulated'), loginTimeoutMs: 6000, callTimeoutMs: 3000, ...over });

t.test('logs in on the master and reads records', async (t) => {
  const c = client();
  t.teardown(() => c.logout());
  const hosts = await c.getAllRecords<{ name_label: string; address: string }>('host');
  t.same(
    Object.values(hosts)
      .map((h) => h.name_label)
      .sort(),
    ['xcp-host-01', 'xcp-host-02', 'xcp-host-03'],
  );
  t.match(c.sessionId, /^OpaqueRef:/);
  t.ok(sim.pool.sessions.has(c.sessionId!), 'the session is known to the pool');
  const poolRef = (await c.call<string[]>('pool.get_all'))[0];
  t.equal(await c.call('pool.get_name_label', poolRef), 'sim-pool');
});

t.test('follows HOST_IS_SLAVE from a member to the master', async (t) => {
  const logger = memoryLogger();
  const c = client({ url: memberUrl, logger });
  t.teardown(() => c.logout());
  await c.login();
  t.equal(c.masterUrl, sim.url, 'now talks to the master');
  t.ok(logger.lines.some((l) => l.msg === 'XAPI host is a pool member, following to the master' && l.master === sim.pool.master.address));
  t.type(await c.call('host.get_all'), Array);
});

t.test('logs in again once when the session expired', async (t) => {
  const c = client();
  t.teardown(() => c.logout());
  await c.login();
  const first = c.sessionId;
  sim.pool.expireSessions();
  const vms = await c.call<string[]>('VM.get_all');
  t.ok(vms.length > 0, 'the call succeeded after re-login');
  t.not(c.sessionId, first, 'a new session was opened');
});

t.test('concurrent calls share one login', async (t) => {
  const c = client();
  t.teardown(() => c.logout());
  const before = sim.pool.sessions.size;
  await Promise.all(Array.from({ length: 10 }, () => c.call('host.get_all')));
  t.equal(sim.pool.sessions.size, before + 1);
});

t.test('bad credentials: SESSION_AUTHENTICATION_FAILED after XAPI delay, never a timeout', async (t) => {
  const c = client({ password: new Secret('wrong'), loginTimeoutMs: 6000 });
  const started = Date.now();
  const err = await c.login().then(
    () => null,
    (e: unknown) => e,
  );
  t.type(err, XapiError);
  t.equal((err as XapiError).code, 'SESSION_AUTHENTICATION_FAILED');
  t.same((err as XapiError).params, ['root', 'Authentication failure']);
  t.ok(Date.now() - started >= 190, 'the failure arrived after the delay');
  t.notMatch(String((err as Error).message), /wrong/, 'the password is not in the error');
  c.http.close();
});

t.test('a call that takes too long fails with TimeoutError, and the next one works', async (t) => {
  const c = client({ callTimeoutMs: 300 });
  t.teardown(() => c.logout());
  await c.login();
  sim.pool.master.slowMs = 1000;
  const err = await c.call('host.get_all').catch((e: unknown) => e);
  sim.pool.master.slowMs = 0;
  t.type(err, TimeoutError);
  t.equal((err as TimeoutError).timeoutMs, 300);
  t.type(await c.call('host.get_all'), Array);
});

t.test('typed XAPI errors carry the code and parameters', async (t) => {
  const c = client();
  t.teardown(() => c.logout());
  const err = await c.call('VM.get_record', 'OpaqueRef:nope').catch((e: unknown) => e);
  t.type(err, XapiError);
  t.equal((err as XapiError).code, 'HANDLE_INVALID');
  t.same((err as XapiError).params, ['VM', 'OpaqueRef:nope']);
  t.equal((err as XapiError).method, 'VM.get_record');
});

t.test('a dead master fails fast when it refuses, with a connection error', async (t) => {
  const c = client({ callTimeoutMs: 2000 });
  t.teardown(() => c.logout());
  await c.login();
  sim.pool.killToolstack(sim.pool.master);
  await sim.server.sync();
  // The kept-alive connection is reset; a new one is refused.
  const reset = await c.call('host.get_all').catch((e: unknown) => e);
  const refused = await c.call('host.get_all').catch((e: unknown) => e);
  sim.pool.restartToolstack(sim.pool.master);
  await sim.server.sync();
  t.type(reset, HttpError);
  t.equal(errorKind(reset), 'connection');
  t.equal((refused as { code?: string }).code, 'ECONNREFUSED');
  t.type(await c.call('host.get_all'), Array, 'works again once the toolstack is back');
});

t.test('logout closes the session on the pool', async (t) => {
  const c = client();
  await c.login();
  const ref = c.sessionId!;
  await c.logout();
  t.notOk(sim.pool.sessions.has(ref));
  t.equal(c.sessionId, undefined);
});
