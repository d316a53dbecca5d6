// The notifications web UI under /ui/, mounted by server.ts before the API's token check. Only the login page (and
// its stylesheet) is served without a session. A session comes from logging in with an API token: the cookie holds a
// random id, the server keeps the token's name and scopes. Writes are forms that carry the session's CSRF token, come
// from this origin (Origin / Referer) and go through the API's own code (intake/masakari/actions.ts), so they are
// checked and refused exactly as the API's are.
import { readFileSync } from 'node:fs';
import { Router } from '@koa/router';
import type Koa from 'koa';
import type { PoolMode } from '../config.js';
import type { Logger } from '../../core/log.js';
import type { HostDirectory } from '../hosts.js';
import { type Caller, TokenAuthenticator, requireScope } from '../intake/auth.js';
import { ApiError, faultBody } from '../intake/errors.js';
import { type ActionDeps, confirmFenced, createNotification, notificationOf } from '../intake/masakari/actions.js';
import { formatMasakariTime } from '../intake/masakari/time.js';
import type { NotificationStore } from '../store/store.js';
import { NOTIFICATION_TYPES, type Notification, TERMINAL_STATUSES } from '../store/types.js';
import type { ApiToken } from '../config.js';
import type { UiConfig } from './config.js';
import { readForm } from './form.js';
import { LoginLimiter, loginClient } from './login-limit.js';
import type { Html } from './html.js';
import { listNotifications, readListForm } from './list.js';
import { liveList } from './live-list.js';
import { type CreateForm, type Detail, UI, createPage, detailPage, detailPath, errorPage, listPage, liveSection, loginPage, poolsPage } from './pages.js';
import { type Session, Sessions, csrfMatches } from './sessions.js';

export interface UiDeps extends ActionDeps {
  config: UiConfig;
  tokens: ApiToken[];
  maxBodyBytes: number;
  pools: { name: string; mode: PoolMode }[];
  hosts: HostDirectory;
  store: NotificationStore;
  logger: Logger;
}

const COOKIE = 'xcp_ui_session';
/** Clients whose wrong logins are remembered at most (about 100 bytes each). */
const MAX_LOGIN_CLIENTS = 10_000;
/** The JSON the list page polls (answers JSON only, errors included). */
const LIVE_LIST = '/notifications/live';
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const STATIC: Record<string, { type: string; body: Buffer; public: boolean }> = {
  'ui.css': { type: 'text/css; charset=utf-8', body: readFileSync(new URL('./static/ui.css', import.meta.url)), public: true },
  'favicon.svg': { type: 'image/svg+xml', body: readFileSync(new URL('./static/favicon.svg', import.meta.url)), public: true },
  'ui.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(new URL('./static/ui.js', import.meta.url)), public: false },
};

/**
 * The types a notification may have: those of the workflow catalogue (buildWorkflows returns a workflow for every
 * NotificationType, so a type another workflow adds shows here with it).
 */
export const notificationTypes = (): readonly string[] => NOTIFICATION_TYPES;

/** Where a login may send the browser back to: a path of the UI only (never another site). */
function safeNext(next: string | undefined): string {
  return next && /^\/ui\/[A-Za-z0-9/_.?=&%:-]*$/.test(next) && !next.startsWith('//') ? next : `${UI}/notifications`;
}

