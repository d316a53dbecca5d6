// The web UI's sessions (bounded, expiring, CSRF-bound) and its config section, without a browser.
import t from 'tap';
import { ConfigError } from '../../core/config/load.js';
import { Sessions, csrfMatches } from '../../recovery-hooks/ui/sessions.js';
import { html } from '../../recovery-hooks/ui/html.js';
import { tempDir, testConfig } from './helpers/harness.js';

const caller = (name: string) => ({ name, scopes: ['notifications:read' as const] });

t.test('a session ends after its idle time, after its whole lifetime, and when too many are open', async (t) => {
  let now = 1_000_000;
  const sessions = new Sessions({ idleMs: 1000, maxMs: 5000, max: 3, now: () => now });
  const a = sessions.create(caller('a'));
  t.equal(a.id.length, 43, '256 random bits');
  t.not(a.csrf, a.id);
  now += 900;
  t.equal(sessions.get(a.id)?.caller.name, 'a', 'used within its idle time');
  now += 900;
  t.equal(sessions.get(a.id)?.caller.name, 'a', 'each use restarts the idle clock');
  now += 1001;
  t.equal(sessions.get(a.id), undefined, 'idle too long');

  const b = sessions.create(caller('b'));
  for (let i = 0; i < 6; i++) {
    now += 900;
    sessions.get(b.id);
  }
  t.equal(sessions.get(b.id), undefined, 'ended after maxMs even though in use');

  const [c, d, e] = [sessions.create(caller('c')), sessions.create(caller('d')), sessions.create(caller('e'))];
  sessions.get(c.id); // c is now the most recently used: d is the least
  const f = sessions.create(caller('f'));
  t.equal(sessions.size, 3, 'never more than max');
  t.equal(sessions.get(d.id), undefined, 'the least recently used one ended');
  t.ok(sessions.get(c.id) && sessions.get(e.id) && sessions.get(f.id));
  sessions.end(f.id);
  t.equal(sessions.get(f.id), undefined, 'logged out');
  t.equal(sessions.get(undefined), undefined);
  t.equal(sessions.get('guess'), undefined);

  t.ok(csrfMatches(c, c.csrf));
  t.notOk(csrfMatches(c, e.csrf), "another session's token");
  t.notOk(csrfMatches(c, c.csrf.slice(1)));
  t.notOk(csrfMatches(c, undefined));
});

t.test('html escapes every value', async (t) => {
  const evil = `<script>alert("x")</script>&'`;
  t.equal(html`<p title="${evil}">${evil}${[html`<b>${evil}</b>`]}${null}${false}${0}</p>`.text,
    '<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;<b>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;</b>0</p>');
});

t.test('recovery_hook.ui: defaults, and every key checked with its name', async (t) => {
  const dir = tempDir();
  t.same(testConfig(dir).recovery_hook.ui, { enabled: true, externalUrl: undefined, sessionIdleMs: 1_800_000, sessionMaxMs: 43_200_000, maxSessions: 200, refreshMs: 2000 });
  const ui = testConfig(dir, '  ui: { external_url: "https://recovery.example.org/", session_idle_seconds: 600, max_sessions: 5, refresh_seconds: 1 }').recovery_hook.ui;
  t.match(ui, { externalUrl: 'https://recovery.example.org', sessionIdleMs: 600_000, maxSessions: 5, refreshMs: 1000 });
  let err: unknown;
  try {
    testConfig(dir, '  ui: { external_url: "ftp://x", max_sessions: 0, colour: blue }');
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof ConfigError, 'refused');
  const text = String((err as Error).message);
  for (const key of ['external_url', 'max_sessions', 'colour']) t.match(text, `recovery_hook.ui.${key}`, `names ${key}`);
});
