// Browser sessions of the web UI: a random id in an HttpOnly SameSite=Strict cookie, bound here to the token's name and
// scopes (never the token itself) and to a CSRF token the pages put in their forms. Bounded: a session ends after
// `idleMs` without use or `maxMs` in all; beyond `max` sessions, a login ends the least recently used one.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Caller } from '../intake/auth.js';

export interface Session {
  id: string;
  caller: Caller;
  /** Sent back by every form of the session's pages; a write without it is refused. */
  csrf: string;
  createdAt: number;
  lastSeen: number;
}

export interface SessionLimits {
  idleMs: number;
  maxMs: number;
  max: number;
  now: () => number;
}

const newId = () => randomBytes(32).toString('base64url');

export class Sessions {
  /** In least-recently-used order (a use moves a session to the end). */
  readonly #byId = new Map<string, Session>();

  constructor(private readonly limits: SessionLimits) {}

  get size(): number {
    return this.#byId.size;
  }

  create(caller: Caller): Session {
    const now = this.limits.now();
    this.#sweep(now);
    while (this.#byId.size >= this.limits.max) this.#byId.delete(this.#byId.keys().next().value!);
    const session: Session = { id: newId(), caller, csrf: newId(), createdAt: now, lastSeen: now };
    this.#byId.set(session.id, session);
    return session;
  }

  /** The live session with this id (its idle clock restarted), or undefined. */
  get(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const session = this.#byId.get(id);
    if (!session) return undefined;
    const now = this.limits.now();
    this.#byId.delete(id);
    if (this.#expired(session, now)) return undefined;
    session.lastSeen = now;
    this.#byId.set(id, session);
    return session;
  }

  end(id: string | undefined): void {
    if (id) this.#byId.delete(id);
  }

  #expired(s: Session, now: number): boolean {
    return now - s.lastSeen > this.limits.idleMs || now - s.createdAt > this.limits.maxMs;
  }

  #sweep(now: number): void {
    for (const [id, s] of this.#byId) if (this.#expired(s, now)) this.#byId.delete(id);
  }
}

/** Whether a form's CSRF field is the session's (constant time). */
export function csrfMatches(session: Session, presented: string | undefined): boolean {
  if (typeof presented !== 'string') return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(session.csrf);
  return a.length === b.length && timingSafeEqual(a, b);
}
