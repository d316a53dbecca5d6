// Xen Orchestra's own documentation, run against the exporter: a real Prometheus scrapes it with the scrape config
// of XO's docs (metrics_path /openmetrics/metrics, a Bearer secret), and every PromQL example, tag filter, Grafana
// variable and example panel of the doc returns data from a simulated pool.
// Source: vatesfr/xen-orchestra, docs/docs/xo5/management/advanced.md at 5889c99df1b6764df7e3251c1ac5be256c97058e,
// section "OpenMetrics / Prometheus Integration" ("Prometheus Configuration", "Filtering by XO tags", "PromQL Query
// Examples", "Grafana Integration"). Only the scrape interval is shorter than the doc's 60 s.
import t from 'tap';
import { startTestExporter } from '../helpers/exporter.js';
import { waitFor } from '../../core/concurrency.js';
import { startPrometheus } from '../helpers/prometheus.js';
import { startSim } from '../helpers/sim.js';

const SECRET = 'your-secret-from-plugin-config';
const sim = await startSim();
const store = sim.pool.store;
// The doc's examples select non-running hosts, hosts in maintenance, halted VMs and tagged objects: the pool has each.
const [taggedHost] = [...store.table('host')][0]!;
store.mod('host', taggedHost, { tags: ['production'] });
const guests = [...store.table('VM')].filter(([, v]) => !v.is_control_domain && !v.is_a_template && v.power_state === 'Running');
store.mod('VM', guests[0]![0], { tags: ['lab'] });
store.mod('host', sim.pool.hosts[1]!.ref, { enabled: false });
const halted = guests.at(-1)![0];
store.mod('VM', halted, { power_state: 'Halted', resident_on: 'OpaqueRef:NULL' });

const ex = await startTestExporter([sim], `  token: ${SECRET}\n`);
const prom = await startPrometheus(`global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: 'xen-orchestra'
    scrape_interval: 1s
    metrics_path: '/openmetrics/metrics'
    static_configs:
      - targets: ['${new URL(ex.url).host}']
    authorization:
      type: Bearer
      credentials: '${SECRET}'
`);
t.teardown(async () => {
  await prom.stop();
  await ex.stop();
  await sim.stop();
});

type Vector = { result: { metric: Record<string, string>; value: [number, string] }[] };
// A member stops: after hostDeadAfterMs the master says it is not live (xcp_host_status power_state="Halted").
sim.pool.failHost(sim.pool.hosts[2]!);
await sim.server.sync();
await waitFor('the failed host in Prometheus', async () => (await prom.query<Vector>('xcp_host_status{power_state!="Running"}')).result.length > 0, {
  timeoutMs: 30_000,
});
await waitFor('two scrapes of counters', async () => (await prom.query<Vector>('rate(xcp_host_network_receive_bytes_total[5m])')).result.length > 0, {
  timeoutMs: 30_000,
});

