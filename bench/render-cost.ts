// What the snapshot costs a poll, apart from the collection: the render alone (sample lines written into chunks, as
// Snapshot.make writes them) and Snapshot.make whole (render, compression in zlib's thread pool, the previous
// snapshot's unchanged pieces reused), process CPU of each, on the families of two real collections taken in turn.
// `tree`: another checkout to measure (its modules are loaded, so old and new run the same script, in processes
// of their own, alternating). `profile`: a CPU profile of each render and make (file prefix). Prints one JSON line.
//   node --import tsx bench/render-cost.ts '{"hosts":64,"vmsPerHost":160,"rounds":4,"tree":"/work/main"}'
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

interface Options {
  hosts?: number;
  vmsPerHost?: number;
  rounds?: number;
  tree?: string;
  profile?: string;
}

const o = JSON.parse(process.argv[2] ?? '{}') as Options;
const tree = o.tree ?? fileURLToPath(new URL('..', import.meta.url));
const { FamilySet } = await import(`${tree}/exporter/metrics/families.ts`);
const { ChunkPool, ChunkWriter } = await import(`${tree}/exporter/metrics/chunks.ts`);
const { renderFamily } = await import(`${tree}/exporter/metrics/render.ts`);
const { Snapshot } = await import(`${tree}/exporter/snapshot.ts`);
const { startBenchExporter } = await import(`${tree}/bench/lib/exporter.ts`);
const { startSimProcess } = await import(`${tree}/bench/lib/sim-process.ts`);

const BATCH = 8 * 2 ** 20; // as Snapshot.make: chunks given back every 8 MiB of lines

/** Only when profiling: otherwise no inspector session is attached while the code is measured. */
const session = o.profile ? new Session() : undefined;
const sim = await startSimProcess({ hosts: o.hosts ?? 64, vmsPerHost: o.vmsPerHost ?? 160 });
const ex = await startBenchExporter(sim.url);
try {
  await ex.exporter.pools[0]!.watcher.whenSynced(300_000);
  const pool = ex.exporter.pools[0]!;
  const collect = async () => {
    const set = new FamilySet();
    await pool.poll(set);
    return set;
  };
  await collect(); // counters seen once, caches built
  const sets = [];
  for (let i = 0; i < 2; i++) {
    await new Promise((r) => setTimeout(r, 5000)); // a new RRD row
    sets.push(await collect());
  }
  const chunks = new ChunkPool();
  /** Render alone, as an older tree's Snapshot.make did too (one map of encoded label blocks per render, if it had one). */
  const render = (families: { name: string }[]) => {
    const encoded = new Map();
    let writer = new ChunkWriter(chunks, encoded);
    for (const f of families) {
      renderFamily(f, writer);
      if (writer.written < BATCH) continue;
      chunks.give(writer.chunks);
      writer = new ChunkWriter(chunks, encoded);
    }
    chunks.give(writer.chunks);
  };
  const cpuOf = async (what: string, round: number, fn: () => unknown) => {
    await session?.post('Profiler.start');
    const cpu = process.cpuUsage();
    await fn();
    const used = process.cpuUsage(cpu);
    if (session) {
      const { profile } = (await session.post('Profiler.stop')) as { profile: object };
      writeFileSync(`${o.profile}-${what}-${round}.cpuprofile`, JSON.stringify(profile));
    }
    return (used.user + used.system) / 1e6;
  };
  session?.connect();
  await session?.post('Profiler.enable');
  const rounds = [];
  let previous: unknown;
  for (let r = 0; r < (o.rounds ?? 4); r++) {
    const set = sets[r % 2]!;
    const families = set.families();
    const renderCpu = await cpuOf('render', r, () => render(families));
    let snapshot: { reusedBytes: number } | undefined;
    const makeCpu = await cpuOf('make', r, async () => {
      snapshot = await Snapshot.make(families, Date.now(), set.seriesCount, chunks, previous);
    });
    previous = snapshot;
    rounds.push({ series: set.seriesCount, renderCpu, makeCpu, reusedMB: snapshot!.reusedBytes / 1e6 });
    await new Promise((r) => setTimeout(r, 300));
  }
  const load = loadavg().map((l) => Number(l.toFixed(2)));
  process.stdout.write(`${JSON.stringify({ tree, rounds, rssMB: process.memoryUsage().rss / 1e6, load })}\n`);
} finally {
  session?.disconnect();
  await ex.stop();
  await sim.stop();
}
process.exit(0);
