// The notifications web UI (/ui/) driven in a real headless Chromium (Debian's /usr/bin/chromium through
// playwright-core; never a downloaded browser) against a receiver and a simulated pool: log in, filter and page, open
// a running host recovery and watch it finish without reloading, create a notification, confirm a fence that waits,
// and bad input answered with the API's own messages. One browser for the whole file.
// XCP_UI_SCREENSHOTS=<dir> also writes the README's screenshots there (list, detail while waiting, a recovery's action
// hooks and messages, detail once finished).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import t, { type Test } from 'tap';
import { freePort } from '../../core/net.js';
import { hookServer } from './helpers/action-hooks.js';
import { ALL_SCOPES, type Hook } from './helpers/harness.js';
import { type Rig, TOKEN, fire, hostDownAlert, notification, settled, taskStates, startRig, untilNotLive, untilWaiting } from './helpers/sim-rig.js';
import { HEADLESS_CHROMIUM_ARGS } from '../../grafana/preview/chromium.js';

const CHROMIUM = '/usr/bin/chromium';
const READER_TOKEN = 'reader-token-0123456789';
const SHOTS = process.env.XCP_UI_SCREENSHOTS;

if (!existsSync(CHROMIUM)) {
  t.plan(0, `${CHROMIUM} is not installed (Debian package chromium): the browser tests cannot run`);
} else {
  const profile = mkdtempSync(join(tmpdir(), 'xcp-ui-chromium-'));
  let browser: Browser;
  t.before(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [...HEADLESS_CHROMIUM_ARGS],
      // playwright gives the browser a fresh profile of its own; its downloads and crash dumps go here.
      downloadsPath: profile,
      timeout: 60_000,
    });
  });
  t.teardown(async () => {
    await browser?.close();
    rmSync(profile, { recursive: true, force: true });
  });

  /** A new browser session (its own cookies), with every console error and failed CSP check collected. */
  async function session(t: Test): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    t.teardown(() => context.close());
    const problems: string[] = [];
    return { context, page: await watchedPage(context, problems), problems };
  }

  /** Another tab of a session: its problems go to the same list. */
  async function watchedPage(context: BrowserContext, problems: string[]): Promise<Page> {
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    page.on('console', (m) => {
      // Error pages (400, 403, 404) are answers the tests ask for; anything else (a CSP refusal, a script error) is not.
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource: the server responded with a status of 4')) problems.push(m.text());
    });
    // A request cut short by the next navigation (net::ERR_ABORTED) is the test moving on, not a problem.
    page.on('requestfailed', (r) => {
      if (r.failure()?.errorText !== 'net::ERR_ABORTED') problems.push(`${r.url()}: ${r.failure()?.errorText}`);
    });
    page.on('pageerror', (e) => problems.push(String(e)));
    return page;
  }

  /** Marks the document: the mark is gone if the page reloads or navigates. */
  const markDocument = (page: Page) => page.evaluate('document.body.dataset.sameDocument = "yes"');
  const sameDocument = async (page: Page) => (await page.getAttribute('body', 'data-same-document')) === 'yes';

  async function login(page: Page, url: string, token: string, next = '/ui/notifications'): Promise<void> {
    await page.goto(url + next);
    await page.waitForURL(/\/ui\/login/);
    await page.fill('#token', token);
    await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/ui/login')), page.click('button[type=submit]')]);
  }

  const rowUuids = (page: Page) => page.$$eval('#notifications tbody tr[data-uuid]', (rows: any[]) => rows.map((r) => r.dataset.uuid as string));

  const RIG = {
    sim: { size: { hosts: 5, vmsPerHost: 4, disksPerVm: 2, vifsPerVm: 2, vcpusPerVm: 2, hostCpus: 4 } },
    recoveryHook: {
      tokens: [
        { name: 'test', token: TOKEN, scopes: ALL_SCOPES },
        { name: 'reader', token: READER_TOKEN },
      ],
      ui: { refresh_seconds: 0.3 },
      tasks: { fence_host: { timeout_seconds: 120 } },
    },
    fencing: { max_hosts_fenced: 3 },
  };

  t.test('log in, watch a host recovery finish live, confirm a fence that waits', async (t) => {
    // An action hook around fences and VM starts, and two notifier channels: one that takes every message, one whose
    // server is gone (its messages are given up after a second).
    const audit = await hookServer(t, (hit, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(`audit: ${hit.body.method} noted`));
    const tickets = await hookServer(t, (_hit, res) => res.writeHead(204).end());
    const rig: Rig = await startRig(t, {
      ...RIG,
      recoveryHook: {
        ...RIG.recoveryHook,
        action_hooks: [{ url: `${audit.base}/audit?site=lab`, methods: ['host.fence', 'vm.start'], type: 'pre/post', wait_for_response: true }],
        notifiers: {
          channels: {
            tickets: { type: 'webhook', url: `${tickets.base}/tickets` },
            pager: {
              type: 'webhook',
              url: `http://127.0.0.1:${await freePort()}/page`,
              give_up_after_seconds: 1,
              backoff: { initial_seconds: 0.2, max_seconds: 0.2 },
            },
          },
        },
      },
    });
    const hook = rig.hook!;
    const { page, problems } = await session(t);

    // Nothing but the login without a session; a wrong token is refused with the API's message.
    const anon = await fetch(`${hook.url}/ui/notifications`, { redirect: 'manual' });
    t.equal(anon.status, 303);
    t.equal(anon.headers.get('location'), '/ui/login?next=%2Fui%2Fnotifications');
    t.equal((await fetch(`${hook.url}/ui/pools`, { headers: { accept: 'application/json' } })).status, 401);
    await page.goto(`${hook.url}/ui/pools`);
    await page.waitForURL(/\/ui\/login\?next=%2Fui%2Fpools$/);
    await page.fill('#token', 'not-a-token-of-this-receiver');
    await page.click('button[type=submit]');
    t.equal(await page.textContent('#error'), 'The token is not valid');
    await page.fill('#token', TOKEN);
    await Promise.all([page.waitForURL(/\/ui\/pools$/), page.click('button[type=submit]')]);
    const cookies = await page.context().cookies();
    t.match(cookies, [{ name: 'xcp_ui_session', httpOnly: true, sameSite: 'Strict', path: '/ui' }]);
    t.notOk((await page.content()).includes(TOKEN), 'the token is in no page');
    t.equal(await page.locator('section.pool').count(), 1);
    t.equal(await page.locator('section.pool tbody tr').count(), 5, 'every host of the pool');

    // A host recovery whose BMC answers slowly (each call 1.5 s): open it while it runs, watch it finish on the same page.
    const victim = rig.host('xcp-host-02');
    t.notOk(victim.master);
    await rig.control(`/sim/hosts/${victim.name}/bmc`, { mode: 'ok', delay_ms: 1500 });
    await rig.control(`/sim/hosts/${victim.name}/fail`, {});
    await untilNotLive(rig, victim);
    const vms = rig.residentVms(victim).map((v) => v.name);
    const uuid = await fire(hook, hostDownAlert(rig, victim));
    await page.goto(`${hook.url}/ui/notifications`);
    await page.click(`tr[data-uuid="${uuid}"] a`);
    await page.waitForURL(new RegExp(`/ui/notifications/${uuid}$`));
    const first = await page.getAttribute('#live', 'data-status');
    t.ok(first === 'new' || first === 'running', `opened while the recovery runs (${first})`);
    await markDocument(page);
    await untilFinishedOnPage(page, hook, uuid);
    t.ok(await sameDocument(page), 'the page updated itself (no reload)');
    const tasks = await page.$$eval('#tasks > li', (items: any[]) => items.map((li) => [li.dataset.task, li.dataset.state]));
    t.same(
      tasks,
      ['confirm_host_down', 'plan_vm_restarts', 'fence_host', 'disable_host', 'reset_vm_power_states', 'restart_vms'].map((name) => [name, 'SUCCESS']),
      'every task, in order',
    );
    const moves = await page.$$eval('#vm-moves tbody tr', (rows: any[]) =>
      rows.map((r) => [r.dataset.status as string, (r.children[1].textContent as string).trim()]),
    );
    t.equal(moves.length, vms.length, 'a row per VM of the host');
    for (const [status, route] of moves) {
      t.equal(status, 'succeeded');
      t.match(route, new RegExp(`^${victim.name} → xcp-host-0\\d$`));
      t.notMatch(route, new RegExp(`→ ${victim.name}$`));
    }
    t.match(await page.textContent('#tasks li[data-task="fence_host"] .details'), /power/i, 'the fence task says what it did');

    // Its activity: every action-hook call the hook received, and every message, until none waits to be sent.
    await page.waitForSelector('#live[data-done="true"]', { timeout: 30_000 });
    t.ok(await sameDocument(page), 'the activity updated itself too');
    const calls = await page.$$eval('#hook-calls tbody tr', (rows: any[]) =>
      rows.map((r) => ({ ...r.dataset, http: r.querySelector('td.http').textContent, output: r.querySelector('td.output').textContent })),
    );
    const received = audit.hits.filter((h) => h.body.notification.uuid === uuid);
    t.same(
      calls.map((c) => `${c.phase} ${c.method}`).sort(),
      received.map((h) => `${h.body.type} ${h.body.method}`).sort(),
      'a row per call the hook received',
    );
    t.equal(calls.filter((c) => c.method === 'vm.start').length, 2 * vms.length, 'pre and post of each VM start');
    t.same(
      calls.filter((c) => c.method === 'host.fence').map((c) => [c.phase, c.task]),
      [
        ['pre', 'fence_host'],
        ['post', 'fence_host'],
      ],
      'the fence, with its task',
    );
    for (const c of calls) {
      t.match(c, { hook: `${audit.base}/audit`, outcome: 'ok', http: '200', output: `audit: ${c.method} noted` }, `${c.phase} ${c.method}`);
      t.equal(c.task, c.method === 'vm.start' ? 'restart_vms' : 'fence_host');
    }
    const messages = await page.$$eval('#messages tbody tr', (rows: any[]) => rows.map((r) => ({ ...r.dataset, row: r.textContent })));
    const sentToTickets = tickets.hits.filter((h) => h.body.data?.notification_uuid === uuid).map((h) => h.body.event);
    t.ok(sentToTickets.includes('recovery.finished'), `the channel got: ${sentToTickets.join(', ')}`);
    t.same(
      messages.filter((m) => m.channel === 'tickets').map((m) => [m.event, m.status]),
      sentToTickets.map((e) => [e, 'sent']),
      'every message of the channel, sent, in order',
    );
    const paged = messages.filter((m) => m.channel === 'pager');
    t.same(
      paged.map((m) => [m.event, m.status]),
      sentToTickets.map((e) => [e, 'failed']),
      'the dead channel: the same events, given up',
    );
    for (const m of paged) t.match(m.row, /ECONNREFUSED/, 'with the last error');
    if (SHOTS) {
      // From the "Action hooks" heading to the end of the messages.
      const box = (await page.evaluate(
        '(() => { const a = document.getElementById("hook-calls").previousElementSibling.getBoundingClientRect(); const b = document.getElementById("messages").getBoundingClientRect(); return { y: a.top + window.scrollY - 12, height: b.bottom - a.top + 24 }; })()',
      )) as { y: number; height: number };
      await page.screenshot({ path: join(SHOTS, 'ui-detail-activity.png'), fullPage: true, clip: { x: 0, width: 1280, ...box } });
    }

    // Another host whose BMC does not answer: the recovery waits for a person, and the open list says so by itself:
    // a newer notification matches, then the banner of waiting recoveries appears.
    const stuck = rig.host('xcp-host-03');
    await rig.control(`/sim/hosts/${stuck.name}/bmc`, { mode: 'unreachable' });
    await rig.control(`/sim/hosts/${stuck.name}/fail`, {});
    await untilNotLive(rig, stuck);
    await page.goto(`${hook.url}/ui/notifications`);
    t.ok(await page.locator('#waits').isHidden(), 'no recovery waits yet');
    await markDocument(page);
    const waiting = await fire(hook, hostDownAlert(rig, stuck));
    await page.waitForSelector('#list-news:not([hidden])');
    t.equal(await page.textContent('#list-news span'), 'A newer notification matches.');
    const api = await untilWaiting(rig, waiting);
    await page.waitForSelector(`#waits:not([hidden]) li[data-uuid="${waiting}"]`);
    const banner = (await page.textContent('#waits'))!;
    t.match(banner, 'A recovery waits for an operator');
    t.match(banner, `fence_confirmation · host ${stuck.name} (pool ${rig.poolName}) since `);
    t.match(banner, ` UTC: ${api.operator_wait.reason}`, 'drawn as the server draws it');
    t.ok(await sameDocument(page), 'the list updated itself (no reload)');
    await page.goto(`${hook.url}/ui/notifications`);
    t.match(await page.textContent('#waits'), new RegExp(`fence_confirmation · host ${stuck.name}`));
    t.equal(await page.getAttribute(`tr[data-uuid="${waiting}"]`, 'data-status'), 'running');
    t.equal(await page.textContent(`tr[data-uuid="${waiting}"] td.status .waits`), 'fence_confirmation', 'the row says it waits');
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'ui-list.png'), fullPage: true });
    await page.click(`#waits a[href="/ui/notifications/${waiting}"]`);
    await page.waitForSelector('#operator-wait[data-kind="fence_confirmation"]');
    t.equal(await page.textContent('#operator-wait .reason'), api.operator_wait.reason, 'the reason, as the API gives it');
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'ui-detail-waiting.png'), fullPage: true });

    // The wrong host's UUID: the API's 400, word for word, and nothing confirmed.
    const apiAnswer = await hook.request('POST', `/v1/notifications/${waiting}/confirm-fenced`, { body: { host_uuid: victim.uuid } });
    t.equal(apiAnswer.status, 400);
    await page.fill('#confirm-fenced input[name=host_uuid]', victim.uuid);
    const [refused] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/confirm-fenced')), page.click('#confirm-fenced button')]);
    t.equal(refused.status(), 400);
    t.equal(await page.textContent('#confirm-error'), apiAnswer.json.badRequest.message);
    t.equal((await untilWaiting(rig, waiting)).status, 'running', 'still waiting');
    t.same(rig.calls.starts.length, vms.length, 'no VM of the waiting host started');

    // The pools page: the waiting recovery holds its host on maintenance; the finished one let its host go.
    await page.goto(`${hook.url}/ui/pools`);
    t.equal(await page.getAttribute(`tr[data-host="${stuck.name}"]`, 'data-maintenance'), 'true');
    t.equal(await page.getAttribute(`tr[data-host="${stuck.name}"] a[href^="/ui/notifications/"]`, 'href'), `/ui/notifications/${waiting}`);
    t.equal(await page.getAttribute(`tr[data-host="${victim.name}"]`, 'data-maintenance'), 'false');
    t.equal(await page.getAttribute('tr[data-host="xcp-host-04"]', 'data-maintenance'), 'false');

    // The operator powers the host off, then confirms with its UUID: the recovery goes on and finishes, on its page
    // and in the list open in another tab.
    const list = await watchedPage(page.context(), problems);
    await list.goto(`${hook.url}/ui/notifications`);
    t.equal(await list.textContent(`tr[data-uuid="${waiting}"] td.status`), 'running fence_confirmation');
    await markDocument(list);
    await page.goto(`${hook.url}/ui/notifications/${waiting}`);
    await rig.control(`/sim/hosts/${stuck.name}/bmc`, { mode: 'ok' });
    await rig.control(`/sim/hosts/${stuck.name}/power-off`, {});
    await page.fill('#confirm-fenced input[name=host_uuid]', stuck.uuid);
    await Promise.all([page.waitForURL(new RegExp(`/ui/notifications/${waiting}$`)), page.click('#confirm-fenced button')]);
    await untilFinishedOnPage(page, hook, waiting);
    await list.waitForSelector(`tr[data-uuid="${waiting}"][data-status="finished"]`, { timeout: 30_000 });
    t.equal(await list.textContent(`tr[data-uuid="${waiting}"] td.status`), 'finished', 'the row: finished, no longer waiting');
    t.equal(await list.getAttribute(`tr[data-uuid="${waiting}"]`, 'data-terminal'), 'true');
    await list.waitForSelector('#waits', { state: 'hidden' });
    t.ok(await sameDocument(list), 'the list updated itself (no reload)');
    await list.close();
    t.equal(await page.locator('#operator-wait').count(), 0, 'no longer waiting');
    t.match(await page.textContent('#tasks li[data-task="fence_host"] .details'), /an operator \(token test\) confirmed/);
    t.equal((await settled(hook, waiting)).status, 'finished');
    await page.waitForSelector('#live[data-done="true"]', { timeout: 30_000 });
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'ui-detail-finished.png'), fullPage: true });

    // A token without fence:confirm sees the wait but no confirm form, and no create form.
    const reader = await session(t);
    await login(reader.page, hook.url, READER_TOKEN, '/ui/notifications/new');
    t.equal(
      await reader.page.textContent('#error'),
      'forbidden: Policy doesn\'t allow this request: creating a notification needs scope notifications:write; token "reader" has alertmanager, notifications:read',
    );
    t.equal(await reader.page.locator('a[href="/ui/notifications/new"]').count(), 0);

    t.same(problems, [], 'no script error and no Content-Security-Policy violation');
  });

  t.test('filters, paging, the create form, bad input and CSRF', async (t) => {
    const rig: Rig = await startRig(t, RIG);
    const hook = rig.hook!;
    const { page, problems } = await session(t);
    await login(page, hook.url, TOKEN);

    // The create form: the API's own checks and messages.
    await page.click('a[href="/ui/notifications/new"]');
    const types = await page.$$eval('#create select[name=type] option', (o: any[]) => o.map((x) => x.value as string).filter(Boolean));
    t.ok(
      ['COMPUTE_HOST', 'COMPUTE_INSTANCE', 'COMPUTE_PROCESS'].every((x) => types.includes(x)),
      `types from the workflow catalogue: ${types.join(', ')}`,
    );
    const host = rig.host('xcp-host-04');
    await page.selectOption('#create select[name=type]', 'COMPUTE_INSTANCE');
    await page.fill('#create input[name=hostname]', host.name);
    await page.fill('#create input[name=event]', 'LIFECYCLE');
    await page.fill('#create input[name=generated_time]', '2026-12-06T08:00:00Z');
    await page.fill('#create textarea[name=payload]', '{"vir_domain_event": "STOPPED_FAILED"}');
    await page.click('#create button');
    const sameBody = {
      notification: {
        type: 'COMPUTE_INSTANCE',
        hostname: host.name,
        generated_time: '2026-12-06T08:00:00Z',
        payload: { event: 'LIFECYCLE', vir_domain_event: 'STOPPED_FAILED' },
      },
    };
    const apiRefusal = await hook.request('POST', '/v1/notifications', { body: sameBody });
    t.equal(apiRefusal.status, 400);
    t.equal(await page.textContent('#error'), `400 ${apiRefusal.json.badRequest.message}`, "the API's message, word for word");
    t.equal(await page.inputValue('#create input[name=hostname]'), host.name, 'the form keeps what was typed');
    await page.fill('#create textarea[name=payload]', '{"vir_domain_event": ');
    await page.click('#create button');
    t.match(await page.textContent('#error'), /^400 Invalid input for field\/attribute payload\. .* It is not valid JSON$/);
    await page.fill('#create textarea[name=payload]', '{"vir_domain_event": "STOPPED_FAILED", "instance_uuid": "6f1c6bc6-5a0e-4a8a-9c4e-0c3f0b6a2a11"}');
    await Promise.all([page.waitForURL(/\/ui\/notifications\/[0-9a-f-]{36}$/), page.click('#create button')]);
    const created = page.url().split('/').at(-1)!;
    t.equal(
      (await settled(hook, created, ['new', 'running', 'finished', 'ignored', 'failed', 'error'])).type,
      'COMPUTE_INSTANCE',
      'recorded as through the API',
    );
    t.match(await page.textContent('dl.facts'), /"instance_uuid": "6f1c6bc6-5a0e-4a8a-9c4e-0c3f0b6a2a11"/);

    // More notifications through the API (distinct hosts and times, so none is a duplicate).
    const made: { uuid: string; host: string; time: string; type: string }[] = [
      { uuid: created, host: host.name, time: '2026-12-06T08:00:00', type: 'COMPUTE_INSTANCE' },
    ];
    for (let i = 0; i < 5; i++) {
      const h = rig.hosts[i % 5]!;
      const time = `2026-12-05T1${i}:00:00`;
      const res = await hook.request('POST', '/v1/notifications', {
        body: {
          notification: {
            type: 'COMPUTE_INSTANCE',
            hostname: h.name,
            generated_time: time,
            payload: { event: 'LIFECYCLE', vir_domain_event: 'STOPPED_FAILED', instance_uuid: `6f1c6bc6-5a0e-4a8a-9c4e-0c3f0b6a2a2${i}` },
          },
        },
      });
      t.equal(res.status, 202, res.text);
      made.push({ uuid: res.json.notification.notification_uuid, host: h.name, time, type: 'COMPUTE_INSTANCE' });
    }

    // Paging: two per page, newest first, every notification once.
    await page.goto(`${hook.url}/ui/notifications?type=COMPUTE_INSTANCE&limit=2`);
    const seen: string[] = [];
    for (let pageNo = 0; pageNo < 10; pageNo++) {
      const rows = await rowUuids(page);
      t.ok(rows.length <= 2);
      seen.push(...rows);
      if ((await page.locator('#next-page').count()) === 0) break;
      await Promise.all([page.waitForURL(/marker=/), page.click('#next-page')]);
    }
    t.same([...seen].sort(), made.map((m) => m.uuid).sort(), 'the pages hold every notification once');
    t.equal(new Set(seen).size, seen.length, 'no notification on two pages');

    // The list's live JSON: the rows asked about, now, and how many newer ones match the page's filters; bad filters get
    // the list's (the API's) 400s, bad uuids or markers precise ones, as JSON only.
    await page.goto(`${hook.url}/ui/notifications?type=COMPUTE_INSTANCE&limit=2`);
    const shown = await rowUuids(page);
    const ids = await page.$$eval('#notifications tbody tr[data-uuid]', (rows: any[]) => rows.map((r) => Number(r.dataset.id)));
    t.equal(
      await page.getAttribute('#notifications', 'data-live-src'),
      `/ui/notifications/live?type=COMPUTE_INSTANCE&newest=${Math.max(...ids)}`,
      'the filters, and the newest row shown',
    );
    const signedIn = { cookie: await cookieHeader(page) };
    const liveJson = async (query: string, headers: Record<string, string> = signedIn) => {
      const res = await fetch(`${hook.url}/ui/notifications/live?${query}`, { headers: { accept: 'text/html', ...headers } });
      t.match(res.headers.get('content-type'), /^application\/json/, `${query}: JSON whatever the Accept header`);
      return { status: res.status, json: (await res.json()) as any };
    };
    const live = await liveJson(`type=COMPUTE_INSTANCE&newest=${Math.max(...ids)}&uuid=${shown[1]}&uuid=${shown[0]}`);
    t.equal(live.status, 200);
    t.same(
      live.json.notifications.map((n: any) => n.notification_uuid),
      [shown[1], shown[0]],
      'the rows asked about',
    );
    t.match(live.json.notifications[1], { id: ids[0], status: String, terminal: Boolean, updated_at: /^\d{4}-\d\d-\d\dT.*Z$/, operator_wait: null });
    t.same([live.json.newer, live.json.newer_more, live.json.operator_waits], [0, false, []], 'nothing newer, nobody waits');
    t.equal((await liveJson(`type=COMPUTE_INSTANCE&newest=${Math.min(...ids)}`)).json.newer, 1, 'one newer than the second row');
    t.equal((await liveJson('type=COMPUTE_INSTANCE&newest=0')).json.newer, made.length, 'all newer than none');
    t.equal((await liveJson('type=COMPUTE_HOST&newest=0')).json.newer, 0, 'with the filters');
    const uuid = (i: number) => `6f1c6bc6-5a0e-4a8a-9c4e-${String(i).padStart(12, '0')}`;
    for (const [query, message] of [
      ['limit=500', "Invalid value for limit: '500' is not between 1 and 200"],
      ['pool=nope', `Invalid value for pool: 'nope' is not a configured pool (${rig.poolName})`],
      ['bogus=1', "Unknown query parameter 'bogus'; known: type, status, pool, host, generated-since, generated-until, limit, marker"],
      ['generated-since=yesterday', 'Invalid generated-since value'],
      ['uuid=nope', "Invalid input for field/attribute uuid. 'nope' is not a 'uuid'"],
      ['newest=x', 'newest must be an integer'],
      [Array.from({ length: 17 }, (_, i) => `uuid=${uuid(i)}`).join('&'), 'Query parameter uuid is repeated more than 16 times'],
    ] as const) {
      const bad = await liveJson(query);
      t.equal(bad.status, 400, query);
      t.same(bad.json, { badRequest: { code: 400, message } }, `${query}: the field named`);
    }
    const anonymous = await liveJson('', {});
    t.equal(anonymous.status, 401);
    t.same(anonymous.json, { unauthorized: { code: 401, message: 'Log in first: no session, or it has ended' } });

    // Filters through the form: host, and a time range.
    await page.goto(`${hook.url}/ui/notifications`);
    await page.fill('#filters input[name=host]', 'xcp-host-02');
    await page.selectOption('#filters select[name=type]', 'COMPUTE_INSTANCE');
    await page.click('#filters button');
    t.same(
      await rowUuids(page),
      made.filter((m) => m.host === 'xcp-host-02').map((m) => m.uuid),
    );
    t.match(page.url(), /host=xcp-host-02/);
    await page.goto(`${hook.url}/ui/notifications`);
    await page.fill('#filters input[name=generated-since]', '2026-12-05T11:00:00Z');
    await page.fill('#filters input[name=generated-until]', '2026-12-05T13:30:00Z');
    await page.click('#filters button');
    const inRange = made.filter((m) => m.time >= '2026-12-05T11' && m.time <= '2026-12-05T13:30').map((m) => m.uuid);
    t.same((await rowUuids(page)).sort(), inRange.sort(), 'generated between since and until');
    t.equal(inRange.length, 3);
    await page.goto(`${hook.url}/ui/notifications?pool=${rig.poolName}&status=new&status=finished&type=COMPUTE_HOST`);
    t.same(await rowUuids(page), [], 'no host notification in this pool');

    // Bad filter values: the API's 400s (its parser), shown on the page and as JSON to a JSON client.
    for (const [query, apiQuery] of [
      ['generated-since=2026-02-30T10:00:00', 'generated-since=2026-02-30T10:00:00'],
      ['limit=-1', 'limit=-1'],
      ['marker=999999', 'marker=999999'],
      ['sort_key=bogus', undefined],
      ['pool=nope', undefined],
      ['host=nope', undefined],
      ['generated-until=yesterday', undefined],
    ] as const) {
      const res = await page.goto(`${hook.url}/ui/notifications?${query}`);
      t.equal(res!.status(), 400, query);
      const shown = (await page.textContent('#error'))!;
      const json: any = await (
        await fetch(`${hook.url}/ui/notifications?${query}`, { headers: { accept: 'application/json', cookie: await cookieHeader(page) } })
      ).json();
      t.equal(shown, `400 ${json.badRequest.message}`, `${query}: the page and JSON say the same`);
      if (apiQuery) {
        const api = await hook.request('GET', `/v1/notifications?${apiQuery}`);
        t.same(json, api.json, `${query}: as the API answers`);
      }
    }
    t.match(await page.textContent('#error'), /Invalid generated-until value/);
    const unknownDetail = await page.goto(`${hook.url}/ui/notifications/00000000-0000-4000-8000-00000000dead`);
    t.equal(unknownDetail!.status(), 404);
    t.match(await page.textContent('#error'), /No notification with id 00000000-0000-4000-8000-00000000dead\./);

    // Grafana's links: a host's newest recovery page, found from the host's name; the UI's address in /metrics.
    const latest = await fetch(`${hook.url}/ui/hosts/xcp-host-02/latest`, { redirect: 'manual', headers: { cookie: await cookieHeader(page) } });
    t.equal(latest.status, 303);
    t.equal(latest.headers.get('location'), `/ui/notifications/${made.find((m) => m.host === 'xcp-host-02')!.uuid}`);
    t.match(await (await fetch(`${hook.url}/metrics`)).text(), `xcp_recovery_ui_info{url="${hook.url}"} 1`);

    // CSRF: a form posted from another site, or without this session's CSRF token, is refused; nothing is recorded.
    const cookie = await cookieHeader(page);
    const before = (await hook.request('GET', '/v1/notifications')).json.notifications.length;
    const form = new URLSearchParams({ type: 'COMPUTE_PROCESS', hostname: host.name, event: 'STOPPED', payload: '{"process_name":"xapi"}' });
    const csrf = await page.getAttribute('form.logout input[name=csrf]', 'value');
    const post = (headers: Record<string, string>, body: URLSearchParams) =>
      fetch(`${hook.url}/ui/notifications`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
        body: body.toString(),
      });
    const crossSite = await post({ origin: 'http://attacker.example' }, new URLSearchParams({ ...Object.fromEntries(form), csrf: csrf! }));
    t.equal(crossSite.status, 403);
    t.match(await crossSite.json(), { forbidden: { message: /Cross-site request refused/ } });
    const noToken = await post({ origin: hook.url }, form);
    t.equal(noToken.status, 403);
    t.match(await noToken.json(), { forbidden: { message: /CSRF token mismatch/ } });
    const json = await post({ origin: hook.url, 'content-type': 'application/json' }, form);
    t.equal(json.status, 415);
    t.equal((await hook.request('GET', '/v1/notifications')).json.notifications.length, before, 'nothing recorded');

    // Security headers on every page; logging out ends the session on the server.
    const res = await page.goto(`${hook.url}/ui/notifications`);
    t.match(res!.headers()['content-security-policy'], /^default-src 'none'; script-src 'self'; style-src 'self';/);
    t.equal(res!.headers()['x-frame-options'], 'DENY');
    await Promise.all([page.waitForURL(/\/ui\/login$/), page.click('form.logout button')]);
    const after = await fetch(`${hook.url}/ui/notifications`, { headers: { cookie, accept: 'application/json' } });
    t.equal(after.status, 401, 'the old cookie opens nothing');
    t.same(problems, [], 'no script error and no Content-Security-Policy violation');
  });

  /** Wait until the page's live section says finished; on a timeout, say what the API and the page said. */
  async function untilFinishedOnPage(page: Page, hook: Hook, uuid: string): Promise<void> {
    try {
      await page.waitForSelector('#live[data-status="finished"]', { timeout: 60_000 });
    } catch (err) {
      const api = await notification(hook, uuid);
      throw new Error(
        `${String(err).split('\n')[0]}; the API says ${api.status} (${api.message}), tasks ${JSON.stringify(taskStates(api))}; the page says ${await page.getAttribute('#live', 'data-status')}`,
      );
    }
  }

  async function cookieHeader(page: Page): Promise<string> {
    return (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
  }
}
