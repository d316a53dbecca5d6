// Large snapshots (exporter/snapshot.ts): the previous poll's compressed pieces whose bytes did not change are reused
// (only byte-identical ones, checked byte for byte; a changed value anywhere shows in the next body), and the server
// sends a plain body whole, in both formats — one of at most HOLD_PLAIN_MAX_BYTES inflated once and held while plain
// is asked for — and stops quietly when the scraper leaves.
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { buffer } from 'node:stream/consumers';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { memoryLogger } from '../../core/log.js';
import { ChunkPool, ChunkWriter } from '../../exporter/metrics/chunks.js';
import { FamilySet, labelString } from '../../exporter/metrics/families.js';
import { deflatePiece } from '../../exporter/metrics/gzip.js';
import { bodyBuffers, renderFamily } from '../../exporter/metrics/render.js';
import type { Exporter } from '../../exporter/exporter.js';
import { exporterHandler } from '../../exporter/server.js';
import { type Body, HeldBody, Snapshot, cutPieces } from '../../exporter/snapshot.js';

const PIECE = 2 ** 20;
const SERIES = 40_000;

/** Three families of ~4 MB (an inventory family, a gauge, a counter at 0): a body past the 8 MiB held-plain limit. */
function families(gauge: (i: number) => number) {
  const set = new FamilySet();
  for (let i = 0; i < SERIES; i++) {
    const labels = labelString({ pool_name: 'p', vm_uuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, vm_name: `vm ${i}` });
    set.add('xcp_vm_info', 'gauge', 'Inventory', labels, 1);
    set.add('xcp_vm_memory_free_bytes', 'gauge', 'A value that changes', labels, gauge(i));
    set.add('xcp_vm_network_receive_errors_total', 'counter', 'At 0', labels, 0, 'vif="0"');
  }
  return set.families();
}

function expected(fams: ReturnType<typeof families>) {
  const writer = new ChunkWriter();
  const rendered = fams.map((f) => renderFamily(f, writer));
  return {
    text: Buffer.concat(bodyBuffers(rendered, 'text')),
    openmetrics: Buffer.concat(bodyBuffers(rendered, 'openmetrics')),
    /** Each family's sample lines, cut as the snapshot cuts them. */
    pieces: new Map(rendered.map((r) => [r.name, cutPieces(r.samples, PIECE).map((p) => Buffer.concat(p))])),
  };
}

const sampleBytes = (w: ReturnType<typeof expected>, only?: string) =>
  [...w.pieces].filter(([name]) => !only || name === only).reduce((n, [, pieces]) => n + pieces.reduce((m, p) => m + p.length, 0), 0);

/** Bytes of the pieces of `b` equal to the same piece of `a`: what may be reused. */
function unchangedBytes(a: ReturnType<typeof expected>, b: ReturnType<typeof expected>): number {
  let n = 0;
  for (const [name, pieces] of b.pieces) for (const [i, p] of pieces.entries()) if (a.pieces.get(name)?.[i]?.equals(p)) n += p.length;
  return n;
}

async function check(t: Test, snap: Snapshot, want: ReturnType<typeof expected>, what: string) {
  t.same(gunzipSync(Buffer.concat(snap.gzip('text').buffers)), want.text, `${what}: gzip text`);
  t.same(gunzipSync(Buffer.concat(snap.gzip('openmetrics').buffers)), want.openmetrics, `${what}: gzip OpenMetrics`);
  t.same(await buffer(snap.body('text').stream()), want.text, `${what}: plain text`);
}

const base = (i: number) => 1_000_000 + i * 4096;

t.test('cutPieces cuts at every `size` bytes, wherever the buffers end', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 50 }), { maxLength: 20 }), fc.integer({ min: 1, max: 40 }), (parts, size) => {
      const buffers = parts.map((p) => Buffer.from(p));
      const pieces = cutPieces(buffers, size).map((p) => Buffer.concat(p));
      const whole = Buffer.concat(buffers);
      return (
        Buffer.concat(pieces).equals(whole) &&
        pieces.every((p, i) => (i < pieces.length - 1 ? p.length === size : p.length > 0 && p.length <= size)) &&
        pieces.length === Math.ceil(whole.length / size)
      );
    }),
  );
  t.pass('property held');
});

