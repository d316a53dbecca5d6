// Loopback ports for servers the bundle's tools start (the demo's peers, Prometheus for the dashboards' preview, the
// tests' peers).
import net from 'node:net';

function tryListen(port: number, host: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(undefined));
    s.listen(port, host, () => {
      const got = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(got));
    });
  });
}

/**
 * A free TCP port on `host` (bound, then released) for a server that starts later: `preferred` when it is free, else
 * one the system picks. Another process may take it in between; callers that start a peer on it retry on EADDRINUSE
 * or accept the (rare) failure.
 */
export async function freePort(preferred = 0, host = '127.0.0.1'): Promise<number> {
  const got = (preferred ? await tryListen(preferred, host) : undefined) ?? (await tryListen(0, host));
  if (got === undefined) throw new Error(`no free port on ${host}`);
  return got;
}
