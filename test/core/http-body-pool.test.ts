// Response bodies read into reused buffers (HttpClient.read with a BodyPool): the body is exactly what was sent
// whatever its size against the buffer, two reads in flight never share a buffer, a body cut mid-way, too large or
// too slow fails without its reader being called and gives its buffer back, and the pool keeps at most one buffer
// per slot.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { HttpError, TimeoutError } from '../../core/errors.js';
import { BodyPool, PooledSink } from '../../core/http/body-pool.js';
import { HttpClient } from '../../core/http/client.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

async function serve(t: Test, handler: Handler): Promise<string> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** `n` bytes of a pattern that depends on `seed`, so that two bodies (or a body and a stale buffer) differ. */
const bytes = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

t.test('the pool: grow-only, one holder per buffer, at most `slots` kept', async (t) => {
  const pool = new BodyPool(2);
  const a = pool.take(100);
  const b = pool.take(100);
  t.not(a, b, 'two takes without a give are two buffers');
  pool.give(a);
  pool.give(a);
  t.equal(pool.heldBytes(), 100, 'a buffer given twice is kept once');
  t.equal(pool.take(50), a, 'a free buffer large enough is reused');
  pool.give(a);
  const big = pool.take(1000);
  t.not(big, a, 'too small: a larger one');
  t.ok(big.length >= 1000);
  t.equal(pool.heldBytes(), 0, 'the smaller one is dropped');
  pool.give(big);
  pool.give(b);
  pool.give(Buffer.alloc(10));
  t.equal(pool.heldBytes(), 1100, 'no more than two kept');
});

t.test('a sink without Content-Length grows past its first buffer and keeps the bytes', async (t) => {
  const pool = new BodyPool(1);
  pool.give(Buffer.alloc(8));
  const sink = new PooledSink(pool);
  const sent = bytes(700_000, 3);
  for (let i = 0; i < sent.length; i += 65_536) sink.add(sent.subarray(i, i + 65_536));
  t.ok(sink.body().equals(sent));
  sink.release();
  t.ok(pool.heldBytes() >= sent.length, 'the grown buffer is the one kept');
  t.equal(new PooledSink(pool).body().length, 0, 'nothing read: an empty body');
});

t.test('bodies larger than the pooled buffer, chunked or announced', async (t) => {
  const client = new HttpClient();
  t.teardown(() => client.close());
  const sizes = [10, 300_000, 2_500_000];
  const url = await serve(t, (req, res) => {
    const n = Number(new URL(req.url!, 'http://x').searchParams.get('n'));
    const body = bytes(n, n);
    if (req.url!.includes('chunked')) {
      // No Content-Length: the sink grows as the chunks come.
      for (let i = 0; i < n; i += 100_000) res.write(body.subarray(i, i + 100_000));
      res.end();
    } else {
      res.setHeader('content-length', n);
      res.end(body);
    }
  });
  const pool = new BodyPool(1);
  pool.give(Buffer.alloc(1024));
  let largest = 1024;
  for (const mode of ['chunked', 'length']) {
    for (const n of sizes) {
      largest = Math.max(largest, n);
      const got = await client.read(`${url}/${mode}?n=${n}`, { timeoutMs: 5000 }, pool, (res) => {
        t.equal(res.status, 200);
        return Buffer.from(res.body);
      });
      t.ok(got.equals(bytes(n, n)), `${mode} ${n} bytes: the same bytes`);
      t.ok(pool.heldBytes() >= n, 'the buffer is back in the pool, grown');
      t.ok(pool.heldBytes() <= Math.max(2 * largest, 256 * 1024), 'grown no more than twice what was needed');
    }
  }
  // A small body after the large ones reuses the large buffer: the view is only the body.
  const small = await client.read(`${url}/length?n=10`, { timeoutMs: 5000 }, pool, (res) => res.body.length);
  t.equal(small, 10);
});

