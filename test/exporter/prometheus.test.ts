// The real Prometheus scrapes the exporter, which polls the simulator: host, VM and SR series arrive with the
// right labels, and the scrape has no error.
import t from 'tap';
import { startTestExporter } from '../helpers/exporter.js';
import { waitFor } from '../../core/concurrency.js';
import { startPrometheus } from '../helpers/prometheus.js';
import { startSim } from '../helpers/sim.js';

const sim = await startSim();
const ex = await startTestExporter([sim], '  token: scrape-token\n');
const target = new URL(ex.url).host;
const prom = await startPrometheus(
  `global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: xcp
    authorization: { credentials_file: token }
    static_configs: [{ targets: ['${target}'] }]
`,
  { token: 'scrape-token\n' },
);
t.teardown(async () => {
  await prom.stop();
  await ex.stop();
  await sim.stop();
});

type Vector = { metric: Record<string, string>; value: [number, string] }[];
await waitFor('VM series in Prometheus', async () => (await prom.query<{ result: Vector }>('xcp_vm_cpu_usage')).result.length > 0, {
  timeoutMs: 30_000,
  everyMs: 250,
});

t.test('the scrape target is healthy', async (t) => {
  const targets = await prom.api<{ activeTargets: { health: string; lastError: string; scrapeUrl: string }[] }>('/api/v1/targets');
  t.equal(targets.activeTargets.length, 1);
  t.equal(targets.activeTargets[0]!.health, 'up');
  t.equal(targets.activeTargets[0]!.lastError, '');
  const up = await prom.query<{ result: Vector }>('up{job="xcp"}');
  t.equal(up.result[0]!.value[1], '1');
});

t.test('host, VM and SR series with their labels', async (t) => {
  const hosts = (await prom.query<{ result: Vector }>('xcp_host_live')).result;
  t.same(hosts.map((r) => r.metric.host_name).sort(), ['xcp-host-01', 'xcp-host-02', 'xcp-host-03']);
  for (const h of hosts) {
    t.equal(h.metric.pool_name, 'sim-pool');
    t.match(h.metric.uuid, /^[0-9a-f-]{36}$/);
    t.match(h.metric.pool_id, /^[0-9a-f-]{36}$/);
  }
  const cpu = (await prom.query<{ result: Vector }>('xcp_host_cpu_average')).result;
  t.equal(cpu.length, 3);
  t.ok(cpu.every((r) => r.metric.type === 'host' && Number(r.value[1]) >= 0 && Number(r.value[1]) <= 1));
  const vms = (await prom.query<{ result: Vector }>('xcp_vm_memory_bytes{is_control_domain="false"}')).result;
  t.equal(vms.length, 12);
  t.ok(vms.every((r) => /^vm-\d\d-\d\d\d$/.test(r.metric.vm_name!) && r.metric.host_name!.startsWith('xcp-host-')));
  const srs = (await prom.query<{ result: Vector }>('xcp_sr_physical_size_bytes')).result;
  t.ok(srs.some((r) => r.metric.sr_name === 'NFS VM store' && r.metric.sr_type === 'nfs'));
  t.ok(
    srs.some((r) => r.metric.sr_type === 'ext' && r.metric.host_name),
    'local SRs carry their host',
  );
  const lat = (await prom.query<{ result: Vector }>('xcp_host_disk_read_latency_seconds{sr_name="iSCSI VM store"}')).result;
  t.equal(lat.length, 3, 'per host, SR prefix resolved');
});

t.test('counters work with rate()', async (t) => {
  const rates = await waitFor(
    'a positive network rate',
    async () => {
      const r = (await prom.query<{ result: Vector }>('rate(xcp_vm_network_receive_bytes_total[20s])')).result;
      return r.length > 0 && r.some((x) => Number(x.value[1]) > 0) ? r : undefined;
    },
    { timeoutMs: 20_000, everyMs: 250 },
  );
  t.ok(
    rates.every((r) => Number(r.value[1]) >= 0),
    'never negative: no counter resets',
  );
});
