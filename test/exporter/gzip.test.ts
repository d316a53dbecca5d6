// gzip bodies assembled from pieces compressed apart (exporter/metrics/gzip.ts): any gzip reader gets the exact bytes
// back, and the CRC-32 combined from the pieces is the CRC of the whole; a large snapshot's two formats share them.
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { buffer } from 'node:stream/consumers';
import { crc32, gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import t from 'tap';
import { ChunkPool, ChunkWriter } from '../../exporter/metrics/chunks.js';
import { FamilySet, labelString } from '../../exporter/metrics/families.js';
import { PieceDeflater, PieceInflater, crc32Combine, deflatePiece, gzipOf, storedPiece } from '../../exporter/metrics/gzip.js';
import { bodyBuffers, renderFamily } from '../../exporter/metrics/render.js';
import { HeldBody, Snapshot } from '../../exporter/snapshot.js';

t.test('crc32Combine(crc(A), crc(B), |B|) = crc(A·B)', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), (a, b) => {
      const A = Buffer.from(a);
      const B = Buffer.from(b);
      return crc32Combine(crc32(A), crc32(B), B.length) === crc32(Buffer.concat([A, B]));
    }),
  );
  const big = Buffer.alloc(200_000, 'xcp_vm_cpu_usage{vm="a"} 0.5\n');
  t.equal(crc32Combine(crc32('head'), crc32(big), big.length), crc32(Buffer.concat([Buffer.from('head'), big])));
  t.pass('property held');
});

t.test('stored and deflated pieces make one gzip member any reader decodes', async (t) => {
  const lines = (n: number, tag: string) => Buffer.from(Array.from({ length: n }, (_, i) => `xcp_${tag}{host="h${i % 7}"} ${i * 0.25}\n`).join(''));
  const parts = [Buffer.from('# HELP a x\n'), lines(20_000, 'a'), Buffer.from(''), Buffer.alloc(70_000, 'é'), lines(3, 'b'), Buffer.from('# EOF\n')];
  // Deflated from several buffers (the chunks a family's lines span) and from none.
  const pieces = [
    storedPiece(parts[0]!),
    await deflatePiece([parts[1]!.subarray(0, 1000), parts[1]!.subarray(1000)]),
    await deflatePiece([]),
    storedPiece(parts[3]!), // longer than one stored block
    await deflatePiece([parts[4]!]),
    storedPiece(parts[5]!),
  ];
  const gz = Buffer.concat(gzipOf(pieces));
  const whole = Buffer.concat(parts);
  t.same(gunzipSync(gz), whole, "node's zlib");
  t.same(execFileSync('gzip', ['-dc'], { input: gz, maxBuffer: 1 << 26 }), whole, 'gzip(1), which checks the CRC and size');
  t.ok(gz.length < whole.length / 2, 'the deflated pieces are compressed');
  t.same(gunzipSync(Buffer.concat(gzipOf([]))), Buffer.alloc(0), 'an empty body');
});

t.test('one deflater, reset between pieces: each piece independent, the bytes of a deflater of its own', async (t) => {
  const lines = (n: number, tag: string) => Buffer.from(Array.from({ length: n }, (_, i) => `xcp_${tag}{host="h${i % 7}"} ${i * 0.25}\n`).join(''));
  const inputs = [
    lines(30_000, 'a'),
    Buffer.alloc(0),
    lines(5, 'b'),
    Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) & 0xff)),
    lines(30_000, 'a'),
  ];
  const deflater = new PieceDeflater();
  const scratch = Buffer.allocUnsafeSlow(2 ** 21);
  const pieces = [];
  for (const [i, input] of inputs.entries())
    pieces.push(await deflater.piece([input.subarray(0, 100), input.subarray(100)], undefined, i % 2 ? scratch : undefined));
  deflater.close();
  for (const [i, p] of pieces.entries()) {
    const alone = await deflatePiece([inputs[i]!]);
    t.ok(Buffer.concat(p.data).equals(Buffer.concat(alone.data)), `piece ${i}: the same bytes as a fresh stream's (${p.data[0]!.length} bytes)`);
    const inflater = new PieceInflater();
    t.ok((await inflater.piece(p)).equals(inputs[i]!), `piece ${i} inflates alone to its input`);
    inflater.close();
    t.equal(p.crc, crc32(inputs[i]!));
  }
  t.ok(pieces[4]!.data[0]!.length === pieces[0]!.data[0]!.length, 'the same lines again: no reference to the piece before');
  t.same(gunzipSync(Buffer.concat(gzipOf(pieces))), Buffer.concat(inputs), 'one after the other, one gzip member');
  // A stream that cannot compress any more fails the piece: it does not hang the poll.
  await t.rejects(deflater.piece([inputs[2]!]), 'a closed deflater rejects');
});

