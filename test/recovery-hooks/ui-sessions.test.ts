// The web UI without a browser: sessions (bounded, expiring, CSRF-bound), escaping, operator waits on the page, config.
import t from 'tap';
import { ConfigError } from '../../core/config/load.js';
import { Sessions, csrfMatches } from '../../recovery-hooks/ui/sessions.js';
import { html } from '../../recovery-hooks/ui/html.js';
import { detailPage } from '../../recovery-hooks/ui/pages.js';
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
  t.equal(
    html`<p title="${evil}">${evil}${[html`<b>${evil}</b>`]}${null}${false}${0}</p>`.text,
    '<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;<b>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;</b>0</p>',
  );
});

t.test('recovery_hook.ui: defaults, and every key checked with its name', async (t) => {
  const dir = tempDir();
  t.same(testConfig(dir).recovery_hook.ui, {
    enabled: true,
    externalUrl: undefined,
    sessionIdleMs: 1_800_000,
    sessionMaxMs: 43_200_000,
    maxSessions: 200,
    refreshMs: 2000,
    loginMaxFailures: 5,
    loginWindowMs: 300_000,
    trustedProxies: [],
  });
  const ui = testConfig(dir, '  ui: { external_url: "https://recovery.example.org/", session_idle_seconds: 600, max_sessions: 5, refresh_seconds: 1 }')
    .recovery_hook.ui;
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

t.test('a wait of any kind shows with its reason; the confirm form only for host-off kinds and a fence:confirm token', async (t) => {
  const n = {
    id: 7,
    uuid: '00000000-0000-4000-8000-0000000000aa',
    type: 'COMPUTE_HOST' as const,
    status: 'running' as const,
    hostUuid: '00000000-0000-4000-8000-000000000001',
    hostName: 'host-1',
    poolName: 'pool-a',
    generatedAt: 0,
    payload: { event: 'STOPPED' },
    message: null,
    source: 'api' as const,
    createdAt: 0,
    updatedAt: null,
    attempts: 1,
    nextAttemptAt: null,
  };
  const wait = (kind: string) => ({
    notificationUuid: n.uuid,
    kind,
    reason: `<why> ${kind}`,
    since: 0,
    poolName: 'pool-a',
    hostUuid: n.hostUuid,
    hostName: 'host-1',
    confirmedAt: null,
    confirmedBy: null,
  });
  const sessions = new Sessions({ idleMs: 1000, maxMs: 1000, max: 2, now: () => 0 });
  const confirmer = sessions.create({ name: 'ops', scopes: ['notifications:read', 'fence:confirm'] });
  const reader = sessions.create(caller('reader'));
  const page = (kind: string, s = confirmer) =>
    detailPage({ n, wait: wait(kind) as never, tasks: [], moves: [], activity: { messages: [], hookCalls: [] } }, s, 2000).text;
  for (const kind of ['fence_confirmation', 'blast_radius']) {
    t.match(page(kind), `data-kind="${kind}"`);
    t.match(page(kind), 'id="confirm-fenced"', `${kind}: the confirm form`);
    t.notMatch(page(kind, reader), 'id="confirm-fenced"', `${kind}: no form without fence:confirm`);
    t.match(page(kind, reader), 'needs a token with scope <code>fence:confirm</code>');
  }
  // The activity: texts from hooks and peers are escaped; a long one is folded under its first 120 characters.
  const long = `${'x'.repeat(150)}\nsecond line`;
  const activity = {
    hookCalls: [
      {
        id: 1,
        hook: 'http://hooks.example/audit',
        phase: 'pre' as const,
        taskName: 'fence_host',
        method: 'host.fence',
        callId: 'c1',
        outcome: 'vetoed' as const,
        httpStatus: 403,
        attempts: 1,
        startedAt: 0,
        finishedAt: 5,
        output: '<img src=x onerror=alert(1)>',
      },
    ],
    messages: [
      {
        id: 2,
        channel: 'ops-mail',
        event: 'recovery.started',
        status: 'queued' as const,
        attempts: 3,
        createdAt: 0,
        sentAt: null,
        failedAt: null,
        nextAttemptAt: 60_000,
        lastError: long,
      },
    ],
  };
  const withActivity = detailPage({ n: { ...n, status: 'finished' }, tasks: [], moves: [], activity }, confirmer, 2000).text;
  t.match(withActivity, '<td class="output"><code class="excerpt">&lt;img src=x onerror=alert(1)&gt;</code></td>');
  t.match(withActivity, 'data-phase="pre" data-task="fence_host" data-method="host.fence" data-outcome="vetoed"');
  t.match(withActivity, `<summary><code>${'x'.repeat(120)}…</code></summary><pre>${long}</pre>`);
  t.match(withActivity, 'data-terminal="true" data-done="false"', 'finished, but a queued message keeps the page live');
  t.match(withActivity, '<time datetime="1970-01-01T00:01:00.000Z">', 'its next attempt');

  const other = page('master_failover');
  t.match(other, '<span class="kind">master_failover</span>');
  t.match(other, '&lt;why&gt; master_failover', 'the reason, escaped');
  t.notMatch(other, 'id="confirm-fenced"', 'no host-off confirmation for another kind');
});
