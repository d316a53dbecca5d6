// The limit of serving a body over HTTP on this machine: a minimal node:http server answering every request with one
// pre-made Buffer (our body's bytes, plain or gzip). Ours can only approach it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LimitServer {
  url: string;
  stop(): Promise<void>;
}

export async function startBufferServer(body: Buffer, headers: Record<string, string>): Promise<LimitServer> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { ...headers, 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`,
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
