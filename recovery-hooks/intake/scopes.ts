// Which token scope each authenticated route needs (`recovery_hook.tokens[].scopes`). Payload-level checks (a
// `host_status: NORMAL` fence assertion needs `fence:assert` as well) are made by the route that reads the payload.
import type { TokenScope } from '../config.js';

// Koa's routers match paths in any letter case, with or without one trailing slash: so do these (a route the
// routers answer must never be reached without its scope, e.g. POST /alertmanager/ with a read-only token).
const CONFIRM_FENCED = /^\/v1\/notifications\/[^/]+\/confirm-fenced\/?$/i;
const NOTIFICATIONS = /^\/v1\/notifications\/?$/i;

/** A path as the routers compare it. */
function routed(path: string): string {
  return (path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path).toLowerCase();
}

/** The scope a request needs, with what it is for (the 403 names both); undefined when the route itself refuses it. */
export function routeScope(method: string, path: string, alertmanagerPath: string): { scope: TokenScope; what: string } | undefined {
  if (routed(path) === routed(alertmanagerPath)) return { scope: 'alertmanager', what: `POST ${alertmanagerPath}` };
  if (method === 'GET' || method === 'HEAD') return { scope: 'notifications:read', what: `${method} ${path}` };
  if (method !== 'POST') return undefined;
  if (CONFIRM_FENCED.test(path)) return { scope: 'fence:confirm', what: 'confirming a host is fenced' };
  if (NOTIFICATIONS.test(path)) return { scope: 'notifications:write', what: 'POST /v1/notifications' };
  return undefined;
}
