// Are the RRD and inventory samples of this tree identical to another tree's (an older checkout)? Both trees' RRD collectors read
// the same answers: each round, this tree's fetches every host's /rrd_updates from a simulator process (recorded),
// then the other tree's gets the same bodies (replayed; its requests must be the same), over one inventory. Every
// sample (family, labels, value, in order) must be the same, value bits included. Rounds 1–3 keep the inventory and
// legends; before round 4 one VM per host is halted (legends and inventory change), before round 5 started again.
// The inventory's own series (addInventoryMetrics, addHaltMetrics) are compared the same way each round, twice (the
// second time from kept label strings).
//   node --import tsx bench/rrd-identity.ts /path/to/old/tree '{"hosts":8,"vmsPerHost":40,"rounds":5}'
// Exits 1 on any difference.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BodyPool } from '../core/http/body-pool.js';
import type { HttpResponse } from '../core/http/client.js';
import { createLogger } from '../core/log.js';
import { OutageLog } from '../core/outage-log.js';
import { RrdCollector, type RrdPool } from '../exporter/collector/rrd.js';
import { Inventory } from '../exporter/inventory/inventory.js';
import type { InventoryWatcher } from '../exporter/inventory/watcher.js';
import type { MetricSink } from '../exporter/metrics/declare.js';
import { addHaltMetrics } from '../exporter/metrics/halt-metrics.js';
import { addInventoryMetrics } from '../exporter/metrics/inventory-metrics.js';
import { startBenchExporter } from './lib/exporter.js';
import { startSimProcess } from './lib/sim-process.js';

const oldRoot = resolve(process.argv[2] ?? '/tmp/rrd-old');
const o = { hosts: 8, vmsPerHost: 40, rounds: 5, ...(JSON.parse(process.argv[3] ?? '{}') as object) };
const old = async <T>(path: string) => (await import(pathToFileURL(`${oldRoot}/${path}`).href)) as T;
const OldCollector = (await old<{ RrdCollector: typeof RrdCollector }>('exporter/collector/rrd.ts')).RrdCollector;
const oldInventory = await old<typeof import('../exporter/metrics/inventory-metrics.js')>('exporter/metrics/inventory-metrics.ts');
const oldHalts = await old<typeof import('../exporter/metrics/halt-metrics.js')>('exporter/metrics/halt-metrics.ts');

