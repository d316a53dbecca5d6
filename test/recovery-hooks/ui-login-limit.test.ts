// The web UI's login limit: wrong tokens counted per client (bounded memory, windows, IPv6 /64, trusted proxies), and
// on a running receiver: 429 with Retry-After (HTML and JSON) for the client that guessed, the right token refused too
// until its window ends and accepted after it, other clients unaffected, and X-Forwarded-For believed only from a
// trusted proxy. Clients are told apart by their source address: 127.0.0.1, 127.0.0.2 and 127.0.0.3 all reach the
// receiver on loopback.
import { request } from 'node:http';
import t from 'tap';
import { ConfigError } from '../../core/config/load.js';
import { LoginLimiter, loginClient } from '../../recovery-hooks/ui/login-limit.js';
import { TOKEN, startHook, tempDir, testConfig } from './helpers/harness.js';

t.test('failures are counted per client within a window; memory stays bounded', async (t) => {
  let now = 1_000_000;
  const limiter = new LoginLimiter({ maxFailures: 3, windowMs: 60_000, maxClients: 3, now: () => now });
  t.equal(limiter.retryAfterSeconds('a'), 0, 'unknown client');
  t.equal(limiter.failed('a'), 1);
  now += 10_000;
  t.equal(limiter.failed('a'), 2);
  t.equal(limiter.retryAfterSeconds('a'), 0, 'below the limit');
  t.equal(limiter.failed('a'), 3);
  t.equal(limiter.retryAfterSeconds('a'), 50, 'until the window (from the first failure) ends');
  now += 49_001;
  t.equal(limiter.retryAfterSeconds('a'), 1, 'rounded up');
  t.equal(limiter.retryAfterSeconds('b'), 0, 'another client is not limited');
  now += 999;
  t.equal(limiter.retryAfterSeconds('a'), 0, 'the window ended');
  t.equal(limiter.failed('a'), 1, 'a new window');

  // Bounded: three clients at most. Ended windows go first, then the client whose last failure is oldest.
  now += 30_000;
  limiter.failed('b');
  now += 1000;
  limiter.failed('c');
  t.equal(limiter.size, 3);
  now += 30_500; // a's window (61.5 s ago) has ended; b's (31.5 s) and c's have not
  limiter.failed('d');
  t.equal(limiter.size, 3, 'never more than maxClients');
  t.equal(limiter.failed('a'), 1, 'a was forgotten (its window had ended)');
  t.equal(limiter.failed('b'), 1, 'then b, the oldest last failure, to make room for a');
  t.equal(limiter.size, 3);
  for (let i = 0; i < 1000; i++) limiter.failed(`flood-${i}`);
  t.equal(limiter.size, 3, 'a flood of clients keeps it at maxClients');
});

t.test('the client of a login: its address, its /64, or what a trusted proxy says', async (t) => {
  t.equal(loginClient('192.0.2.7', undefined, []), '192.0.2.7');
  t.equal(loginClient('::ffff:192.0.2.7', undefined, []), '192.0.2.7', 'IPv4-mapped');
  t.equal(loginClient('2001:db8:1:2:aaaa::1', undefined, []), '2001:db8:1:2::/64');
  t.equal(loginClient('2001:DB8:1:2:bbbb:cccc:dddd:eeee', undefined, []), '2001:db8:1:2::/64', 'the same /64');
  t.equal(loginClient('2001:db8::1', undefined, []), '2001:db8:0:0::/64', ':: expanded');
  t.equal(loginClient('::1', undefined, []), '0:0:0:0::/64');
  t.equal(loginClient('2001:db8:1:3::1', undefined, []), '2001:db8:1:3::/64', 'another /64');
  t.equal(loginClient('192.0.2.7', '203.0.113.9', []), '192.0.2.7', 'X-Forwarded-For from anyone else is ignored');
  t.equal(loginClient('10.0.0.1', '198.51.100.1, 203.0.113.9', ['10.0.0.1']), '203.0.113.9', 'the address the proxy saw');
  t.equal(loginClient('10.0.0.1', '203.0.113.9, 10.0.0.2', ['10.0.0.1', '10.0.0.2']), '203.0.113.9', 'through two proxies');
  t.equal(loginClient('10.0.0.1', 'nonsense', ['10.0.0.1']), '10.0.0.1', 'not an address: the proxy itself');
  t.equal(loginClient('10.0.0.1', '', ['10.0.0.1']), '10.0.0.1');
});

