// POST <alertmanager_path>, answered straight from node:http instead of through Koa: the webhook is the receiver's
// one high-rate route, and Koa's context, middleware chain and routers cost about as much CPU per delivery as
// validating its alerts (profiles, bench/RESULTS.md "intake (session 7)"). Same checks and answers as the Koa route:
// the token and its scope first (401/403), then the body and the alerts (server.ts answerWebhook), errors in
// Masakari's shape (server.ts errorAnswer). Other methods and paths go to Koa.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pathOf, sendJson } from '../../core/http/answer.js';
import type { TokenAuthenticator } from './auth.js';
import { requireScope } from './auth.js';
import { routeScope } from './scopes.js';

export interface WebhookRouteOptions {
  path: string;
  auth: TokenAuthenticator;
  /** The 202 answer's body, or a throw (the body or the store said no). */
  answer(req: IncomingMessage): Promise<unknown>;
  /** The answer to a failure, as the Koa error handler gives it. */
  fail(err: unknown, request: { method: string; path: string }): { status: number; headers: Record<string, string>; body: unknown };
}

/** A request handler that takes the webhook's POSTs (returns true) and leaves every other request to Koa (false). */
export function webhookRoute(opts: WebhookRouteOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const needed = routeScope('POST', opts.path, opts.path)!;
  return (req, res) => {
    if (req.method !== 'POST' || pathOf(req.url) !== opts.path) return false;
    const answer = async () => {
      requireScope(opts.auth.authenticate(req.headers), needed.scope, needed.what);
      return opts.answer(req);
    };
    answer().then(
      (body) => sendJson(res, 202, body),
      (err: unknown) => {
        const failed = opts.fail(err, { method: 'POST', path: opts.path });
        sendJson(res, failed.status, failed.body, failed.headers);
      },
    );
    return true;
  };
}
