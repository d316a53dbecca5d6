// Every entry of the XO catalogue: name, type, unit conversion and labels, checked on a synthetic update whose
// values are chosen so each conversion is visible.
import t from 'tap';
import { Inventory, type Rec } from '../../exporter/inventory/inventory.js';
import { sinkInto } from '../../exporter/metrics/declare.js';
import { FamilySet } from '../../exporter/metrics/families.js';
import { renderText } from '../../exporter/metrics/render.js';
import { Catalogue, catalogueMetrics } from '../../exporter/rrd/catalogue.js';
import { CounterBank } from '../../exporter/rrd/counters.js';
import { LabelCache } from '../../exporter/rrd/label-cache.js';
import type { RrdUpdate } from '../../core/rrd/parse.js';
import { addRrdSamples } from '../../exporter/rrd/samples.js';

const HOST = 'a1b2c3d4-0000-4000-8000-000000000001';
const VM = 'b1b2c3d4-0000-4000-8000-000000000002';
const SR = 'c0ffee01-0000-4000-8000-000000000003';
const SR_TWIN_A = 'deadbeef-0000-4000-8000-000000000004';
const SR_TWIN_B = 'deadbeef-1111-4000-8000-000000000005';

function inventory(): Inventory {
  const inv = new Inventory();
  const ev = (cls: string, ref: string, snapshot: Rec) => ({ class: cls, operation: 'add', ref, snapshot });
  inv.apply([
    ev('pool', 'P', { uuid: 'pool-uuid', name_label: 'lab', master: 'H' }),
    ev('host', 'H', { uuid: HOST, name_label: 'host-a', address: '10.0.0.1' }),
    ev('vm', 'V', { uuid: VM, name_label: 'web "1"', is_control_domain: false }),
    ev('sr', 'S', { uuid: SR, name_label: 'NFS store', type: 'nfs' }),
    ev('sr', 'S2', { uuid: SR_TWIN_A, name_label: 'twin a', type: 'ext' }),
    ev('sr', 'S3', { uuid: SR_TWIN_B, name_label: 'twin b', type: 'ext' }),
    ev('vdi', 'D', { uuid: 'vdi-uuid', name_label: 'root disk', SR: 'S' }),
    ev('vbd', 'B', { uuid: 'vbd-uuid', VM: 'V', VDI: 'D', device: 'xvda' }),
    ev('network', 'N', { uuid: 'net-uuid', name_label: 'VM network' }),
    ev('vif', 'F', { uuid: 'vif-uuid', VM: 'V', network: 'N', device: '0' }),
    ev('pif', 'I', { uuid: 'pif-uuid', host: 'H', network: 'N', device: 'eth1' }),
  ]);
  return inv;
}

/** Two rows 5 s apart, newest first as XAPI sends them; the newest row carries `value`, the older one `value/2`. */
function update(entries: [string, string, number][]): RrdUpdate {
  const values = (k: number) => Float64Array.from(entries, ([, , v]) => v / k);
  return {
    start: 1000,
    end: 1005,
    step: 5,
    columns: entries.map(([type, name]) => ({ cf: 'AVERAGE', objectType: type, uuid: type === 'host' ? HOST : VM, name })),
    rows: [
      { t: 1005, values: values(1) },
      { t: 1000, values: values(2) },
    ],
  };
}