t.test('unchanged pieces are reused, changed ones compressed again; every body is the new poll', async (t) => {
  const pool = new ChunkPool();
  const fams0 = families(base);
  const want0 = expected(fams0);
  t.ok(want0.text.length > 8 * 2 ** 20, `a large body: ${want0.text.length} bytes`);
  const snap0 = await Snapshot.make(fams0, Date.now(), SERIES * 3, pool);
  t.equal(snap0.reusedBytes, 0, 'nothing to reuse in the first');
  await check(t, snap0, want0, 'first');

  // One value changes, to one of the same length (its piece's CRC differs, its length does not), in the middle.
  const changedAt = SERIES / 2;
  const fams1 = families((i) => (i === changedAt ? base(i) + 1 : base(i)));
  const want1 = expected(fams1);
  const snap1 = await Snapshot.make(fams1, Date.now(), SERIES * 3, pool, snap0);
  await check(t, snap1, want1, 'one value changed');
  t.ok(want1.text.includes(`vm ${changedAt}"} ${base(changedAt) + 1}\n`), 'the new value is in the expected body');
  const unchanged = unchangedBytes(want0, want1);
  t.equal(snap1.reusedBytes, unchanged, `reused exactly the unchanged pieces: ${snap1.reusedBytes} bytes`);
  const changed = want1.pieces.get('xcp_vm_memory_free_bytes')!.filter((p, i) => !want0.pieces.get('xcp_vm_memory_free_bytes')![i]!.equals(p));
  t.equal(changed.length, 1, 'one piece changed');
  t.equal(unchanged, sampleBytes(want1) - changed[0]!.length, 'all but that piece');
  t.equal(snap1.pieces.get('xcp_vm_info')![0], snap0.pieces.get('xcp_vm_info')![0], 'the same compressed bytes, shared');

  // Every value of the gauge changes, with lengths that shift the lines after them: only the other families reuse.
  const fams2 = families((i) => base(i) * 10 + 7);
  const want2 = expected(fams2);
  const snap2 = await Snapshot.make(fams2, Date.now(), SERIES * 3, pool, snap1);
  await check(t, snap2, want2, 'every gauge value changed');
  t.equal(snap2.reusedBytes, sampleBytes(want2) - sampleBytes(want2, 'xcp_vm_memory_free_bytes'), 'the gauge is compressed again, the rest reused');
});

t.test('a previous piece with the same CRC and length but other bytes is not reused', async (t) => {
  const pool = new ChunkPool();
  const fams = families(base);
  const want = expected(fams);
  const snap0 = await Snapshot.make(fams, Date.now(), SERIES * 3, pool);
  // A forged previous poll: the inventory family's first piece claims this poll's CRC and length, but its compressed
  // bytes are of other lines of that length (a CRC-32 collision, as an adversary or bad luck could make one).
  const real = snap0.pieces.get('xcp_vm_info')![0]!;
  const other = Buffer.from(want.pieces.get('xcp_vm_info')![0]!);
  other.write('X', other.indexOf('vm 1"'));
  const forged = { ...(await deflatePiece([other])), crc: real.crc, length: real.length };
  const pieces = new Map(snap0.pieces);
  pieces.set('xcp_vm_info', [forged, ...snap0.pieces.get('xcp_vm_info')!.slice(1)]);
  const snap1 = await Snapshot.make(fams, Date.now(), SERIES * 3, pool, { pieces } as unknown as Snapshot);
  await check(t, snap1, want, 'after a forged previous piece');
  t.equal(snap1.reusedBytes, sampleBytes(want) - real.length, 'every piece but the forged one reused');
  t.not(snap1.pieces.get('xcp_vm_info')![0], forged, 'the forged piece is not served');
});

