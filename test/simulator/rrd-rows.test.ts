// Simulator fidelity (simulator/FIDELITY.md, "RRD rows and NaN"): which rows /rrd_updates answers for a start, and
// where they hold NaN — in-process, at chosen times.
import t from 'tap';
import { DEFAULT_SIM_OPTIONS, SimulatedPool } from '../../simulator/pool.js';
import { type RrdQuery, SourceCache, buildWindow } from '../../simulator/rrd/updates.js';
import { xapiDate } from '../../simulator/model/types.js';

const pool = new SimulatedPool({ ...DEFAULT_SIM_OPTIONS, size: { hosts: 2, vmsPerHost: 2, disksPerVm: 1, vifsPerVm: 1, vcpusPerVm: 1, hostCpus: 2 } });
const { store } = pool;
const cache = new SourceCache(store, 2, pool.agents);
const [h0, h1] = pool.hosts;
const q = (start: number, o: Partial<RrdQuery> = {}): RrdQuery => ({ start, interval: 5, host: true, vmUuids: [], srUuids: [], ...o });
const now = Math.floor(Date.now() / 1000 / 5) * 5 + 2;
const col = (legend: string[], uuid: string, name: string) => legend.indexOf(`AVERAGE:${uuid}:${name}`);

t.test('rows from the last CDP back while t >= start (rrd_updates.ml create); meta start is the next CDP', async (t) => {
  const last = now - 2;
  const w = buildWindow(store, cache, h0!.ref, q(last - 20), now);
  t.same(
    w.rows.map((r) => r.t),
    [last, last - 5, last - 10, last - 15, last - 20],
    'newest first, the row at start included',
  );
  t.equal(w.start, last - 15, 'meta start: the CDP after the one at or before start');
  t.equal(w.end, last);
  t.equal(buildWindow(store, cache, h0!.ref, q(-20), now).rows.length, 5, 'a negative start is relative to the last update');
  t.equal(buildWindow(store, cache, h0!.ref, q(-7200, { interval: 60 }), now).step, 60, 'interval picks the archive');
  t.equal(buildWindow(store, cache, h0!.ref, q(-100_000), now).step, 3600, 'a start beyond the minute archive picks the hourly one');
});

t.test("NaN for a host's downtime and before a VM's domain started; served rows never change", async (t) => {
  const hostUuid = store.get('host', h1!.ref)!.uuid as string;
  const base = buildWindow(store, cache, h1!.ref, q(now - 62), now);
  const rx = col(base.legend, `host:${hostUuid}`, 'pif_eth0_rx');
  t.ok(
    base.rows.every((r) => Number.isFinite(r.values[rx]!)),
    'a live host: every row has a sample',
  );
  pool.rrdGaps.down(h1!.ref, (now - 30) * 1000);
  pool.rrdGaps.up(h1!.ref, (now - 16) * 1000);
  const gap = buildWindow(store, cache, h1!.ref, q(now - 62), now, pool.rrdGaps);
  t.same(
    gap.rows.filter((r) => !Number.isFinite(r.values[rx]!)).map((r) => now - 2 - r.t),
    [10, 15, 20, 25],
    'NaN for the rows overlapping the downtime (rows cover (t − 5, t])',
  );

  // A VM (re)started 20 s ago: nothing before its domain's start.
  const vmRef = (store.get('host', h0!.ref)!.resident_VMs as string[]).find((r) => !store.get('VM', r)!.is_control_domain)!;
  const vm = store.get('VM', vmRef)!;
  const before = buildWindow(store, cache, h0!.ref, q(now - 62), now);
  const vrx = col(before.legend, `vm:${vm.uuid}`, 'vif_0_rx');
  store.mod('VM_metrics', vm.metrics as string, { start_time: xapiDate((now - 22) * 1000) });
  const after = buildWindow(store, cache, h0!.ref, q(now - 62), now);
  t.same(
    after.rows.filter((r) => Number.isFinite(r.values[vrx]!)).map((r) => now - 2 - r.t),
    [0, 5, 10, 15],
    'rows from the start on only',
  );

  // A VM moving onto h0 does not rewrite h0's traffic rows already served.
  const hostRx = col(before.legend, `host:${store.get('host', h0!.ref)!.uuid}`, 'pif_eth0_rx');
  const other = (store.get('host', h1!.ref)!.resident_VMs as string[]).find((r) => !store.get('VM', r)!.is_control_domain)!;
  store.mod('host', h1!.ref, { resident_VMs: (store.get('host', h1!.ref)!.resident_VMs as string[]).filter((r) => r !== other) });
  store.mod('host', h0!.ref, { resident_VMs: [...(store.get('host', h0!.ref)!.resident_VMs as string[]), other] });
  const moved = buildWindow(store, cache, h0!.ref, q(now - 62), now);
  const movedRx = col(moved.legend, `host:${store.get('host', h0!.ref)!.uuid}`, 'pif_eth0_rx');
  t.same(
    moved.rows.map((r) => r.values[movedRx]),
    before.rows.map((r) => r.values[hostRx]),
    'the same values for the same rows',
  );
});