t.test('recovery_hook.ui login keys: defaults, and bad values named', async (t) => {
  const dir = tempDir();
  t.match(testConfig(dir).recovery_hook.ui, { loginMaxFailures: 5, loginWindowMs: 300_000, trustedProxies: [] });
  t.match(testConfig(dir, '  ui: { login_max_failures: 10, login_window_seconds: 30, trusted_proxies: [10.0.0.1, "2001:DB8::1"] }').recovery_hook.ui, {
    loginMaxFailures: 10,
    loginWindowMs: 30_000,
    trustedProxies: ['10.0.0.1', '2001:db8::1'],
  });
  const problems = (ui: string) => {
    try {
      testConfig(dir, `  ui: ${ui}`);
    } catch (e) {
      t.ok(e instanceof ConfigError, `${ui}: refused`);
      return String((e as Error).message);
    }
    return t.fail(`${ui}: accepted`);
  };
  const text = problems('{ login_max_failures: 0, login_window_seconds: 0.5 }');
  for (const key of ['login_max_failures', 'login_window_seconds']) t.match(text, `recovery_hook.ui.${key}`, `names ${key}`);
  t.match(problems('{ trusted_proxies: [10.0.0.1, proxy.example] }'), 'recovery_hook.ui.trusted_proxies[1]: "proxy.example" is not an IP address');
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

t.test('a running receiver: 429 for the guessing client only, until its window ends', async (t) => {
  let skew = 0;
  const hook = await startHook(testConfig(tempDir(), '  ui: { login_max_failures: 3, login_window_seconds: 60, trusted_proxies: [127.0.0.3] }'), {
    now: () => Date.now() + skew,
  });
  t.teardown(() => hook.stop());
  const url = new URL(hook.url);

  /** POST /ui/login from `from` (a loopback source address). */
  const login = (from: string, token: string, headers: Record<string, string> = {}) =>
    new Promise<Answer>((resolve, reject) => {
      const body = new URLSearchParams({ token }).toString();
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: '/ui/login',
          method: 'POST',
          localAddress: from,
          headers: { origin: hook.url, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), ...headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  for (let i = 1; i <= 3; i++) {
    const wrong = await login('127.0.0.1', `guess-${i}`);
    t.equal(wrong.status, 401, `wrong token ${i}: 401`);
    t.match(wrong.body, '<p class="error" role="alert" id="error">The token is not valid</p>');
  }
  const limited = await login('127.0.0.1', 'guess-4');
  t.equal(limited.status, 429, 'beyond the limit: 429');
  const retryAfter = Number(limited.headers['retry-after']);
  t.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After: ${retryAfter} s`);
  t.match(limited.headers['content-type'], /^text\/html/);
  t.match(limited.body, `<p class="error" role="alert" id="error">Too many wrong tokens from this address: try again in ${retryAfter} s</p>`);
  t.match(limited.body, '<form method="post" action="/ui/login">', 'the login page again, in the UI’s style');
  const right = await login('127.0.0.1', TOKEN);
  t.equal(right.status, 429, 'the right token is refused too while the window lasts');
  t.notOk(right.headers['set-cookie'], 'no session');
  const json = await login('127.0.0.1', TOKEN, { accept: 'application/json' });
  t.equal(json.status, 429);
  t.ok(Number(json.headers['retry-after']) > 0);
  t.match(JSON.parse(json.body), { overLimit: { code: 429, message: /^Too many wrong tokens from this address: try again in \d+ s$/ } });
  const warnings = hook.logger.lines.filter((l) => String(l.msg).startsWith('web UI login: too many wrong tokens'));
  t.match(warnings, [{ level: 'warn', client: '127.0.0.1', failures: 3 }], 'logged once, with the client');

  // Another client is not locked out: its right token works, its wrong ones are its own.
  const other = await login('127.0.0.2', TOKEN);
  t.equal(other.status, 303, 'another address logs in');
  t.match(other.headers['set-cookie'], [/^xcp_ui_session=/]);
  t.equal((await login('127.0.0.2', 'guess')).status, 401, 'its first wrong token: 401, not 429');

  // X-Forwarded-For is believed from the trusted proxy only.
  for (let i = 0; i < 3; i++) await login('127.0.0.3', 'guess', { 'x-forwarded-for': '203.0.113.7' });
  t.equal((await login('127.0.0.3', TOKEN, { 'x-forwarded-for': '203.0.113.7' })).status, 429, 'the client behind the proxy is limited');
  t.equal((await login('127.0.0.3', TOKEN, { 'x-forwarded-for': '203.0.113.8' })).status, 303, 'another client behind the same proxy is not');
  t.equal((await login('127.0.0.1', TOKEN, { 'x-forwarded-for': '203.0.113.8' })).status, 429, 'a forged X-Forwarded-For changes nothing');

  // After the window, the right token works again (and the window's failures are forgotten).
  skew += 60_000;
  const after = await login('127.0.0.1', TOKEN);
  t.equal(after.status, 303, 'the right token works after the window');
  t.equal(after.headers.location, '/ui/notifications');
  t.equal((await login('127.0.0.1', 'guess')).status, 401, 'a new window');
});