t.test('a plain body asked for is held, once for both formats, and so is the next snapshot’s at once; nothing held while nobody asks', async (t) => {
  const pool = new ChunkPool();
  const fams0 = families(base);
  const snap0 = await Snapshot.make(fams0, Date.now(), SERIES * 3, pool);
  const fams1 = families((i) => base(i) + 1);
  const want1 = expected(fams1);
  // snap0 served gzip only: snap1 does not hold its plain bytes by itself.
  const snap1 = await Snapshot.make(fams1, Date.now(), SERIES * 3, pool, snap0);
  await new Promise((r) => setTimeout(r, 300));
  t.notOk(snap1.body('text') instanceof HeldBody, 'not held before a plain scrape asks');
  // A plain scrape: inflated whole once, then held for both formats.
  t.ok((await buffer(snap1.body('text').stream())).equals(want1.text), 'the plain bytes of the first scrape');
  const text = snap1.body('text');
  const om = snap1.body('openmetrics');
  t.ok(text instanceof HeldBody && om instanceof HeldBody, 'held after it, both formats');
  const big = (b: Body) => (b as HeldBody).buffers.filter((x) => x.length >= 2 ** 19);
  t.ok(big(text).length >= 8 && big(text).every((x) => big(om).includes(x)), 'the formats share the inflated sample lines');
  t.ok(Buffer.concat((om as HeldBody).buffers).equals(want1.openmetrics), 'the held OpenMetrics bytes');

  // The next poll's snapshot holds its own as soon as it is made, without a scrape.
  const fams2 = families((i) => base(i) + 2);
  const want2 = expected(fams2);
  const snap2 = await Snapshot.make(fams2, Date.now(), SERIES * 3, pool, snap1);
  const deadline = Date.now() + 10_000;
  while (!(snap2.body('text') instanceof HeldBody) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.ok(snap2.body('text') instanceof HeldBody, 'held without a scrape of its own');
  t.ok(Buffer.concat((snap2.body('text') as HeldBody).buffers).equals(want2.text), 'the new poll’s bytes');
  t.ok(Buffer.concat((snap2.body('openmetrics') as HeldBody).buffers).equals(want2.openmetrics));

  // A body above the bound is never held: inflated as it is sent, whoever asks.
  const snap3 = await Snapshot.make(fams2, Date.now(), SERIES * 3, pool, snap2, want2.text.length - 1);
  t.ok((await buffer(snap3.body('text').stream())).equals(want2.text), 'above the bound: the plain bytes');
  await new Promise((r) => setTimeout(r, 300));
  t.notOk(snap3.body('text') instanceof HeldBody, 'above the bound: not held');
});

/**
 * The exporter's server as it serves `snapshot` (made as a poll makes it), on a port of its own until the test ends:
 * its /metrics URL and what it logs (a scraper that left is not worth a line).
 */
async function serve(t: Test, snapshot: Snapshot) {
  const logger = memoryLogger('warn');
  const server = http.createServer(exporterHandler({ snapshot } as unknown as Exporter, logger)).listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => void server.close());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`, errors: logger.lines };
}

t.test('the server sends a large plain body whole, in both formats, and stops quietly when the scraper leaves', async (t) => {
  const fams = families(base);
  const want = expected(fams);
  const snapshot = await Snapshot.make(fams, Date.now(), SERIES * 3, new ChunkPool());
  const { url, errors } = await serve(t, snapshot);
  for (const [accept, format] of [
    ['text/plain', 'text'],
    ['application/openmetrics-text;version=1.0.0', 'openmetrics'],
  ] as const) {
    const r = await fetch(url, { headers: { accept, 'accept-encoding': 'identity' } });
    t.equal(r.status, 200);
    t.equal(Number(r.headers.get('content-length')), want[format].length, `${format}: its length announced`);
    t.ok(Buffer.from(await r.arrayBuffer()).equals(want[format]), `${format}: the plain bytes`);
  }
  const head = await fetch(url, { method: 'HEAD', headers: { 'accept-encoding': 'identity' } });
  t.equal(Number(head.headers.get('content-length')), want.text.length, 'HEAD: the length, no body');
  const gone = new AbortController();
  const r = await fetch(url, { headers: { 'accept-encoding': 'identity' }, signal: gone.signal });
  await r.body!.getReader().read();
  gone.abort();
  const after = await fetch(url, { headers: { 'accept-encoding': 'identity' } });
  t.ok(Buffer.from(await after.arrayBuffer()).equals(want.text), 'the next scrape, whole');
  t.same(
    errors.map((e) => JSON.stringify(e)),
    [],
    'nothing logged for the scraper that left',
  );
});

t.test('a HEAD request for plain gives the length and does not make the next snapshot hold its plain bytes; a GET does', async (t) => {
  const pool = new ChunkPool();
  const fams = families(base);
  const want = expected(fams);
  const held = async (previous: Snapshot) => {
    const next = await Snapshot.make(fams, Date.now(), SERIES * 3, pool, previous);
    await new Promise((r) => setTimeout(r, 300));
    return next.body('text', false) instanceof HeldBody;
  };
  const snap1 = await Snapshot.make(fams, Date.now(), SERIES * 3, pool);
  const { url } = await serve(t, snap1);
  for (const accept of ['text/plain', 'application/openmetrics-text;version=1.0.0']) {
    const head = await fetch(url, { method: 'HEAD', headers: { accept, 'accept-encoding': 'identity' } });
    t.equal(head.status, 200);
    t.equal(Number(head.headers.get('content-length')), want[accept === 'text/plain' ? 'text' : 'openmetrics'].length, `HEAD ${accept}: the length`);
  }
  t.notOk(await held(snap1), 'after HEAD requests only: the next snapshot holds nothing');
  await (await fetch(url, { headers: { 'accept-encoding': 'identity' } })).arrayBuffer();
  t.ok(await held(snap1), 'after a GET: the next snapshot holds its plain bytes');
});

t.test('a piece that does not inflate cuts the plain response short and is logged', async (t) => {
  const fams = families(base);
  const snapshot = await Snapshot.make(fams, Date.now(), SERIES * 3, new ChunkPool());
  // Bytes that are no deflate data (block type 3 is reserved), in place of the gauge family's second piece.
  const piece = snapshot.pieces.get('xcp_vm_memory_free_bytes')![1]!;
  piece.data[0]!.fill(0xff);
  const { url, errors } = await serve(t, snapshot);
  const r = await fetch(url, { headers: { 'accept-encoding': 'identity' } });
  t.equal(r.status, 200, 'headers were sent before the piece was reached');
  await t.rejects(r.arrayBuffer(), 'the body is cut short, not completed or left hanging');
  t.equal(errors.length, 1, `logged once: ${errors.map((e) => JSON.stringify(e)).join('; ')}`);
});
