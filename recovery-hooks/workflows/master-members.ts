// The pool's hosts asked directly, and the choice of the member to promote. Pure but for probeAll.
import { mapSettledLimit } from '../../core/concurrency.js';
import type { ProbeResult } from '../../core/xapi/client.js';
import type { MasterFailoverAccess, PoolHost } from './deps.js';

export interface HostAnswer {
  host: PoolHost;
  result: ProbeResult;
}

/** Hosts asked at once at most: a pool has up to 64. */
const CONCURRENCY = 16;

/** Ask every host who it is (a login at its own address), `timeoutMs` each. */
export async function probeAll(access: Pick<MasterFailoverAccess, 'probe'>, hosts: PoolHost[], timeoutMs: number): Promise<HostAnswer[]> {
  const settled = await mapSettledLimit(hosts, CONCURRENCY, (h) => access.probe(h.address, timeoutMs));
  return hosts.map((host, i) => {
    const r = settled[i]!;
    return { host, result: r.status === 'fulfilled' ? r.value : { state: 'silent', error: r.reason as Error } };
  });
}

/**
 * Acts as master: accepted the login, or refused our password — only a master checks it; a member answers
 * HOST_IS_SLAVE first (ocaml/xapi/xapi_session.ml login_with_password).
 */
export function answersAsMaster(a: HostAnswer): boolean {
  return a.result.state === 'master' || (a.result.state === 'answers' && a.result.code === 'SESSION_AUTHENTICATION_FAILED');
}

/** A member whose toolstack answers: HOST_IS_SLAVE, or another error that is not a master's (e.g. emergency mode). */
export function answersAsMember(a: HostAnswer): boolean {
  return a.result.state === 'member' || (a.result.state === 'answers' && !answersAsMaster(a));
}

/**
 * The member to promote: the first of `candidates` (host names or uuids) that answers, else the answering member
 * first by name (then uuid). `notes`: candidates that name no host or several.
 */
export function chooseMember(candidates: string[], answers: HostAnswer[]): { chosen?: PoolHost; notes: string[] } {
  const notes: string[] = [];
  const preferred: HostAnswer[] = [];
  for (const key of candidates) {
    const matched = answers.filter((a) => a.host.name === key || a.host.uuid.toLowerCase() === key.toLowerCase());
    if (matched.length === 0) notes.push(`master_failover.candidates: "${key}" names no member of the pool (besides the lost master)`);
    else if (matched.length > 1) notes.push(`master_failover.candidates: "${key}" is ambiguous (${matched.map((a) => a.host.name).join(', ')}): skipped`);
    else preferred.push(matched[0]!);
  }
  const byName = [...answers].sort((a, b) => a.host.name.localeCompare(b.host.name) || a.host.uuid.localeCompare(b.host.uuid));
  const chosen = [...preferred, ...byName].find(answersAsMember);
  return { chosen: chosen?.host, notes };
}

/**
 * Answering hosts that disagree with `masters` (addresses): a host acting as master that is not one of them, or a
 * member whose HOST_IS_SLAVE names another address. A pool in that state was changed by someone else (a half-done
 * manual failover, another receiver on another store, a partition): nothing is promoted until a person looks.
 */
export function disagreeing(answers: HostAnswer[], masters: string[]): HostAnswer[] {
  return answers.filter((a) => (answersAsMaster(a) ? !masters.includes(a.host.address) : a.result.state === 'member' && !masters.includes(a.result.master)));
}

/** One host's answer in words, for progress and operator waits. */
export function describeAnswer(a: HostAnswer): string {
  const r = a.result;
  return `${a.host.name}: ${r.state === 'member' ? `member of ${r.master}` : r.state === 'answers' ? r.code : r.state}`;
}
