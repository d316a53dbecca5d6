// The receiver's HTTP server (koa). Public: version discovery (GET /, /v1), GET /health, GET /metrics. Everything
// else needs a token: the Alertmanager webhook and the Masakari API; the web UI under /ui/ its session (ui/router.ts). Every error answers JSON in Masakari's shape.
// The webhook's POSTs are answered before Koa, from node:http (intake/webhook-route.ts), with the same code.
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { Router } from '@koa/router';
import Koa from 'koa';
import type { Logger } from '../core/log.js';
import type { PoolMode, RecoveryHookConfig } from './config.js';
import type { RecoveryMetrics } from './engine/metrics.js';
import type { HostDirectory } from './hosts.js';
import { type Caller, TokenAuthenticator, requireScope } from './intake/auth.js';
import { routeScope } from './intake/scopes.js';
import { readJsonBody } from './intake/body.js';
import { ApiError, faultBody } from './intake/errors.js';
import { masakariRouter } from './intake/masakari/routes.js';
import { versionView, versionsView } from './intake/masakari/views.js';
import type { NotificationRecorder } from './intake/recorder.js';
import { type WebhookDeps, receiveWebhook } from './intake/webhook.js';
import { webhookRoute } from './intake/webhook-route.js';
import { type NotificationStore, StoreError } from './store/store.js';
import { UI } from './ui/pages.js';
import { uiRouter } from './ui/router.js';

export interface ServerDeps {
  config: Pick<RecoveryHookConfig, 'alertmanagerPath' | 'maxBodyBytes' | 'tokens' | 'ui'>;
  pools: { name: string; mode: PoolMode }[];
  store: NotificationStore;
  recorder: NotificationRecorder;
  /** Announcements of the alerts themselves (the notifiers' alert.* events). */
  alertEvents?: WebhookDeps['alertEvents'];
  hosts: HostDirectory;
  metrics: RecoveryMetrics;
  logger: Logger;
  now: () => number;
  /** An operator confirmed a fence: wake the engine. */
  onConfirmed?: () => void;
}

/** The answer to a request that failed: Masakari's fault body, with its status and headers. */
function errorAnswer(
  err: unknown,
  logger: Logger,
  request: { method: string; path: string },
): { status: number; headers: Record<string, string>; body: unknown } {
  let status = 500;
  let message = 'Internal error; see the receiver log';
  let headers: Record<string, string> = {};
  if (err instanceof ApiError) {
    ({ status, message, headers } = err);
  } else if (err instanceof StoreError && err.refusedInput) {
    // Bad input the edge validator let through: the store refuses it every time, so never a 5xx (a retry loop).
    status = 400;
    message = 'A value of this request cannot be stored (it was refused by the store); nothing was acknowledged';
    logger.warn('the store refused a value the validator let through', { ...request, error: err });
  } else if (err instanceof StoreError) {
    status = 503;
    message = 'The notification store is unavailable; nothing was acknowledged, retry later';
    headers = { 'Retry-After': '5' };
    logger.error('store failure while answering a request', { ...request, error: err });
  } else {
    logger.error('unexpected error while answering a request', { ...request, error: err });
  }
  return { status, headers, body: faultBody(status, message) };
}

function errorHandler(logger: Logger): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw new ApiError(404, `No resource at ${ctx.method} ${ctx.path}`);
    } catch (err) {
      const answer = errorAnswer(err, logger, { method: ctx.method, path: ctx.path });
      ctx.status = answer.status;
      ctx.set(answer.headers);
      ctx.body = answer.body;
    }
  };
}

/** Requests answered straight from node:http before Koa (see listen), by app. */
const directRoutes = new WeakMap<Koa, (req: IncomingMessage, res: ServerResponse) => boolean>();