function collect(u: RrdUpdate, counters = new CounterBank()) {
  const inv = inventory();
  const set = new FamilySet();
  addRrdSamples(sinkInto(set), u, {
    catalogue: new Catalogue(),
    counters,
    labels: new LabelCache(),
    lookups: inv.lookups(),
    poolId: 'pool-uuid',
    poolName: 'lab',
    host: inv.get('host', 'H')!,
  });
  const text = renderText(set.families());
  const sample = (metric: string, labelPart = '') => {
    const line = text.split('\n').find((l) => l.startsWith(metric + '{') && l.includes(labelPart));
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  return { set, text, sample };
}

const HOST_BASE = `pool_id="pool-uuid",uuid="${HOST}",type="host",pool_name="lab",host_name="host-a"`;
const VM_BASE = `pool_id="pool-uuid",uuid="${VM}",type="vm",host_id="${HOST}",pool_name="lab",host_name="host-a",vm_name="web \\"1\\"",is_control_domain="false"`;

t.test('host gauges: names, units and labels', async (t) => {
  const { sample, text } = collect(
    update([
      ['host', 'loadavg', 1.5],
      ['host', 'memory_free_kib', 1000],
      ['host', 'memory_total_kib', 4000],
      ['host', 'cpu_avg', 0.25],
      ['host', 'cpu3', 0.5],
      ['host', 'pif_aggr_rx', 100],
      ['host', 'pif_aggr_tx', 50],
      ['host', 'DCMI-power-reading', 210],
      ['host', 'hostload', 0.3],
      ['host', 'memory_reclaimed', 2048],
      ['host', 'memory_reclaimed_max', 4096],
      ['host', 'running_vcpus', 12],
      ['host', 'xapi_memory_usage_kib', 10],
      ['host', 'xapi_live_memory_kib', 20],
      ['host', 'xapi_free_memory_kib', 30],
      ['host', 'xapi_open_fds', 68],
      ['host', 'pool_task_count', 2],
      ['host', 'pool_session_count', 6],
      ['host', `iops_read_${SR.slice(0, 8)}`, 40],
      ['host', `iops_write_${SR.slice(0, 8)}`, 60],
      ['host', `io_throughput_read_${SR.slice(0, 8)}`, 2],
      ['host', `io_throughput_write_${SR.slice(0, 8)}`, 3],
      ['host', `io_throughput_total_${SR.slice(0, 8)}`, 5],
      ['host', `read_latency_${SR.slice(0, 8)}`, 1500],
      ['host', `write_latency_${SR.slice(0, 8)}`, 2500],
      ['host', `latency_${SR.slice(0, 8)}`, 2000],
      ['host', `iowait_${SR.slice(0, 8)}`, 0.05],
      ['host', `iowait_${SR_TWIN_A.slice(0, 8)}`, 0.07],
      ['host', 'Tapdisks_in_low_memory_mode', 0],
      ['host', 'CPU0-avg-freq', 2400],
    ]),
  );
  t.equal(sample('xcp_host_load_average'), 1.5);
  t.equal(sample('xcp_host_memory_free_bytes'), 1024000, 'KiB → bytes');
  t.equal(sample('xcp_host_memory_total_bytes'), 4096000);
  t.equal(sample('xcp_host_cpu_average'), 0.25);
  t.equal(sample('xcp_host_cpu_core_usage', 'core="3"'), 0.5);
  t.equal(sample('xcp_host_network_aggregated_receive_bytes'), 100);
  t.equal(sample('xcp_host_network_aggregated_transmit_bytes'), 50);
  t.equal(sample('xcp_host_power_consumption_watts', 'source="rrd"'), 210);
  t.equal(sample('xcp_host_load'), 0.3);
  t.equal(sample('xcp_host_memory_reclaimed_bytes'), 2048, 'already bytes: not ×1024 as XO does');
  t.equal(sample('xcp_host_memory_reclaimed_max_bytes'), 4096);
  t.equal(sample('xcp_host_running_vcpus'), 12);
  t.equal(sample('xcp_host_xapi_memory_usage_bytes'), 10240);
  t.equal(sample('xcp_host_xapi_live_memory_bytes'), 20480);
  t.equal(sample('xcp_host_xapi_free_memory_bytes'), 30720);
  t.equal(sample('xcp_host_xapi_open_fds'), 68);
  t.equal(sample('xcp_host_xapi_tasks'), 2);
  t.equal(sample('xcp_host_xapi_sessions'), 6);
  const srLabels = `sr="${SR.slice(0, 8)}",sr_uuid="${SR}",sr_name="NFS store",sr_type="nfs"`;
  t.equal(sample('xcp_host_disk_iops_read', srLabels), 40);
  t.equal(sample('xcp_host_disk_iops_write', srLabels), 60);
  t.equal(sample('xcp_host_disk_throughput_read_bytes', srLabels), 2 * 1048576, 'MiB/s → B/s');
  t.equal(sample('xcp_host_disk_throughput_write_bytes'), 3 * 1048576);
  t.equal(sample('xcp_host_disk_throughput_total_bytes'), 5 * 1048576);
  t.equal(sample('xcp_host_disk_read_latency_seconds'), 0.0015, 'µs → s');
  t.equal(sample('xcp_host_disk_write_latency_seconds'), 0.0025);
  t.equal(sample('xcp_host_disk_latency_seconds'), 0.002);
  t.equal(sample('xcp_host_disk_iowait', srLabels), 0.05);
  t.match(text, `xcp_host_disk_iowait{${HOST_BASE},sr="deadbeef"} 0.07`, 'an ambiguous SR prefix keeps only sr');
  t.match(text, `xcp_host_load_average{${HOST_BASE}} 1.5`, "XO's label set and order");
  t.notMatch(text, /avg_freq|Tapdisks/i, 'sources outside the catalogue are not exported');
});

t.test('VM gauges, names with quotes escaped, cpu_usage derived when absent', async (t) => {
  const { sample, text } = collect(
    update([
      ['vm', 'memory', 2147483648],
      ['vm', 'memory_internal_free', 1000],
      ['vm', 'memory_target', 1073741824],
      ['vm', 'cpu0', 0.2],
      ['vm', 'cpu1', 0.4],
      ['vm', 'runstate_fullrun', 0.1],
      ['vm', 'runstate_full_contention', 0.01],
      ['vm', 'runstate_partial_run', 0.2],
      ['vm', 'runstate_partial_contention', 0.02],
      ['vm', 'runstate_concurrency_hazard', 0.03],
      ['vm', 'runstate_blocked', 0.6],
      ['vm', 'vbd_xvda_iops_read', 10],
      ['vm', 'vbd_xvda_iops_write', 20],
      ['vm', 'vbd_xvda_read_latency', 300],
      ['vm', 'vbd_xvda_write_latency', 400],
      ['vm', 'vbd_xvda_latency', 350],
      ['vm', 'vbd_xvda_io_throughput_read', 1],
      ['vm', 'vbd_xvda_io_throughput_write', 0.5],
      ['vm', 'vbd_xvda_io_throughput_total', 1.5],
      ['vm', 'vbd_xvda_iowait', 0.01],
      ['vm', 'vbd_xvda_inflight', 3],
      ['vm', 'vbd_xvda_avgqu_sz', 0.7],
      ['vm', 'vbd_xvdaa_iops_read', 7],
    ]),
  );
  t.equal(sample('xcp_vm_memory_bytes'), 2147483648);
  t.equal(sample('xcp_vm_memory_internal_free_bytes'), 1024000, 'KiB → bytes');
  t.equal(sample('xcp_vm_memory_target_bytes'), 1073741824);
  t.equal(sample('xcp_vm_cpu_core_usage', 'core="1"'), 0.4);
  t.match(text, `xcp_vm_cpu_usage{${VM_BASE}} 0.30000000000000004`, 'mean of the vCPUs when cpu_usage is absent');
  for (const [name, v] of [
    ['fullrun', 0.1],
    ['full_contention', 0.01],
    ['partial_run', 0.2],
    ['partial_contention', 0.02],
    ['concurrency_hazard', 0.03],
    ['blocked', 0.6],
  ] as const)
    t.equal(sample(`xcp_vm_runstate_${name}`), v);
  t.equal(sample('xcp_vm_disk_iops_read', 'device="xvda"'), 10);
  t.equal(sample('xcp_vm_disk_iops_write'), 20);
  t.equal(sample('xcp_vm_disk_read_latency_seconds'), 0.0003);
  t.equal(sample('xcp_vm_disk_write_latency_seconds'), 0.0004);
  t.equal(sample('xcp_vm_disk_latency_seconds'), 0.00035);
  t.equal(sample('xcp_vm_disk_throughput_read_bytes'), 1048576);
  t.equal(sample('xcp_vm_disk_throughput_write_bytes'), 524288);
  t.equal(sample('xcp_vm_disk_throughput_total_bytes'), 1572864);
  t.equal(sample('xcp_vm_disk_iowait'), 0.01);
  t.equal(sample('xcp_vm_disk_inflight'), 3);
  t.equal(sample('xcp_vm_disk_queue_size'), 0.7);
  t.equal(sample('xcp_vm_disk_iops_read', 'device="xvdaa"'), 7, 'device names XO drops (xvdaa) are kept');
  t.match(text, `xcp_vm_memory_bytes{${VM_BASE}} 2147483648`);
});

t.test('traffic and request rates become true counters', async (t) => {
  const counters = new CounterBank();
  const entries: [string, string, number][] = [
    ['host', 'pif_eth1_rx', 1000],
    ['host', 'pif_eth1_tx', 500],
    ['host', `iops_total_${SR.slice(0, 8)}`, 100],
    ['host', 'xapi_allocation_kib', 2],
    ['host', 'pool_total_session_count', 0.2],
    ['vm', 'vif_0_rx', 300],
    ['vm', 'vif_0_tx', 200],
    ['vm', 'vif_0_rx_errors', 1],
    ['vm', 'vif_0_tx_errors', 2],
    ['vm', 'vbd_xvda_read', 4096],
    ['vm', 'vbd_xvda_write', 8192],
    ['vm', 'vbd_xvda_iops_total', 30],
    ['vm', 'cpu_usage', 0.5],
  ];
  const first = collect(update(entries), counters);
  t.equal(first.sample('xcp_host_network_receive_bytes_total'), 0, 'a counter starts at 0 on first sight');
  // Next poll: rows at 1010 and 1015 with the same rates: 2 rows × 5 s × rate are added.
  const next = update(entries);
  next.rows[0]!.t = 1015;
  next.rows[1]!.t = 1010;
  next.rows[1]!.values = next.rows[0]!.values;
  const { sample, text } = collect(next, counters);
  t.equal(sample('xcp_host_network_receive_bytes_total', 'interface="eth1",network_name="VM network"'), 10000);
  t.equal(sample('xcp_host_network_transmit_bytes_total'), 5000);
  t.equal(sample('xcp_host_disk_iops_total'), 1000);
  t.equal(sample('xcp_host_xapi_allocation_bytes_total'), 2 * 10 * 1024, 'KiB/s integrated, in bytes');
  t.equal(sample('xcp_host_xapi_sessions_created_total'), 2);
  t.equal(sample('xcp_vm_network_receive_bytes_total', 'vif="0",network_name="VM network"'), 3000);
  t.equal(sample('xcp_vm_network_transmit_bytes_total'), 2000);
  t.equal(sample('xcp_vm_network_receive_errors_total'), 10);
  t.equal(sample('xcp_vm_network_transmit_errors_total'), 20);
  t.equal(sample('xcp_vm_disk_read_bytes_total', 'device="xvda",vdi_name="root disk",sr_name="NFS store",sr_type="nfs"'), 40960);
  t.equal(sample('xcp_vm_disk_write_bytes_total'), 81920);
  t.equal(sample('xcp_vm_disk_iops_total'), 300);
  t.equal(sample('xcp_vm_cpu_usage'), 0.5, 'a present cpu_usage is used as is');
  t.match(text, '# TYPE xcp_vm_network_receive_bytes_total counter');
  t.match(text, '# TYPE xcp_host_disk_iops_total counter');
  // The same window again adds nothing: rows already integrated are skipped.
  t.equal(collect(next, counters).sample('xcp_host_network_receive_bytes_total'), 10000);
});

t.test('newest row by t, NaN is no sample', async (t) => {
  const u = update([['host', 'loadavg', 4]]);
  u.rows.reverse(); // oldest first now: the parser must not care
  t.equal(collect(u).sample('xcp_host_load_average'), 4, 'the row with the largest t wins');
  const gap = update([['host', 'loadavg', 4]]);
  gap.rows[0]!.values[0] = NaN;
  t.equal(collect(gap).sample('xcp_host_load_average'), 2, 'NaN in the newest row: the newest finite value is used');
  const none = update([['host', 'loadavg', NaN]]);
  t.equal(collect(none).sample('xcp_host_load_average'), undefined, 'no finite value: no sample');
});

t.test('the catalogue has every XO family, each once', async (t) => {
  const names = catalogueMetrics().map((m) => m.family.name);
  for (const n of [
    'xcp_host_load_average',
    'xcp_host_memory_free_bytes',
    'xcp_host_memory_total_bytes',
    'xcp_host_cpu_average',
    'xcp_host_cpu_core_usage',
    'xcp_host_network_aggregated_receive_bytes',
    'xcp_host_network_aggregated_transmit_bytes',
    'xcp_host_network_receive_bytes_total',
    'xcp_host_network_transmit_bytes_total',
    'xcp_host_disk_iops_read',
    'xcp_host_disk_iops_write',
    'xcp_host_disk_iops_total',
    'xcp_host_disk_throughput_read_bytes',
    'xcp_host_disk_throughput_write_bytes',
    'xcp_host_disk_throughput_total_bytes',
    'xcp_host_disk_read_latency_seconds',
    'xcp_host_disk_write_latency_seconds',
    'xcp_host_disk_latency_seconds',
    'xcp_host_disk_iowait',
    'xcp_host_power_consumption_watts',
    'xcp_host_load',
    'xcp_host_memory_reclaimed_bytes',
    'xcp_host_memory_reclaimed_max_bytes',
    'xcp_host_running_vcpus',
    'xcp_vm_memory_bytes',
    'xcp_vm_memory_internal_free_bytes',
    'xcp_vm_memory_target_bytes',
    'xcp_vm_cpu_usage',
    'xcp_vm_cpu_core_usage',
    'xcp_vm_runstate_fullrun',
    'xcp_vm_runstate_full_contention',
    'xcp_vm_runstate_partial_run',
    'xcp_vm_runstate_partial_contention',
    'xcp_vm_runstate_concurrency_hazard',
    'xcp_vm_runstate_blocked',
    'xcp_vm_network_receive_bytes_total',
    'xcp_vm_network_transmit_bytes_total',
    'xcp_vm_network_receive_errors_total',
    'xcp_vm_network_transmit_errors_total',
    'xcp_vm_disk_read_bytes_total',
    'xcp_vm_disk_write_bytes_total',
    'xcp_vm_disk_iops_read',
    'xcp_vm_disk_iops_write',
    'xcp_vm_disk_iops_total',
    'xcp_vm_disk_read_latency_seconds',
    'xcp_vm_disk_write_latency_seconds',
    'xcp_vm_disk_latency_seconds',
    'xcp_vm_disk_throughput_read_bytes',
    'xcp_vm_disk_throughput_write_bytes',
    'xcp_vm_disk_throughput_total_bytes',
    'xcp_vm_disk_iowait',
    'xcp_vm_disk_inflight',
    'xcp_vm_disk_queue_size',
  ])
    t.ok(names.includes(n), n);
  t.equal(new Set(names).size, names.length, 'no name maps twice');
  for (const { family: f } of catalogueMetrics()) t.equal(f.type === 'counter', f.name.endsWith('_total'), `${f.name}: _total exactly for counters`);
});
