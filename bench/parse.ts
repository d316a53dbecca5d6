// Parser throughput for each /rrd_updates generation, beside JSON.parse of the same bytes as the floor: an answer
// read whole (the first from a host, or after its legend changed), and as a poll reads it once the host's legend is
// known (compared in place, not decoded).
import { parseRrdUpdates, readRrdUpdates } from '../core/rrd/parse.js';
import { type RrdShape, renderRrdUpdates } from '../simulator/rrd/render.js';
import { summary } from './lib/stats.js';

/** A host of 160 VMs as the simulator and rrdd lay it out (each RRD's sources together): about 9,000 columns; 6 rows (a 30 s
 * window). */
function window(columns: number, rows: number) {
  const legend = Array.from(
    { length: columns },
    (_, i) => `AVERAGE:vm:${String(Math.floor((i * 160) / columns)).padStart(8, '0')}-0000-4000-8000-000000000000:ds${i}`,
  );
  return {
    start: 1_700_000_000,
    end: 1_700_000_000 + (rows - 1) * 5,
    step: 5,
    legend,
    rows: Array.from({ length: rows }, (_, r) => ({
      t: 1_700_000_000 + (rows - 1 - r) * 5,
      values: Float64Array.from({ length: columns }, (_, i) => Math.abs(Math.sin(i * 7.3 + r)) * 1e6),
    })),
  };
}

export function benchParse(repeats: number) {
  const w = window(9000, 6);
  const out: { shape: RrdShape; bytes: number; mbps: number; pollMbps: number; floorMbps: number | null }[] = [];
  for (const shape of ['current', 'nested', 'legacy', 'xml'] as RrdShape[]) {
    const text = renderRrdUpdates(w, shape);
    const body = Buffer.from(text); // as the HTTP client gives it
    const bytes = body.length;
    const time = (f: () => unknown) => {
      f();
      const t: number[] = [];
      for (let i = 0; i < repeats; i++) {
        const s = performance.now();
        f();
        t.push(performance.now() - s);
      }
      return summary(t).p50;
    };
    const ours = time(() => parseRrdUpdates(body));
    const { legend } = readRrdUpdates(body);
    const poll = time(() => readRrdUpdates(body, undefined, legend));
    const floor = shape === 'legacy' || shape === 'xml' ? null : time(() => JSON.parse(body.toString()));
    const mbps = (ms: number) => bytes / 1e6 / (ms / 1000);
    out.push({ shape, bytes, mbps: mbps(ours), pollMbps: mbps(poll), floorMbps: floor === null ? null : mbps(floor) });
  }
  return out;
}
