// Which token scope each authenticated route needs (`recovery_hook.tokens[].scopes`). Payload-level checks (a
// `host_status: NORMAL` fence assertion needs `fence:assert` as well) are made by the route that reads the payload.
import type { TokenScope } from '../config.js';

const CONFIRM_FENCED = /^\/v1\/notifications\/[^/]+\/confirm-fenced\/?$/;
const NOTIFICATIONS = /^\/v1\/notifications\/?$/;

/** The scope a request needs, with what it is for (the 403 names both); undefined when the route itself refuses it. */
export function routeScope(method: string, path: string, alertmanagerPath: string): { scope: TokenScope; what: string } | undefined {
  if (path === alertmanagerPath) return { scope: 'alertmanager', what: `POST ${alertmanagerPath}` };
  if (method === 'GET' || method === 'HEAD') return { scope: 'notifications:read', what: `${method} ${path}` };
  if (method !== 'POST') return undefined;
  if (CONFIRM_FENCED.test(path)) return { scope: 'fence:confirm', what: 'confirming a host is fenced' };
  if (NOTIFICATIONS.test(path)) return { scope: 'notifications:write', what: 'POST /v1/notifications' };
  return undefined;
}