// "PromQL Query Examples" and "Filtering by XO tags", in the doc's order. The xo_* (XO's own process and objects)
// and xcp_xostor_* (XOSTOR, LINSTOR SRs) examples are left out: they describe Xen Orchestra itself, not XAPI.
const EXAMPLES = [
  'xcp_host_cpu_average{tags=~"(^|.*,)production(,.*|$)"}',
  'xcp_vm_cpu_usage{tags!~"(^|.*,)lab(,.*|$)"}',
  'avg by (host_name) (xcp_host_cpu_average) * 100',
  '(xcp_vm_memory_bytes - xcp_vm_memory_internal_free_bytes)\n  / xcp_vm_memory_bytes * 100',
  'topk(5, xcp_vm_cpu_usage * 100)',
  'rate(xcp_host_network_receive_bytes_total[5m]) / 1024 / 1024',
  'sum by (sr_name) (xcp_host_disk_iops_total)',
  '(xcp_sr_physical_usage_bytes / xcp_sr_physical_size_bytes) * 100',
  '(xcp_sr_physical_size_bytes - xcp_sr_physical_usage_bytes) / 1024 / 1024 / 1024',
  'xcp_sr_virtual_size_bytes / xcp_sr_physical_size_bytes',
  'xcp_vdi_physical_usage_bytes / xcp_vdi_virtual_size_bytes',
  'sum by (vm_name) (xcp_vdi_physical_usage_bytes)',
  'xcp_host_uptime_seconds / 86400',
  'xcp_host_status{power_state!="Running"}',
  'xcp_host_status{power_state="Running", enabled="false"}',
  'xcp_vm_status{power_state!="Running"}',
  'xcp_vm_status{power_state="Halted"}',
  'xcp_vm_uptime_seconds / 86400',
  'xcp_vm_cpu_usage{is_control_domain="false"} * 100',
  'topk(5, xcp_vm_cpu_usage{is_control_domain="false"}) * 100',
  'sum by (sr_type) (rate(xcp_host_network_receive_bytes_total[5m]))',
];
// Threshold examples whose answer depends on the load, not on the exporter: valid queries whose subject has data.
const THRESHOLDS: [string, string][] = [
  ['xcp_vm_disk_read_latency_seconds > 0.01', 'xcp_vm_disk_read_latency_seconds'],
  ['xcp_vm_uptime_seconds > 30 * 86400', 'xcp_vm_uptime_seconds'],
  ['(xcp_vdi_physical_usage_bytes / xcp_vdi_virtual_size_bytes) < 0.1', 'xcp_vdi_physical_usage_bytes / xcp_vdi_virtual_size_bytes'],
];

t.test("every PromQL example of XO's documentation returns data", async (t) => {
  for (const expr of EXAMPLES) {
    const got = await prom.query<Vector>(expr);
    t.ok(got.result.length > 0, expr);
  }
  for (const [expr, subject] of THRESHOLDS) {
    await prom.query<Vector>(expr);
    t.ok((await prom.query<Vector>(subject)).result.length > 0, `${expr} (a valid query over a family with data)`);
  }
});

t.test("the doc's Grafana variables and example panels return data", async (t) => {
  const values = async (label: string, match: string) => prom.api<string[]>(`/api/v1/label/${label}/values?match[]=${encodeURIComponent(match)}`);
  const pools = await values('pool_name', 'xcp_host_cpu_average');
  t.same(pools, ['sim-pool'], 'label_values(xcp_host_cpu_average, pool_name)');
  const pool = pools[0]!;
  const hosts = await values('host_name', `xcp_host_cpu_average{pool_name="${pool}"}`);
  t.ok(hosts.length >= 2, 'label_values(xcp_host_cpu_average{pool_name="$pool"}, host_name)');
  const vms = await values('vm_name', `xcp_vm_cpu_usage{pool_name="${pool}"}`);
  t.ok(vms.length > 0, 'label_values(xcp_vm_cpu_usage{pool_name="$pool"}, vm_name)');
  const srs = await values('sr_name', `xcp_sr_physical_size_bytes{pool_name="${pool}"}`);
  t.ok(srs.length > 0, 'label_values(xcp_sr_physical_size_bytes{pool_name="$pool"}, sr_name)');
  const vm = vms.find((v) => v.startsWith('vm-'))!;
  const sr = srs[0]!;
  const panels = [
    `xcp_host_cpu_average{pool_name="${pool}"} * 100`,
    `xcp_vm_memory_bytes{vm_name="${vm}"} / 1024 / 1024 / 1024`,
    `(xcp_sr_physical_usage_bytes{sr_name="${sr}"} / xcp_sr_physical_size_bytes{sr_name="${sr}"}) * 100`,
    `xcp_sr_physical_usage_bytes{pool_name="${pool}"}`,
    `xcp_sr_physical_size_bytes{pool_name="${pool}"} - xcp_sr_physical_usage_bytes{pool_name="${pool}"}`,
  ];
  for (const expr of panels) t.ok((await prom.query<Vector>(expr)).result.length > 0, expr);
});