t.test('two reads in flight never share a buffer', async (t) => {
  const client = new HttpClient();
  t.teardown(() => client.close());
  const waiting: http.ServerResponse[] = [];
  let release = () => {};
  const bothStarted = new Promise<void>((r) => (release = r));
  const n = 400_000;
  const url = await serve(t, (req, res) => {
    const seed = Number(req.url!.slice(1));
    res.setHeader('content-length', n);
    res.write(bytes(n, seed).subarray(0, 1000));
    (res as unknown as { seed: number }).seed = seed;
    waiting.push(res);
    if (waiting.length === 2) release();
  });
  const pool = new BodyPool(2);
  const held: Buffer[] = [];
  const read = (seed: number) =>
    client.read(`${url}/${seed}`, { timeoutMs: 5000 }, pool, (res) => {
      held.push(res.body);
      t.ok(res.body.equals(bytes(n, seed)), `body ${seed} intact`);
      return seed;
    });
  const a = read(1);
  const b = read(2);
  await bothStarted;
  // The first answer finishes (and its reader runs) while the second is still being received, then the second.
  for (const res of waiting) {
    const seed = (res as unknown as { seed: number }).seed;
    await new Promise<void>((r) => res.end(bytes(n, seed).subarray(1000), r));
    await (seed === 1 ? a : b);
  }
  t.same(await Promise.all([a, b]), [1, 2]);
  t.equal(held.length, 2);
  t.not(held[0]!.buffer, held[1]!.buffer, 'different buffers');
  t.equal(pool.heldBytes(), 2 * n, 'both back in the pool');
});

t.test('a body cut mid-way, too large or too slow: the reader is not called, the buffer is back', async (t) => {
  const client = new HttpClient();
  t.teardown(() => client.close());
  const url = await serve(t, (req, res) => {
    res.setHeader('content-length', 1_000_000);
    res.write(bytes(300_000, 1));
    if (req.url === '/cut') setTimeout(() => res.socket?.destroy(), 50);
    if (req.url === '/large') res.end(bytes(700_000, 2));
    // /slow: never ends.
  });
  let pool = new BodyPool(1);
  let called = 0;
  const reader = () => called++;
  const cut = await client.read(`${url}/cut`, { timeoutMs: 5000 }, pool, reader).catch((e: unknown) => e);
  t.type(cut, HttpError, 'cut mid-way');
  t.equal(pool.heldBytes(), 1_000_000, 'taken at its Content-Length, given back');
  pool = new BodyPool(1);
  const large = await client.read(`${url}/large`, { timeoutMs: 5000, maxBodyBytes: 500_000 }, pool, reader).catch((e: unknown) => e);
  t.type(large, HttpError, 'too large');
  t.match((large as Error).message, /exceeds 500000 bytes/);
  t.equal(pool.heldBytes(), 500_000, 'an announced length past maxBodyBytes takes no more');
  const started = Date.now();
  const slow = await client.read(`${url}/slow`, { timeoutMs: 300 }, pool, reader).catch((e: unknown) => e);
  t.type(slow, TimeoutError, 'too slow');
  t.ok(Date.now() - started < 4000, 'the timeout still ends the read');
  t.equal(called, 0, 'no reader called');
  t.ok(pool.heldBytes() > 0, 'the buffer is back in the pool');
});

t.test('a reader that throws gives the buffer back; more reads than slots keep at most `slots`', async (t) => {
  const client = new HttpClient();
  t.teardown(() => client.close());
  const pending: http.ServerResponse[] = [];
  const url = await serve(t, (req, res) => {
    res.setHeader('content-length', 100_000);
    res.write(bytes(50_000, 5));
    if (req.url === '/one') res.end(bytes(50_000, 6));
    // /many: the six answers end together, once all six are half read (each holds a buffer).
    else if (pending.push(res) === 6) for (const r of pending) r.end(bytes(50_000, 6));
  });
  const pool = new BodyPool(2);
  const thrown = await client
    .read(`${url}/one`, { timeoutMs: 5000 }, pool, () => {
      throw new Error('parse failed');
    })
    .catch((e: unknown) => e);
  t.match(thrown, { message: 'parse failed' });
  t.equal(pool.heldBytes(), 100_000, 'given back (taken at its Content-Length)');
  const held = new Set<ArrayBufferLike>();
  const lengths = await Promise.all(
    Array.from({ length: 6 }, () =>
      client.read(`${url}/many`, { timeoutMs: 5000 }, pool, (res) => {
        held.add(res.body.buffer);
        return res.body.length;
      }),
    ),
  );
  t.same(lengths, Array(6).fill(100_000));
  t.ok(held.size > 2, 'more buffers than slots while more reads than slots were in flight');
  t.equal(pool.heldBytes(), 2 * 100_000, 'two kept, no more');
});
