// Wrong tokens at the UI's login, counted per client: after `maxFailures` within a window (which starts at the
// client's first failure), the client's logins are refused with 429 until the window ends, a right token included
// (else guessing would go on, only slower). A successful login does not reset the count: a holder of one token could
// otherwise guess at others between two logins. Other clients are not affected. Memory is bounded: at most
// `maxClients` clients are remembered; when full, ended windows go first, then the client whose last failure is oldest.
import { isIP, isIPv6 } from 'node:net';

export interface LoginLimits {
  maxFailures: number;
  windowMs: number;
  maxClients: number;
  now: () => number;
}

interface Failures {
  windowStart: number;
  count: number;
}

export class LoginLimiter {
  /** Ordered by last failure, oldest first (a failure moves its client to the end). */
  readonly #byClient = new Map<string, Failures>();

  constructor(private readonly limits: LoginLimits) {}

  get size(): number {
    return this.#byClient.size;
  }

  /** Seconds until `client` may log in again (0: now). */
  retryAfterSeconds(client: string): number {
    const f = this.#byClient.get(client);
    const now = this.limits.now();
    if (!f || this.#ended(f, now)) return 0;
    return f.count < this.limits.maxFailures ? 0 : Math.max(1, Math.ceil((f.windowStart + this.limits.windowMs - now) / 1000));
  }

  /** A wrong token from `client`: its failures in the current window, this one included. */
  failed(client: string): number {
    const now = this.limits.now();
    const known = this.#byClient.get(client);
    this.#byClient.delete(client);
    const f = known && !this.#ended(known, now) ? known : { windowStart: now, count: 0 };
    f.count++;
    if (this.#byClient.size >= this.limits.maxClients) this.#makeRoom(now);
    this.#byClient.set(client, f);
    return f.count;
  }

  #ended(f: Failures, now: number): boolean {
    return now - f.windowStart >= this.limits.windowMs;
  }

  #makeRoom(now: number): void {
    for (const [client, f] of this.#byClient) if (this.#ended(f, now)) this.#byClient.delete(client);
    while (this.#byClient.size >= this.limits.maxClients) this.#byClient.delete(this.#byClient.keys().next().value!);
  }
}

/**
 * Who a login comes from: the peer's address, or, when the peer is a trusted reverse proxy, the nearest address of
 * X-Forwarded-For that is not one. An IPv6 client is its /64 (one host usually holds a whole /64); an IPv4-mapped IPv6
 * address is the IPv4 address.
 */
export function loginClient(peer: string, forwardedFor: string | undefined, trustedProxies: readonly string[]): string {
  let client = plain(peer);
  if (forwardedFor !== undefined && trustedProxies.includes(client)) {
    const chain = forwardedFor.split(',').map((a) => plain(a.trim()));
    // From the right: each trusted proxy appended the address it saw. Something not an address ends the walk.
    while (chain.length > 0 && trustedProxies.includes(client) && isIP(chain.at(-1)!)) client = chain.pop()!;
  }
  return isIPv6(client) ? prefix64(client) : client;
}

function plain(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address.toLowerCase();
}

/** The first four groups of an IPv6 address, "::" expanded: 2001:db8::1 → 2001:db8:0:0::/64. */
function prefix64(address: string): string {
  const [head = '', tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
