// API authentication: `Authorization: Bearer <token>` or `X-Auth-Token: <token>` (what OpenStack clients send).
// Tokens are compared as SHA-256 digests with crypto.timingSafeEqual, against every configured token without an early
// exit, so the time taken says nothing about how much of a token matched or which one.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { ApiToken } from '../config.js';
import { ApiError } from './errors.js';

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

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

export class TokenAuthenticator {
  readonly #tokens: { name: string; digest: Buffer }[];

  constructor(tokens: ApiToken[]) {
    this.#tokens = tokens.map((t) => ({ name: t.name, digest: digest(t.token.reveal()) }));
  }

  /** The name of the token the request carries; throws a 401 ApiError otherwise. */
  authenticate(headers: IncomingHttpHeaders): string {
    const challenge = { 'WWW-Authenticate': 'Bearer realm="xcp-sentinel recovery hook"' };
    const token = presentedToken(headers);
    if (!token) throw new ApiError(401, 'Authentication required: send "Authorization: Bearer <token>" or "X-Auth-Token: <token>"', challenge);
    const presented = digest(token);
    let match: string | undefined;
    for (const t of this.#tokens) if (timingSafeEqual(presented, t.digest) && match === undefined) match = t.name;
    if (match === undefined) throw new ApiError(401, 'The token is not valid', challenge);
    return match;
  }
}
