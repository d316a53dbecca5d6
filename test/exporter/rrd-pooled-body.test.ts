// /rrd_updates bodies read into reused buffers (core/http/body-pool.ts): what the parse returns keeps no view into
// the body, so the buffer can take the next host's answer; and a poll's fetch through the pool reads what a fetch
// into a buffer of its own reads, the 401 retry included.
import t from 'tap';
import { Secret } from '../../core/config/secret.js';
import { BodyPool } from '../../core/http/body-pool.js';
import { XapiClient } from '../../core/xapi/client.js';
import { fetchRrdWindow } from '../../core/rrd/fetch.js';
import { type RrdWindow, readRrdUpdates } from '../../core/rrd/parse.js';
import { type RrdShape, renderRrdUpdates } from '../../simulator/rrd/render.js';
import { startSim } from '../helpers/sim.js';

const HOST = 'a1b2c3d4-0000-4000-8000-000000000001';
const VM = 'b1b2c3d4-0000-4000-8000-000000000002';
const LEGEND = [
  ...['cpu0', 'memory_free_kib', 'pif_eth0_rx'].map((n) => `AVERAGE:host:${HOST}:${n}`),
  ...['cpu0', 'memory', 'vbd_xvda_read'].map((n) => `AVERAGE:vm:${VM}:${n}`),
];

function body(ts: number[], shape: RrdShape): Buffer {
  const rows = ts.map((t) => ({ t, values: LEGEND.map((e, j) => ((e.length + j * 13 + t) % 89) / 7) }));
  return Buffer.from(renderRrdUpdates({ start: ts[ts.length - 1]!, end: ts[0]!, step: 5, legend: LEGEND, rows }, shape));
}

/** Everything a window carries, as plain values. */
const plain = (w: RrdWindow) => ({
  start: w.start,
  end: w.end,
  step: w.step,
  columns: w.legend.columns(),
  rows: w.rows.map((r) => ({ t: r.t, values: [...r.values] })),
});

for (const shape of ['current', 'nested', 'legacy', 'xml'] as RrdShape[]) {
  t.test(`${shape}: a window read from a buffer is unchanged when the buffer is overwritten`, async (t) => {
    const pooled = Buffer.alloc(64 * 1024);
    const first = body([1005, 1000], shape);
    first.copy(pooled);
    const window = readRrdUpdates(pooled.subarray(0, first.length));
    const before = plain(window);
    t.same(before, plain(readRrdUpdates(first)), 'read as from a buffer of its own');
    // The next host's answer (another legend's bytes, other numbers) lands in the same buffer.
    pooled.fill(0x5b);
    body([2010, 2005, 2000], shape).copy(pooled);
    t.same(plain(window), before, 'nothing read changed with the buffer');
    // The legend is still recognised in the same host's next answer (its digest is its own, not a view).
    const next = body([1010, 1005], shape);
    t.equal(readRrdUpdates(next, undefined, window.legend).legend, window.legend, 'legend kept');
  });
}

t.test("a poll's fetch through the pool reads what a fetch into its own buffer reads", async (t) => {
  const sim = await startSim({ seed: 11 });
  t.teardown(() => sim.stop());
  const xapi = new XapiClient({ url: sim.url, username: 'root', password: new Secret('simulated') });
  t.teardown(() => xapi.logout());
  await xapi.login();
  const address = sim.pool.hosts[1]!.address;
  const bodies = new BodyPool(1);
  const o = { windowSeconds: 20, sinceT: Math.floor(Date.now() / 1000) - 15, timeoutMs: 5000, maxBodyBytes: 1e8 };
  const own = await fetchRrdWindow(xapi, address, o);
  const viaPool = await fetchRrdWindow(xapi, address, { ...o, bodies });
  t.same(plain(viaPool).columns, plain(own).columns, 'same legend');
  t.same(viaPool.rows.map((r) => r.t).sort(), own.rows.map((r) => r.t).sort(), 'same rows');
  t.ok(bodies.heldBytes() > 0, 'the buffer is back in the pool');
  // An expired session: 401, a new login, read again through the pool.
  (xapi as unknown as { session: string }).session = 'OpaqueRef:expired';
  const again = await fetchRrdWindow(xapi, address, { ...o, bodies }, viaPool.legend);
  t.equal(again.legend, viaPool.legend, 'read after a new login, legend kept');
  t.not(xapi.sessionId, 'OpaqueRef:expired');
});