type Sample = [name: string, labels: string, value: number, extra: string | undefined];
const sinkOf = (out: Sample[]): MetricSink => ({ add: (f, labels, value, extra) => out.push([f.name, labels, value, extra]) });
const logger = createLogger({ level: 'error' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const sim = await startSimProcess({ hosts: o.hosts, vmsPerHost: o.vmsPerHost });
const ex = await startBenchExporter(sim.url);
let failed = false;
try {
  const live = ex.exporter.pools[0]!;
  await live.watcher.whenSynced(300_000);
  const xapi = live.xapi;
  // One inventory for both trees, copied from the live one only between rounds.
  const frozen = { inventory: new Inventory() } as unknown as InventoryWatcher;
  const freeze = () => {
    const inv = new Inventory();
    for (const [cls, table] of live.watcher.inventory.tables) for (const [ref, rec] of table) inv.tables.get(cls)!.set(ref, rec);
    (frozen as { inventory: Inventory }).inventory = inv;
  };
  freeze();
  // Round k: this tree's requests are answered by the simulator and recorded; the other tree's replayed in order.
  const recorded: { url: string; res?: HttpResponse }[] = [];
  let inOrder = Promise.resolve();
  let replayAt = 0;
  const replaying = { on: false };
  const http = {
    request: async (url: URL, opts: Parameters<typeof xapi.http.request>[1]) => {
      if (!replaying.on) {
        const res = await xapi.http.request(url, opts);
        recorded.push({ url: url.toString(), res });
        return res;
      }
      const r = recorded.find((x, i) => i >= replayAt && x.url === url.toString());
      if (!r) throw new Error(`the other tree asked for ${url} that this tree did not`);
      replayAt++;
      if (!r.res) throw new Error(`${url} failed for this tree`);
      return r.res;
    },
    // This tree's collector reads bodies into reused buffers: what is recorded is a copy, in request order, and the
    // answers are given to the parse in that order (the other tree's replayed ones come in it too, and both map each
    // answer as it comes): the samples' order does not depend on which answer the simulator finished first.
    read: async <T>(url: URL, opts: Parameters<typeof xapi.http.request>[1], pool: BodyPool, read: (res: HttpResponse) => T) => {
      if (replaying.on) throw new Error('the other tree read a body into a pool');
      const entry: { url: string; res?: HttpResponse } = { url: url.toString() };
      recorded.push(entry);
      const before = inOrder;
      let done = () => {};
      inOrder = new Promise<void>((r) => (done = r));
      try {
        const res = await xapi.http.read(url, opts, pool, (r) => ({ ...r, body: Buffer.from(r.body) }));
        await before;
        entry.res = res;
        return read(res);
      } finally {
        done();
      }
    },
  };
  const proxy = new Proxy(xapi, { get: (target, key) => (key === 'http' ? http : Reflect.get(target, key, target)) });
  const pool: RrdPool = { xapi: proxy, watcher: frozen, connected: true, poolName: () => 'bench' };
  const config = ex.exporter.config.exporter;
  const ours = new RrdCollector(pool, config, new OutageLog(logger), logger);
  const theirs = new OldCollector(pool, config, new OutageLog(logger), logger);
  const ctx = { signal: new AbortController().signal, countError: (err: unknown) => console.error('counted error:', err) };
  const halted: string[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    if (round === 4 || round === 5) {
      const inv = live.watcher.inventory;
      if (round === 4) {
        // One guest per host halted: its columns leave that host's legend.
        const seen = new Set<unknown>();
        for (const [ref, vm] of inv.all('VM')) {
          if (vm.is_control_domain || vm.power_state !== 'Running' || seen.has(vm.resident_on)) continue;
          seen.add(vm.resident_on);
          halted.push(ref);
          await xapi.call('VM.hard_shutdown', ref);
        }
      } else for (const ref of halted) await xapi.call('VM.start', ref, false, true);
      await sleep(3000); // the watcher's events
      freeze();
    }
    await sleep(5500); // a new row
    recorded.length = 0;
    replayAt = 0;
    replaying.on = false;
    const a: Sample[] = [];
    await ours.collect(sinkOf(a), ctx);
    replaying.on = true;
    const b: Sample[] = [];
    await theirs.collect(sinkOf(b), ctx);
    // The inventory's series, from the same records at the same time, twice.
    const now = Date.now();
    for (let k = 0; k < 2; k++) {
      const inv = (frozen as { inventory: Inventory }).inventory;
      for (const [add, addHalts, out] of [
        [addInventoryMetrics, addHaltMetrics, a],
        [oldInventory.addInventoryMetrics, oldHalts.addHaltMetrics, b],
      ] as const) {
        add(sinkOf(out), inv, 'bench', now, undefined, config.labels.tags);
        addHalts(sinkOf(out), live.watcher.halts, inv, 'bench');
      }
    }
    let differences = 0;
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const x = a[i];
      const y = b[i];
      if (x && y && x[0] === y[0] && x[1] === y[1] && Object.is(x[2], y[2]) && (x[3] ?? '') === (y[3] ?? '')) continue;
      if (differences++ < 5) console.error(`round ${round} sample ${i}: ours ${JSON.stringify(x)}, theirs ${JSON.stringify(y)}`);
    }
    if (replayAt !== recorded.length) console.error(`round ${round}: the other tree made ${replayAt} requests, this one ${recorded.length}`);
    failed ||= differences > 0 || replayAt !== recorded.length;
    console.log(`round ${round}: ${a.length} samples ours, ${b.length} theirs, ${differences} different, ${recorded.length} answers`);
  }
} finally {
  await ex.stop();
  await sim.stop();
}
console.log(failed ? 'DIFFERENT' : 'IDENTICAL');
process.exit(failed ? 1 : 0);
