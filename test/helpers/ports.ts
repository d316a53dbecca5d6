// Ports for tests that need a port nobody listens on for a while (a peer down, then up on the same port): one below
// the system's ephemeral range, which the system never gives to a server listening on port 0 — every test's, in
// this process or another — so nothing else answers there meanwhile.
import { readFileSync } from 'node:fs';
import { freePort } from '../../core/net.js';

function ephemeralLow(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768; // not Linux: the common default
  }
}

/** A random free port from 10000 up to the ephemeral range (where the range starts lower, one the system picks). */
export async function quietPort(): Promise<number> {
  const low = ephemeralLow();
  if (low <= 11_000) return freePort();
  for (let attempt = 0; attempt < 50; attempt++) {
    const candidate = 10_000 + Math.floor(Math.random() * (low - 10_000));
    if ((await freePort(candidate)) === candidate) return candidate;
  }
  throw new Error('no free port below the ephemeral range');
}