t.test('a large snapshot: held only compressed, both formats gzip to their plain bodies sharing the compressed lines', async (t) => {
  const set = new FamilySet();
  for (let i = 0; i < 180_000; i++) {
    const labels = labelString({ pool_name: 'p', vm_uuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, vm_name: `vm "${i}"` });
    set.add(`xcp_vm_network${i % 20}_receive_bytes_total`, 'counter', 'Bytes received', labels, i * 1024, 'vif="0"');
    set.add(`xcp_vm_memory${i % 20}_bytes`, 'gauge', 'Memory\nof the VM', labels, i);
    if (i % 10 === 0) set.add(`xcp_small_${i % 70}`, 'gauge', 'Short families between the long ones', labels, i / 7);
  }
  const families = set.families();
  const writer = new ChunkWriter();
  const rendered = families.map((f) => renderFamily(f, writer));
  const expected = { text: Buffer.concat(bodyBuffers(rendered, 'text')), openmetrics: Buffer.concat(bodyBuffers(rendered, 'openmetrics')) };
  // Batches are 8 MiB: two of them in use at a time (one compressing, one rendering), the chunks of the one before reused.
  t.ok(expected.text.length > 40 * 2 ** 20, `five batches or more: ${expected.text.length} bytes`);
  const pool = new ChunkPool();
  const take = pool.take.bind(pool);
  const taken = new Set<Buffer>();
  pool.take = () => {
    const chunk = take();
    taken.add(chunk);
    return chunk;
  };
  // Held only compressed whatever is asked (a body above HOLD_PLAIN_MAX_BYTES; snapshot-large.test.ts holds one).
  const snap = await Snapshot.make(families, Date.now(), set.seriesCount, pool, undefined, 0);
  t.ok(taken.size <= 24, `chunks reused from batch to batch: ${taken.size} chunks of 1 MiB for ${expected.text.length} bytes`);
  const text = snap.gzip('text');
  const om = snap.gzip('openmetrics');
  t.same(gunzipSync(Buffer.concat(text.buffers)), expected.text);
  t.same(execFileSync('gzip', ['-dc'], { input: Buffer.concat(om.buffers), maxBuffer: 1 << 28 }), expected.openmetrics);
  t.equal(
    text.length,
    text.buffers.reduce((n, b) => n + b.length, 0),
  );
  const shared = text.buffers.filter((b) => om.buffers.includes(b)).reduce((n, b) => n + b.length, 0);
  t.ok(shared > 0.95 * text.length, `compressed bytes shared by the formats: ${shared} of ${text.length}`);
  // The plain bodies are inflated from the gzip ones as they are sent.
  for (const format of ['text', 'openmetrics'] as const) {
    const body = snap.body(format);
    t.equal(body.length, expected[format].length, `${format}: the announced length`);
    t.same(await buffer(body.stream()), expected[format], `${format}: the plain bytes`);
  }
  // Inflated a piece at a time, a few ahead of the socket: no buffer of the whole body, none larger than two pieces.
  const sizes: number[] = [];
  for await (const c of snap.body('text').stream()) sizes.push((c as Buffer).length);
  t.ok(sizes.length > 20 && Math.max(...sizes) <= 2 * 2 ** 20, `${sizes.length} buffers sent, the largest ${Math.max(...sizes)} bytes`);
  // A scraper that gives up mid-body: the stream stops there, and the pieces still inflating fail nothing later.
  const closed = snap.body('openmetrics').stream();
  const [first] = (await once(closed, 'data')) as [Buffer];
  closed.destroy();
  await once(closed, 'close');
  await new Promise((r) => setTimeout(r, 200));
  t.same(first, expected.openmetrics.subarray(0, first.length), 'the first bytes, then closed');
  t.equal(snap.gzip('text'), text, 'compressed once');

  // Over HTTP, as the server sends it: inflated into a few buffers used again, each once the socket took its bytes.
  const done: boolean[] = [];
  const server = http.createServer((_req, res) => {
    const body = snap.body('text');
    res.setHeader('content-length', body.length);
    void body.writeTo!(res).then((d) => done.push(d));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const allocated: number[] = [];
  const allocSlow = Buffer.allocUnsafeSlow;
  Buffer.allocUnsafeSlow = (size: number) => {
    allocated.push(size);
    return allocSlow(size);
  };
  try {
    for (const slow of [false, true]) {
      // A slow reader: the socket takes the bytes late, so a buffer whose bytes were not yet taken would show as wrong bytes.
      const got = await new Promise<Buffer>((resolve, reject) =>
        http.get(url, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => {
            parts.push(Buffer.from(c));
            if (slow && parts.length % 16 === 0) {
              res.pause();
              setTimeout(() => res.resume(), 5);
            }
          });
          res.on('end', () => resolve(Buffer.concat(parts)));
          res.on('error', reject);
        }),
      );
      t.ok(got.equals(expected.text), `the plain bytes over HTTP${slow ? ', read slowly' : ''}`);
    }
  } finally {
    Buffer.allocUnsafeSlow = allocSlow;
  }
  t.equal(allocated.length, 6, `three buffers per response: ${allocated.join(', ')} bytes`);
  // A scraper that closes mid-body: writeTo stops (false), nothing is thrown.
  const closedEarly = new Promise<void>((resolve) =>
    http.get(url, (res) => {
      res.once('data', () => {
        res.destroy();
        resolve();
      });
    }),
  );
  await closedEarly;
  const deadline = Date.now() + 10_000;
  while (done.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.same(done, [true, true, false], 'sent whole twice, then stopped at the close');
  server.close();
});

t.test('a piece inflated into a given buffer is a slice of it (no buffer of its own)', async (t) => {
  const bytes = Buffer.from(Array.from({ length: 20_000 }, (_, i) => `xcp_x{i="${i}"} ${i / 3}\n`).join(''));
  const piece = await deflatePiece([bytes.subarray(0, 777), bytes.subarray(777)]);
  const room = Buffer.alloc(piece.length + 1);
  const inflater = new PieceInflater();
  t.teardown(() => inflater.close());
  const got = await inflater.into(piece, room);
  t.ok(got.equals(bytes), 'the bytes');
  t.equal(got.buffer, room.buffer, 'in the given buffer');
  await t.rejects(inflater.into(piece, Buffer.alloc(piece.length)), RangeError, 'no room for the byte more zlib needs');
});

t.test('one inflater, reset between pieces: each piece’s bytes, whatever came before; a piece that fails fails alone', async (t) => {
  const lines = (n: number, tag: string) => Buffer.from(Array.from({ length: n }, (_, i) => `xcp_${tag}{host="h${i % 7}"} ${i * 0.25}\n`).join(''));
  const inputs = [lines(30_000, 'a'), Buffer.alloc(0), lines(5, 'b'), Buffer.alloc(70_000, 'é'), lines(30_000, 'a')];
  const pieces = [
    await deflatePiece([inputs[0]!]),
    await deflatePiece([inputs[1]!]),
    await deflatePiece([inputs[2]!]),
    storedPiece(inputs[3]!),
    await deflatePiece([inputs[4]!]),
  ];
  const inflater = new PieceInflater();
  t.teardown(() => inflater.close());
  const room = Buffer.allocUnsafeSlow(2 ** 21);
  for (const round of [1, 2])
    for (const [i, p] of pieces.entries()) t.ok((await inflater.into(p, room)).equals(inputs[i]!), `round ${round}, piece ${i}: its bytes`);
  // Bytes that are no deflate data (block type 3 is reserved); then a piece claiming more bytes than it holds.
  const bad = { data: [Buffer.from([0xff, 0xff, 0xff, 0xff])], crc: 0, length: 10 };
  await t.rejects(inflater.into(bad, room), /invalid/i, 'no deflate data: the zlib error');
  t.ok((await inflater.into(pieces[0]!, room)).equals(inputs[0]!), 'the next piece inflates (a new stream)');
  const short = { ...pieces[2]!, length: pieces[2]!.length + 5 };
  await t.rejects(inflater.into(short, room), /gave \d+ bytes, not its \d+/, 'fewer bytes than the piece’s length: refused');
  t.ok((await inflater.into(pieces[4]!, room)).equals(inputs[4]!), 'and the next one again');
});

t.test('a small snapshot is kept plain as well', async (t) => {
  const set = new FamilySet();
  for (let i = 0; i < 500; i++) set.add('xcp_vm_memory_bytes', 'gauge', 'Memory', labelString({ uuid: `vm-${i}` }), i);
  const snap = await Snapshot.make(set.families(), Date.now(), set.seriesCount, new ChunkPool());
  const plain = snap.body('openmetrics');
  t.ok(plain instanceof HeldBody, 'held');
  const bytes = await buffer(plain.stream());
  t.equal(bytes.length, plain.length);
  t.ok(bytes.toString().endsWith('xcp_vm_memory_bytes{uuid="vm-499"} 499\n# EOF\n'));
  t.same(gunzipSync(Buffer.concat(snap.gzip('openmetrics').buffers)), bytes);
});

t.test('a held body is written whole at once over HTTP; a scraper that leaves ends its response, nothing else', async (t) => {
  // Many buffers (a gzip body's pieces): 8 MB.
  const buffers = Array.from({ length: 400 }, (_, i) => Buffer.alloc(20_000 + i, i % 251));
  const body = new HeldBody(buffers);
  let settled = 0;
  const server = http.createServer((_req, res) => {
    res.setHeader('content-length', body.length);
    void body.writeTo(res).then(() => settled++);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const get = () =>
    new Promise<Buffer>((resolve, reject) =>
      http.get(url, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve(Buffer.concat(parts)));
        res.on('error', reject);
      }),
    );
  t.ok((await get()).equals(Buffer.concat(buffers)), `the ${body.length} bytes, in order`);
  // A scraper that reads nothing, then leaves with most of the body still waiting in our socket.
  await new Promise<void>((resolve) =>
    http.get(url, (res) => {
      res.pause();
      setTimeout(() => {
        res.destroy();
        resolve();
      }, 300);
    }),
  );
  const deadline = Date.now() + 10_000;
  while (settled < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.equal(settled, 2, 'its response settled');
  t.ok((await get()).equals(Buffer.concat(buffers)), 'the next scrape gets the whole body');
});
