// docs/METRICS.md's family table, generated from what the exporter serves: a simulated pool (hardware plugins on, one
// host failed, one HA-protected VM crashed so the failure series exist too) is polled and every `# HELP` / `# TYPE` and the label
// names of its series are written between the markers. `npm run docs:metrics` rewrites the file; the test compares.
//   node --import tsx scripts/metrics-doc.ts [--check]
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../core/log.js';
import { startExporter } from '../exporter/main.js';
import { startSimulation } from '../simulator/run.js';
import { parseConfig } from '../cli/config/bundle.js';

export const METRICS_MD = fileURLToPath(new URL('../docs/METRICS.md', import.meta.url));
const BEGIN = '<!-- BEGIN GENERATED FAMILIES (scripts/metrics-doc.ts) -->';
const END = '<!-- END GENERATED FAMILIES -->';

interface FamilyDoc {
  name: string;
  type: string;
  help: string;
  labels: Set<string>;
}

/** The families of one exposition text, with the union of their series' label names. */
export function familiesOf(text: string): FamilyDoc[] {
  const byName = new Map<string, FamilyDoc>();
  const get = (name: string) => byName.get(name) ?? byName.set(name, { name, type: '', help: '', labels: new Set() }).get(name)!;
  for (const line of text.split('\n')) {
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      const f = get(meta[2]!);
      if (meta[1] === 'HELP') f.help = meta[3]!.replace(/\\\\/g, '\\').replace(/\\n/g, ' ');
      else f.type = meta[3]!;
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line);
    if (!sample) continue;
    const f = byName.get(sample[1]!);
    if (!f) continue;
    for (const m of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"/g)) f.labels.add(m[1]!);
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
}

export function table(families: FamilyDoc[]): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `${families.length} families, as served by the exporter against the simulator (with a failed host and a crashed VM).`,
    '',
    '| family | type | labels | help |',
    '|---|---|---|---|',
    ...families.map(
      (f) =>
        `| \`${f.name}\` | ${f.type} | ${[...f.labels]
          .sort()
          .map((l) => `\`${l}\``)
          .join(', ')} | ${cell(f.help)} |`,
    ),
  ].join('\n');
}

/** The exporter's /metrics after a few polls of a simulated pool with failures in it. */
export async function servedMetrics(): Promise<string> {
  const logger = createLogger({ level: 'error' });
  const sim = await startSimulation({
    logger,
    port: 0,
    hostDeadAfterMs: 0,
    seed: 42,
    size: { hosts: 3, vmsPerHost: 4, disksPerVm: 1, vifsPerVm: 1, vcpusPerVm: 1, hostCpus: 4 },
  });
  try {
    const status = sim.control.status();
    const config = parseConfig(
      `pools:\n  - { name: ${status.pool}, url: "${sim.url}", username: ${status.username}, password: simulated, hardware: { transport: plugin } }\nexporter:\n  listen: 127.0.0.1:0\n  poll_interval_seconds: 5\n  rrd: { timeout_seconds: 2, window_seconds: 30 }\n`,
      'metrics-doc.yml',
      {},
    );
    const exporter = await startExporter(config, logger);
    try {
      const post = (path: string, body: unknown = {}) =>
        fetch(sim.controlUrl + path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      const vm = [...sim.pool.store.table('VM').values()].find(
        (v) => !v.is_control_domain && !v.is_a_template && v.power_state === 'Running' && v.ha_always_run === true,
      );
      if (vm) await post(`/sim/vms/${String(vm.uuid)}/crash`, { mode: 'halt' });
      // Tags on a host, a VM and an SR, so the table lists the `tags` label where it goes.
      for (const cls of ['host', 'VM', 'SR'] as const) {
        const [ref] = [...sim.pool.store.table(cls)].find(([, r]) => cls !== 'VM' || (!r.is_control_domain && !r.is_a_template))!;
        sim.pool.store.mod(cls, ref, { tags: ['production'] });
      }
      await post(`/sim/hosts/${encodeURIComponent(String(status.hosts[2]!.name))}/fail`);
      let text = '';
      const deadline = Date.now() + 90_000;
      // Wait until the hardware and failure series are there (the dead host's RRD down, the crash seen) or the deadline.
      const complete = [
        /^xcp_host_rrd_up\{[^}]*\} 0$/m,
        /^xcp_host_ipmi_up\{/m,
        /^xcp_host_disk_smart_up\{/m,
        /^xcp_vm_last_unexpected_halt_timestamp_seconds\{/m,
      ];
      do {
        await new Promise((r) => setTimeout(r, 1000));
        const res = await fetch(`${exporter.url}/metrics`);
        if (res.ok) text = await res.text();
      } while (Date.now() < deadline && !complete.every((re) => re.test(text)));
      return text;
    } finally {
      await exporter.stop();
    }
  } finally {
    await sim.stop();
  }
}

export function withTable(doc: string, generated: string): string {
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) throw new Error(`docs/METRICS.md lacks the markers ${BEGIN} … ${END}`);
  return doc.slice(0, a + BEGIN.length) + '\n' + generated + '\n' + doc.slice(b);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const doc = readFileSync(METRICS_MD, 'utf8');
  const next = withTable(doc, table(familiesOf(await servedMetrics())));
  if (process.argv.includes('--check')) {
    if (next !== doc) {
      process.stderr.write('docs/METRICS.md is stale: run npm run docs:metrics\n');
      process.exitCode = 1;
    }
  } else writeFileSync(METRICS_MD, next);
}
