// SSH host keys are pinned: a SHA256 fingerprint from the config (by host name or address) or an OpenSSH
// known_hosts file. An unknown or changed key refuses the connection before any command is sent.
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';

export { HostKeyError } from './errors.js';

export interface HostKeyPolicy {
  /** Host name or address → `SHA256:<base64>` as `ssh-keygen -lf` prints it. Wins over the known_hosts file. */
  fingerprints: Record<string, string>;
  /** An OpenSSH known_hosts file (plain or hashed host names, `@revoked` honoured); read at each connection. */
  knownHostsFile?: string;
}

export interface SshTarget {
  /** The name the operator knows (XAPI name_label): used in messages and to look up pinned fingerprints. */
  name: string;
  /** What to connect to. */
  address: string;
}

/** OpenSSH's fingerprint format: SHA256:<base64 without padding>. */
export function sshFingerprint(key: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(key).digest('base64').replace(/=+$/, '');
}

/** `SHA256:abc=` and `SHA256:abc` are the same fingerprint (ssh-keygen omits the padding, some tools keep it). */
const normalise = (fingerprint: string) => fingerprint.trim().replace(/=+$/, '');

function hostPatternMatches(pattern: string, names: string[]): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    if (!salt || !hash) return false;
    return names.some((n) => createHmac('sha1', Buffer.from(salt, 'base64')).update(n).digest('base64') === hash);
  }
  return names.includes(pattern);
}

/** Is `key` a known key of `host` in this known_hosts text? Revoked keys never are. */
export function knownHostsAccepts(text: string, host: string, port: number, key: Buffer): boolean {
  const names = port === 22 ? [host] : [`[${host}]:${port}`];
  let accepted = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    const marker = fields[0]!.startsWith('@') ? fields.shift() : undefined;
    const [hosts, , blob] = fields;
    if (!hosts || !blob || marker === '@cert-authority') continue;
    if (!hosts.split(',').some((p) => hostPatternMatches(p, names))) continue;
    if (!Buffer.from(blob, 'base64').equals(key)) continue;
    if (marker === '@revoked') return false;
    accepted = true;
  }
  return accepted;
}

export type HostKeyVerdict = { ok: true } | { ok: false; presented: string; reason: string };

/**
 * Whether `key` is the pinned host key of `target`: its fingerprint (by name, then address) when one is
 * configured, else the known_hosts file (looked up by address and port, as `ssh` would), else refused.
 */
export function checkHostKey(policy: HostKeyPolicy, target: SshTarget, port: number, key: Buffer): HostKeyVerdict {
  const presented = sshFingerprint(key);
  const pinned = policy.fingerprints[target.name] ?? policy.fingerprints[target.address];
  if (pinned) {
    return normalise(pinned) === presented ? { ok: true } : { ok: false, presented, reason: `does not match the pinned fingerprint ${pinned}` };
  }
  if (!policy.knownHostsFile) return { ok: false, presented, reason: 'is not pinned: no fingerprint configured and no known_hosts file' };
  let text: string;
  try {
    text = readFileSync(policy.knownHostsFile, 'utf8');
  } catch (err) {
    return {
      ok: false,
      presented,
      reason: `cannot be checked: known_hosts file ${policy.knownHostsFile} unreadable (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    };
  }
  return knownHostsAccepts(text, target.address, port, key)
    ? { ok: true }
    : { ok: false, presented, reason: `is not a known key of ${port === 22 ? target.address : `[${target.address}]:${port}`} in ${policy.knownHostsFile}` };
}
