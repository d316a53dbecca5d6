// API authentication: `Authorization: Bearer <token>` or `X-Auth-Token: <token>` (what OpenStack clients send).
// Tokens are compared as SHA-256 digests in constant time (core/tokens.ts), against every configured token without an early
// exit, so the time taken says nothing about how much of a token matched or which one. Each token carries scopes
// (`recovery_hook.tokens[].scopes`); a request outside them is refused with 403, as Masakari's policy checks do.
import type { IncomingHttpHeaders } from 'node:http';
import type { ApiToken, TokenScope } from '../config.js';
import { ApiError } from './errors.js';
import { digestsMatch, tokenDigest } from '../../core/tokens.js';

/** The token presented in the headers, if any. */
export function presentedToken(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m ? m[1] : undefined;
  }
  const token = headers['x-auth-token'];
  return typeof token === 'string' && token ? token : undefined;
}

/** Who sent a request: the configured token's name and scopes. */
export interface Caller {
  name: string;
  scopes: readonly TokenScope[];
}

/** Throws the 403 for a caller without `scope`, saying what the scope is needed for. */
export function requireScope(caller: Caller, scope: TokenScope, what: string): void {
  if (!caller.scopes.includes(scope))
    throw new ApiError(403, `Policy doesn't allow this request: ${what} needs scope ${scope}; token "${caller.name}" has ${caller.scopes.join(', ')}`);
}

export class TokenAuthenticator {
  readonly #tokens: { caller: Caller; digest: Buffer }[];

  constructor(tokens: ApiToken[]) {
    this.#tokens = tokens.map((t) => ({ caller: { name: t.name, scopes: t.scopes }, digest: tokenDigest(t.token.reveal()) }));
  }

  /** The token the request carries (name and scopes); throws a 401 ApiError otherwise. */
  authenticate(headers: IncomingHttpHeaders): Caller {
    const challenge = { 'WWW-Authenticate': 'Bearer realm="xcp-sentinel recovery hook"' };
    const token = presentedToken(headers);
    if (!token) throw new ApiError(401, 'Authentication required: send "Authorization: Bearer <token>" or "X-Auth-Token: <token>"', challenge);
    const presented = tokenDigest(token);
    let match: Caller | undefined;
    for (const t of this.#tokens) if (digestsMatch(presented, t.digest) && match === undefined) match = t.caller;
    if (match === undefined) throw new ApiError(401, 'The token is not valid', challenge);
    return match;
  }
}