export function createApp(deps: ServerDeps): Koa {
  const app = new Koa();
  const auth = new TokenAuthenticator(deps.config.tokens);
  const publicRoutes = new Router();
  const baseUrl = (ctx: Koa.Context) => `${ctx.protocol}://${ctx.host}`;
  publicRoutes.get('/', (ctx) => {
    ctx.body = versionsView(baseUrl(ctx));
  });
  publicRoutes.get(['/v1', '/v1/'], (ctx) => {
    ctx.body = { version: versionView(baseUrl(ctx)) };
  });
  publicRoutes.get('/health', async (ctx) => {
    ctx.body = { status: 'ok', notifications: await deps.store.countByStatus() };
  });
  publicRoutes.get('/metrics', async (ctx) => {
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });

  const webhook = new Router();
  const poolNames = new Set(deps.pools.map((p) => p.name));
  const webhookDeps: WebhookDeps = {
    recorder: deps.recorder,
    hosts: deps.hosts,
    pools: poolNames,
    metrics: deps.metrics,
    logger: deps.logger,
    now: deps.now,
    alertEvents: deps.alertEvents,
  };
  const answerWebhook = async (req: IncomingMessage) => {
    try {
      return await receiveWebhook(await readJsonBody(req, deps.config.maxBodyBytes), webhookDeps);
    } catch (err) {
      deps.metrics.webhooks.inc({ outcome: err instanceof ApiError && err.status < 500 ? 'rejected' : 'error' });
      throw err;
    }
  };
  webhook.post(deps.config.alertmanagerPath, async (ctx) => {
    // As well as by the path (intake/scopes.ts): whatever spelling of the path the router matched.
    requireScope(ctx.state.caller as Caller, 'alertmanager', `POST ${deps.config.alertmanagerPath}`);
    const answer = await answerWebhook(ctx.req);
    ctx.status = 202;
    ctx.body = answer;
  });
  // Unless the web UI's router (which comes first, and matches any letter case) would see the path.
  const path = deps.config.alertmanagerPath;
  const lower = path.toLowerCase();
  if (!(deps.config.ui.enabled && (lower === UI || lower.startsWith(`${UI}/`))))
    directRoutes.set(app, webhookRoute({ path, auth, answer: answerWebhook, fail: (err, request) => errorAnswer(err, deps.logger, request) }));

  const api = masakariRouter({
    store: deps.store,
    recorder: deps.recorder,
    hosts: deps.hosts,
    pools: deps.pools,
    maxBodyBytes: deps.config.maxBodyBytes,
    startedAt: deps.now(),
    now: deps.now,
    onConfirmed: deps.onConfirmed,
  });
  const methodNotAllowed = () => new ApiError(405, 'Method not allowed on this resource');
  const notImplemented = () => new ApiError(501, 'Method not implemented');

  app.use(errorHandler(deps.logger));
  app.use(publicRoutes.routes());
  // The web UI authenticates with its own session cookie (logging in takes an API token), before the API's check.
  if (deps.config.ui.enabled)
    app.use(uiRouter({ ...deps, config: deps.config.ui, tokens: deps.config.tokens, maxBodyBytes: deps.config.maxBodyBytes }).routes());
  app.use(async (ctx, next) => {
    const caller = auth.authenticate(ctx.headers);
    const needed = routeScope(ctx.method, ctx.path, deps.config.alertmanagerPath);
    if (needed) requireScope(caller, needed.scope, needed.what);
    ctx.state.caller = caller;
    await next();
  });
  app.use(webhook.routes()).use(webhook.allowedMethods({ throw: true, methodNotAllowed, notImplemented }));
  app.use(api.routes()).use(api.allowedMethods({ throw: true, methodNotAllowed, notImplemented }));
  return app;
}

/** Listen on host:port (port 0: any free port); resolves with the server and its base URL. */
export function listen(app: Koa, host: string, port: number): Promise<{ server: Server; url: string }> {
  return new Promise((resolve, reject) => {
    const koa = app.callback();
    const direct = directRoutes.get(app);
    const server = createServer(direct ? (req, res) => direct(req, res) || void koa(req, res) : koa).listen(port, host);
    server.once('error', reject);
    server.once('listening', () => {
      const address = server.address();
      const actual = typeof address === 'object' && address ? address.port : port;
      resolve({ server, url: `http://${host.includes(':') ? `[${host}]` : host}:${actual}` });
    });
  });
}
