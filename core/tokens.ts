// Bearer-token comparison for every HTTP API of the bundle (the exporter's /metrics, the recovery hook's API). Tokens
// are compared as SHA-256 digests, which have equal length, with crypto.timingSafeEqual: the time taken says nothing
// about how much of a token matched.
import { createHash, timingSafeEqual } from 'node:crypto';

/** The SHA-256 digest a token is compared by (keep the configured tokens' digests, not the tokens). */
export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Constant-time comparison of two token digests. */
export function digestsMatch(presented: Buffer, expected: Buffer): boolean {
  return timingSafeEqual(presented, expected);
}

/** Constant-time comparison of a presented token with the configured one. */
export function tokenMatches(presented: string, expected: string): boolean {
  return digestsMatch(tokenDigest(presented), tokenDigest(expected));
}
