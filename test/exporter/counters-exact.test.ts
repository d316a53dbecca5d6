// The integrated `_total` counters against the rows rrdd served (the simulator's /rrd_updates, read independently
// over HTTP): each counter grows by exactly Σ rate × step over the rows with t in (first row seen, last row read],
// NaN rows adding nothing, across polls at irregular intervals (shorter and longer than window_seconds), a VM
// restarted on another host, a host outage (NaN rows for its downtime), and an exporter restart (a reset to 0).
import t, { type Test } from 'tap';
import { Secret } from '../../core/config/secret.js';
import { memoryLogger } from '../../core/log.js';
import { XapiClient } from '../../core/xapi/client.js';
import { startExporter } from '../../exporter/main.js';
import { fetchRrdUpdates } from '../../core/rrd/fetch.js';
import type { Ref } from '../../simulator/model/types.js';
import { exporterConfigYaml } from '../helpers/exporter.js';
import { sample } from '../helpers/exposition.js';
import { startSim } from '../helpers/sim.js';
import { sleep } from '../../core/concurrency.js';
import { parseConfig } from '../../cli/config/bundle.js';

const sim = await startSim({ hostDeadAfterMs: 1000 });
t.teardown(() => sim.stop());
const xapi = new XapiClient({ url: sim.url, username: 'root', password: new Secret('simulated'), callTimeoutMs: 3000 });
t.teardown(() => xapi.logout());
await xapi.login();
const { store } = sim.pool;

// The exporter polls only when the test says so (window 30 s; the polls below are 1–14 s apart).
const config = () => parseConfig(exporterConfigYaml([sim]).replace('poll_interval_seconds: 5', 'poll_interval_seconds: 3600'), 'test.yml', {});
let ex = await startExporter(config(), memoryLogger('error'));
t.teardown(() => ex.stop());

/** Rows served, by host address → `uuid/source` → t → value (NaN kept), read independently of the exporter. */
const served = new Map<string, Map<string, Map<number, number>>>();
async function record(address: string): Promise<void> {
  const u = await fetchRrdUpdates(xapi, address, { windowSeconds: 600, timeoutMs: 3000, maxBodyBytes: 1 << 26 });
  const byKey = served.get(address) ?? new Map<string, Map<number, number>>();
  served.set(address, byKey);
  u.columns.forEach((c, i) => {
    if (c.cf !== 'AVERAGE') return;
    const key = `${c.uuid}/${c.name}`;
    const rows = byKey.get(key) ?? new Map<number, number>();
    byKey.set(key, rows);
    for (const r of u.rows) if (!rows.has(r.t)) rows.set(r.t, r.values[i]!);
  });
}
/** Σ rate × 5 over the rows `address` served for `key` with from < t <= to. */
function expected(address: string, key: string, from: number, to: number): { sum: number; rows: number; nan: number } {
  let sum = 0;
  let rows = 0;
  let nan = 0;
  for (const [tt, v] of served.get(address)?.get(key) ?? []) {
    if (tt <= from || tt > to) continue;
    if (Number.isFinite(v)) {
      sum += v * 5;
      rows++;
    } else nan++;
  }
  return { sum, rows, nan };
}

let text = '';
async function poll(): Promise<void> {
  await ex.exporter.pollOnce();
  text = await (await fetch(ex.url + '/metrics')).text();
}
const lastRow = (hostUuid: string) => sample(text, 'xcp_exporter_rrd_last_row_timestamp_seconds', { uuid: hostUuid })!;

const hosts = [...store.table('host')].map(([ref, h]) => ({ ref, uuid: h.uuid as string, address: h.address as string, name: h.name_label as string }));
const [master, hA, hB] = [hosts.find((h) => h.ref === sim.pool.master.ref)!, ...hosts.filter((h) => h.ref !== sim.pool.master.ref)] as [
  (typeof hosts)[0],
  (typeof hosts)[0],
  (typeof hosts)[0],
];
const guestsOn = (hostRef: Ref) => (store.get('host', hostRef)!.resident_VMs as Ref[]).map((r) => store.get('VM', r)!).filter((v) => !v.is_control_domain);
// The VM that is restarted (hA → master) and a VM that just runs (on the master); hB has the outage.
const moved = guestsOn(hA.ref)[0]!;
const steady = guestsOn(master.ref)[0]!;
const VIF_RX = 'vif_0_rx';
const PIF_RX = 'pif_eth0_rx';
const vmCounter = (vm: typeof moved) => sample(text, 'xcp_vm_network_receive_bytes_total', { uuid: vm.uuid as string, vif: '0' });
const hostCounter = (h: typeof hA) => sample(text, 'xcp_host_network_receive_bytes_total', { uuid: h.uuid, interface: 'eth0' });

function close(t: Test, got: number | undefined, want: { sum: number; rows: number; nan: number }, what: string): void {
  t.ok(got !== undefined, `${what}: exported`);
  const err = want.sum === 0 ? Math.abs(got!) : Math.abs(got! - want.sum) / want.sum;
  t.ok(want.rows >= 3, `${what}: ${want.rows} rows served (${want.nan} NaN)`);
  t.ok(err <= 0.001, `${what}: ${got!.toFixed(0)} vs Σ rate×step ${want.sum.toFixed(0)} (error ${(err * 100).toFixed(4)} %)`);
}

