// readJsonBody (intake/body.ts) reads a request's body with the stream's events: chunks in any split (a character
// cut between two chunks), the size limit without a Content-Length (chunked), a client that leaves mid-body (the read
// ends, it never hangs), and a body already read. A real node:http server and raw sockets, as a sender would.
import { once } from 'node:events';
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import t from 'tap';
import { ApiError } from '../../recovery-hooks/intake/errors.js';
import { readJsonBody } from '../../recovery-hooks/intake/body.js';

/** A server whose every request is read by readJsonBody (limit 64 bytes); each outcome is handed to `seen`. */
async function server(seen: (outcome: { value?: unknown; error?: unknown }) => void, before?: (req: IncomingMessage) => Promise<void>) {
  const s = http.createServer((req, res) => {
    void (async () => {
      await before?.(req);
      try {
        const value = await readJsonBody(req, 64);
        seen({ value });
        res.end('ok');
      } catch (error) {
        seen({ error });
        if (!res.destroyed) res.writeHead(error instanceof ApiError ? error.status : 500).end();
      }
    })();
  });
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  return { port: (s.address() as AddressInfo).port, close: () => new Promise((r) => s.close(r)) };
}

/** Write `parts` on a raw connection, a pause between them; resolves with what the server answered (or '' when it hung up). */
async function send(port: number, parts: (string | Buffer)[], end = true): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  const closed = new Promise((r) => socket.once('close', r));
  await once(socket, 'connect');
  let answer = '';
  socket.on('data', (d) => (answer += d));
  socket.on('error', () => undefined);
  for (const p of parts) {
    socket.write(p);
    await new Promise((r) => setTimeout(r, 20));
  }
  if (!end) {
    socket.destroy();
    return '';
  }
  await Promise.race([closed, new Promise((r) => setTimeout(r, 2000))]);
  return answer;
}

const head = (length?: number) =>
  `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n${length === undefined ? 'Transfer-Encoding: chunked\r\n' : `Content-Length: ${length}\r\n`}\r\n`;
const chunk = (b: Buffer) => Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')]);

t.test('a body split anywhere, even inside a character, is read whole', async (t) => {
  const outcomes: { value?: unknown; error?: unknown }[] = [];
  const s = await server((o) => outcomes.push(o));
  t.teardown(s.close);
  const body = Buffer.from(JSON.stringify({ name: 'vm-é€😀' }));
  const cut = body.indexOf(Buffer.from('€')) + 1; // inside the three bytes of €
  const answer = await send(s.port, [head(body.length), body.subarray(0, cut), body.subarray(cut)]);
  t.match(answer, /^HTTP\/1.1 200/);
  t.same(outcomes, [{ value: { name: 'vm-é€😀' } }]);
});

t.test('a chunked body over the limit is refused with 413 as it arrives', async (t) => {
  const outcomes: { value?: unknown; error?: unknown }[] = [];
  const s = await server((o) => outcomes.push(o));
  t.teardown(s.close);
  await send(s.port, [head(), chunk(Buffer.from(`{"a":"${'x'.repeat(40)}`)), chunk(Buffer.from(`${'y'.repeat(40)}"}`)), '0\r\n\r\n']);
  t.equal(outcomes.length, 1);
  t.ok(outcomes[0]!.error instanceof ApiError);
  t.equal((outcomes[0]!.error as ApiError).status, 413);
  t.match((outcomes[0]!.error as Error).message, /larger than 64 bytes/);
});

t.test('a client that leaves mid-body ends the read (no hang), and the server goes on', async (t) => {
  const outcomes: { value?: unknown; error?: unknown }[] = [];
  const s = await server((o) => outcomes.push(o));
  t.teardown(s.close);
  await send(s.port, [head(50), '{"a": "only part'], false);
  for (let i = 0; i < 100 && !outcomes.length; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(outcomes.length, 1, 'the read ended');
  t.match((outcomes[0]!.error as { code?: string }).code, /ERR_STREAM_PREMATURE_CLOSE|ECONNRESET/);
  t.match(await send(s.port, [head(2), '{}']), /^HTTP\/1.1 200/, 'the next request is read');
});

t.test('a request that closed before it is read, or whose body was read already, is answered at once', async (t) => {
  const outcomes: { value?: unknown; error?: unknown }[] = [];
  const gone = await server(
    (o) => outcomes.push(o),
    async (req) => {
      // Wait until the client has gone and Node has closed the request.
      if (!req.destroyed) await new Promise((r) => req.once('close', r));
    },
  );
  t.teardown(gone.close);
  await send(gone.port, [head(50), '{"a"'], false);
  for (let i = 0; i < 100 && !outcomes.length; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(outcomes.length, 1, 'a closed request does not hang the read');
  t.equal((outcomes[0]!.error as { code?: string }).code, 'ERR_STREAM_PREMATURE_CLOSE');

  const read: { value?: unknown; error?: unknown }[] = [];
  const drained = await server(
    (o) => read.push(o),
    async (req) => {
      req.resume();
      await once(req, 'end');
    },
  );
  t.teardown(drained.close);
  await send(drained.port, [head(2), '{}']);
  t.equal(read.length, 1);
  t.equal((read[0]!.error as ApiError).status, 400, 'nothing left to read: the empty body');
});