export function uiRouter(deps: UiDeps): Router {
  const auth = new TokenAuthenticator(deps.tokens);
  const logins = new LoginLimiter({
    maxFailures: deps.config.loginMaxFailures,
    windowMs: deps.config.loginWindowMs,
    maxClients: MAX_LOGIN_CLIENTS,
    now: deps.now,
  });
  /** The token's caller; a wrong token counts against the client (logged once, when it reaches the limit). */
  const authenticate = (client: string, token: string): Caller => {
    try {
      return auth.authenticate({ 'x-auth-token': token });
    } catch (err) {
      if (err instanceof ApiError && err.status === 401 && logins.failed(client) === deps.config.loginMaxFailures)
        deps.logger.warn('web UI login: too many wrong tokens from one client; its logins are refused until its window ends', {
          client,
          failures: deps.config.loginMaxFailures,
          retry_after_seconds: logins.retryAfterSeconds(client),
        });
      throw err;
    }
  };
  const sessions = new Sessions({ idleMs: deps.config.sessionIdleMs, maxMs: deps.config.sessionMaxMs, max: deps.config.maxSessions, now: deps.now });
  const external = deps.config.externalUrl ? new URL(deps.config.externalUrl) : undefined;
  const router = new Router({ prefix: UI });

  const session = (ctx: Koa.Context): Session => ctx.state.uiSession as Session;
  const page = (ctx: Koa.Context, body: Html, status = 200) => {
    ctx.status = status;
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = body.text;
  };
  const setCookie = (ctx: Koa.Context, value: string, maxAgeSeconds: number) => {
    const secure = ctx.secure || external?.protocol === 'https:';
    ctx.set('Set-Cookie', `${COOKIE}=${value}; Path=${UI}; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`);
  };
  /** A write must come from a page of this UI: the Origin (or, without one, the Referer) is this site. */
  const sameOrigin = (ctx: Koa.Context) => {
    const allowed = new Set([`${ctx.protocol}://${ctx.host}`, ...(external ? [external.origin] : [])]);
    const origin = ctx.get('Origin');
    if (origin) return allowed.has(origin);
    const referer = ctx.get('Referer');
    try {
      return referer !== '' && allowed.has(new URL(referer).origin);
    } catch {
      return false;
    }
  };
  const checkWrite = (ctx: Koa.Context, form: Record<string, string>) => {
    if (!sameOrigin(ctx)) throw new ApiError(403, 'Cross-site request refused: the Origin of this form is not this receiver');
    if (!csrfMatches(session(ctx), form.csrf))
      throw new ApiError(403, 'The form is stale or not from this session (CSRF token mismatch): reload the page and try again');
  };

  // Headers of every UI answer; errors of UI routes as pages (or JSON for a client that asks for JSON).
  router.use(async (ctx, next) => {
    ctx.set({
      'Content-Security-Policy': CSP,
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'same-origin',
      'Cache-Control': 'no-store',
    });
    try {
      await next();
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      ctx.set(err.headers);
      if (ctx.accepts('html', 'json') === 'json' || ctx.path === `${UI}${LIVE_LIST}`) {
        ctx.status = err.status;
        ctx.body = faultBody(err.status, err.message);
      } else {
        const fault = Object.keys(faultBody(err.status, ''))[0]!;
        page(ctx, errorPage(err.status, fault, err.message, ctx.state.uiSession as Session | undefined), err.status);
      }
    }
  });

  router.get('/static/:file', (ctx, next) => {
    const file = STATIC[ctx.params.file!];
    if (!file) throw new ApiError(404, `No resource at ${ctx.method} ${ctx.path}`);
    if (!file.public) return next();
    ctx.type = file.type;
    ctx.body = file.body;
  });
  router.get('/login', (ctx) => {
    page(ctx, loginPage({ next: typeof ctx.query.next === 'string' ? safeNext(ctx.query.next) : undefined }));
  });
  router.post('/login', async (ctx) => {
    const form = await readForm(ctx.req, deps.maxBodyBytes);
    if (!sameOrigin(ctx)) throw new ApiError(403, 'Cross-site request refused: the Origin of this form is not this receiver');
    const client = loginClient(ctx.req.socket.remoteAddress ?? '', ctx.get('X-Forwarded-For') || undefined, deps.config.trustedProxies);
    let caller: Caller;
    try {
      const wait = logins.retryAfterSeconds(client);
      if (wait > 0) throw new ApiError(429, `Too many wrong tokens from this address: try again in ${wait} s`, { 'Retry-After': String(wait) });
      caller = authenticate(client, form.token ?? '');
      requireScope(caller, 'notifications:read', 'the notifications page');
    } catch (err) {
      if (!(err instanceof ApiError) || ctx.accepts('html', 'json') === 'json') throw err;
      ctx.set(err.headers);
      page(ctx, loginPage({ error: err.message, next: form.next }), err.status);
      return;
    }
    const s = sessions.create(caller);
    setCookie(ctx, s.id, Math.floor(deps.config.sessionMaxMs / 1000));
    ctx.status = 303;
    ctx.redirect(safeNext(form.next));
  });

  // Everything below needs a session.
  router.use(async (ctx, next) => {
    const s = sessions.get(ctx.cookies.get(COOKIE));
    if (!s) {
      if (ctx.method === 'GET' && ctx.accepts('html', 'json') !== 'json' && !ctx.path.endsWith('/live')) {
        ctx.status = 303;
        ctx.redirect(`${UI}/login?next=${encodeURIComponent(ctx.originalUrl)}`);
        return;
      }
      throw new ApiError(401, 'Log in first: no session, or it has ended');
    }
    ctx.state.uiSession = s;
    await next();
  });

  router.get('/static/:file', (ctx) => {
    const file = STATIC[ctx.params.file!]!;
    ctx.type = file.type;
    ctx.body = file.body;
  });
  router.post('/logout', async (ctx) => {
    checkWrite(ctx, await readForm(ctx.req, deps.maxBodyBytes));
    sessions.end(session(ctx).id);
    setCookie(ctx, '', 0);
    ctx.status = 303;
    ctx.redirect(`${UI}/login`);
  });
  router.get('/', (ctx) => {
    ctx.status = 303;
    ctx.redirect(`${UI}/notifications`);
  });

  const poolNames = deps.pools.map((p) => p.name);
  const knownHosts = () => poolNames.flatMap((p) => deps.hosts.hostsOf(p));
  const openWaits = async () => {
    const waits = await deps.store.openOperatorWaits();
    return waits.sort((a, b) => a.since - b.since);
  };

  router.get('/notifications', async (ctx) => {
    const base = {
      session: session(ctx),
      types: notificationTypes(),
      pools: poolNames,
      hosts: knownHosts(),
      waits: await openWaits(),
      refreshMs: deps.config.refreshMs,
    };
    try {
      const form = readListForm(ctx.query);
      page(ctx, listPage({ ...base, result: await listNotifications(form, { store: deps.store, hosts: deps.hosts, pools: poolNames }) }));
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 400 || ctx.accepts('html', 'json') === 'json') throw err;
      // The filter form again, with the API's message: the operator corrects the value in place.
      const form = Object.fromEntries(Object.entries(ctx.query).map(([k, v]) => [k, Array.isArray(v) ? v.at(-1) : v]));
      page(ctx, listPage({ ...base, result: { form, rows: [], scanCut: false }, error: { status: 400, message: err.message } }), 400);
    }
  });

  // The list page's live updates (ui.js): JSON, its errors too (the API's 400s naming the field).
  router.get(LIVE_LIST, async (ctx) => {
    ctx.body = await liveList(ctx.query, await openWaits(), { store: deps.store, hosts: deps.hosts, pools: poolNames });
  });

  const detailOf = async (n: Notification): Promise<Detail> => {
    const [wait, tasks, moves, forward, activity] = await Promise.all([
      deps.store.operatorWait(n.uuid),
      deps.store.tasks(n.uuid),
      deps.store.moves(n.uuid),
      deps.store.getForward(n.uuid),
      deps.store.activityOf(n.uuid),
    ]);
    const open = wait && wait.confirmedAt === null && !TERMINAL_STATUSES.includes(n.status) ? wait : undefined;
    return { n, wait: open, tasks, moves, forward, activity };
  };

  const canWrite = (ctx: Koa.Context) => requireScope(session(ctx).caller, 'notifications:write', 'creating a notification');
  router.get('/notifications/new', (ctx) => {
    canWrite(ctx);
    page(ctx, createPage({ session: session(ctx), types: notificationTypes(), hosts: knownHosts(), form: { event: 'STOPPED' } }));
  });
  router.post('/notifications', async (ctx) => {
    const form = await readForm(ctx.req, deps.maxBodyBytes);
    checkWrite(ctx, form);
    canWrite(ctx);
    const values: CreateForm = { type: form.type, hostname: form.hostname, event: form.event, generated_time: form.generated_time, payload: form.payload };
    try {
      const created = await createNotification(deps, session(ctx).caller, createBody(values, deps.now()));
      ctx.status = 303;
      ctx.redirect(detailPath(created.uuid));
    } catch (err) {
      if (!(err instanceof ApiError) || err.status >= 500 || ctx.accepts('html', 'json') === 'json') throw err;
      page(
        ctx,
        createPage({
          session: session(ctx),
          types: notificationTypes(),
          hosts: knownHosts(),
          form: values,
          error: { status: err.status, message: err.message },
        }),
        err.status,
      );
    }
  });

  router.get('/notifications/:uuid', async (ctx) => {
    const d = await detailOf(await notificationOf(deps.store, ctx.params.uuid!));
    page(ctx, detailPage(d, session(ctx), deps.config.refreshMs));
  });
  router.get('/notifications/:uuid/live', async (ctx) => {
    const d = await detailOf(await notificationOf(deps.store, ctx.params.uuid!));
    page(ctx, liveSection(d, session(ctx), deps.config.refreshMs));
  });
  router.post('/notifications/:uuid/confirm-fenced', async (ctx) => {
    const form = await readForm(ctx.req, deps.maxBodyBytes);
    checkWrite(ctx, form);
    requireScope(session(ctx).caller, 'fence:confirm', 'confirming a host is fenced');
    const value = form.host_uuid ?? '';
    try {
      await confirmFenced(deps, session(ctx).caller, ctx.params.uuid!, { host_uuid: value.trim() });
      ctx.status = 303;
      ctx.redirect(detailPath(ctx.params.uuid!));
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 400 || ctx.accepts('html', 'json') === 'json') throw err;
      const d = await detailOf(await notificationOf(deps.store, ctx.params.uuid!));
      page(ctx, detailPage(d, session(ctx), deps.config.refreshMs, { error: err.message, value }), 400);
    }
  });

  router.get('/pools', async (ctx) => {
    const pools = deps.pools.map((p) => ({ ...p, hosts: deps.hosts.hostsOf(p.name) }));
    page(ctx, poolsPage({ session: session(ctx), pools, states: await deps.store.hosts(), waits: await openWaits() }));
  });

  /** Links from Grafana (it knows hosts, not notifications): the host's newest notification, or its list. */
  router.get('/hosts/:host/latest', async (ctx) => {
    const host = ctx.params.host!;
    const form = readListForm({ host, limit: '25' });
    const { rows } = await listNotifications(form, { store: deps.store, hosts: deps.hosts, pools: poolNames });
    ctx.status = 303;
    ctx.redirect(rows[0] ? detailPath(rows[0].uuid) : `${UI}/notifications?host=${encodeURIComponent(host)}`);
  });
  router.all('/{*rest}', (ctx) => {
    throw new ApiError(404, `No resource at ${ctx.method} ${ctx.path}`);
  });

  return router;
}

/** The API's JSON body for the create form: {notification: {type, hostname, generated_time, payload}}. */
function createBody(f: CreateForm, now: number): unknown {
  let extra: unknown = {};
  if (f.payload?.trim()) {
    try {
      extra = JSON.parse(f.payload);
    } catch {
      throw new ApiError(400, `Invalid input for field/attribute payload. Value: ${JSON.stringify(f.payload.slice(0, 200))}. It is not valid JSON`);
    }
  }
  const payload = typeof extra === 'object' && extra !== null && !Array.isArray(extra) ? { ...(f.event ? { event: f.event } : {}), ...extra } : extra;
  return {
    notification: {
      type: f.type ?? '',
      hostname: f.hostname ?? '',
      generated_time: f.generated_time?.trim() || formatMasakariTime(now),
      payload,
    },
  };
}