/**
 * The exporter polls once by itself at its start; when the pool was connected in time, that poll is the counters'
 * first sight. Let it end (a poll of the test's beside it would already be the counters' second sight), then take the
 * first snapshot that has the counters.
 */
async function firstSight(): Promise<void> {
  await ex.exporter.pools[0]!.watcher.whenSynced(5000);
  for (const deadline = Date.now() + 15_000; ; await sleep(100)) {
    const res = await fetch(ex.url + '/metrics');
    text = await res.text();
    if (res.status === 200 && (sample(text, 'xcp_exporter_polls_total', {}) ?? 0) >= 1) break;
    if (Date.now() > deadline) throw new Error('the exporter did not finish its first poll');
  }
  if ([vmCounter(moved), vmCounter(steady), hostCounter(hB), hostCounter(master)].includes(undefined)) await poll();
}

t.test('exporter run 1: irregular polls, a VM restarted elsewhere, a host outage with NaN rows', async (t) => {
  await firstSight();
  const first = Object.fromEntries(hosts.map((h) => [h.uuid, lastRow(h.uuid)]));
  t.equal(vmCounter(moved), 0, 'a counter starts at 0 at its first sight');
  for (const gap of [1200, 6500, 13_500, 2500]) {
    await sleep(gap);
    await poll();
  }
  // The VM halts on hA and starts on the master: the rows hA served before the halt, then the master's.
  await record(hA.address);
  await poll();
  await record(hA.address);
  const cut = lastRow(hA.uuid);
  const movedRef = sim.pool.findVm(moved.uuid as string)!;
  await xapi.call('VM.hard_shutdown', movedRef);
  await sleep(7000);
  await xapi.call('VM.start_on', movedRef, master.ref, false, false);
  await poll();
  // hB goes down (rows NaN while it is down) and comes back.
  await record(hB.address);
  sim.pool.failHost(sim.pool.hostByRef(hB.ref as Ref)!);
  await sleep(1000);
  await poll();
  await sleep(6000);
  await poll();
  sim.pool.powerOn(sim.pool.hostByRef(hB.ref as Ref)!);
  for (const gap of [4000, 9000]) {
    await sleep(gap);
    await poll();
  }
  for (const h of hosts) await record(h.address);

  close(t, vmCounter(steady), expected(master.address, `${steady.uuid}/${VIF_RX}`, first[master.uuid]!, lastRow(master.uuid)), 'a VM that just runs');
  const before = expected(hA.address, `${moved.uuid}/${VIF_RX}`, first[hA.uuid]!, cut);
  const after = expected(master.address, `${moved.uuid}/${VIF_RX}`, cut, lastRow(master.uuid));
  t.ok(after.nan > 0, `the restarted VM's new domain has no rows from before its start (${after.nan} NaN)`);
  close(t, vmCounter(moved), { sum: before.sum + after.sum, rows: before.rows + after.rows, nan: before.nan + after.nan }, 'the VM restarted on another host');
  const outage = expected(hB.address, `${hB.uuid}/${PIF_RX}`, first[hB.uuid]!, lastRow(hB.uuid));
  t.ok(outage.nan >= 2, `NaN rows for the host's downtime (${outage.nan})`);
  close(t, hostCounter(hB), outage, 'a host through an outage');
  close(t, hostCounter(master), expected(master.address, `${master.uuid}/${PIF_RX}`, first[master.uuid]!, lastRow(master.uuid)), 'a host that just runs');
});

t.test('exporter run 2: a restarted exporter starts its counters at 0 and counts the served rows from there', async (t) => {
  const old = vmCounter(steady)!;
  await ex.stop();
  ex = await startExporter(config(), memoryLogger('error'));
  await firstSight();
  t.equal(vmCounter(steady), 0, `reset to 0 (was ${old.toFixed(0)}): Prometheus' rate() and increase() handle it`);
  const first = lastRow(master.uuid);
  for (const gap of [3000, 8000, 6000]) {
    await sleep(gap);
    await poll();
  }
  await record(master.address);
  close(t, vmCounter(steady), expected(master.address, `${steady.uuid}/${VIF_RX}`, first, lastRow(master.uuid)), 'after the restart');
});

t.test('a host whose clock went back answers no rows from the cursor on: the next poll starts from its window again', async (t) => {
  const state = ex.exporter.pools[0]!.rrd.hosts.get(master.uuid)!;
  const before = vmCounter(steady)!;
  // As if the host's clock had been set back an hour: rows from the cursor on do not exist there.
  state.cursorT = lastRow(master.uuid) + 3600;
  await poll();
  t.equal(sample(text, 'xcp_host_cpu_average', { uuid: master.uuid }), undefined, 'an answer without rows: no host gauges this poll');
  t.equal(state.cursorT, undefined, 'the cursor is dropped');
  await sleep(5500);
  await poll();
  t.ok(sample(text, 'xcp_host_cpu_average', { uuid: master.uuid }) !== undefined, 'the next poll reads the newest rows again');
  t.ok(vmCounter(steady)! >= before, 'the counters carry on');
});
