// IPMI and SMART through the XCP-ng XAPI plugins (ipmitool.py, smartctl.py) of the simulator, end to end through
// the exporter's /metrics: values checked against the fixtures each host answers from, hosts without a BMC or
// without the plugins, a host whose toolstack stops, a disk that disappears.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { memoryLogger } from '../../core/log.js';
import { startExporter } from '../../exporter/main.js';
import { FORGET_AFTER_CYCLES } from '../../exporter/hardware/collector.js';
import type { Simulation } from '../../simulator/run.js';
import { exporterConfigYaml } from '../helpers/exporter.js';
import { startSim } from '../helpers/sim.js';
import { lines, sample, until, value } from '../helpers/exposition.js';
import { parseConfig } from '../../cli/config/bundle.js';

const HARDWARE = `    hardware:
      transport: plugin
      ipmi: { interval_seconds: 1 }
      smart: { interval_seconds: 1 }
      plugin: { call_timeout_seconds: 5, concurrency: 2 }
`;

/** The test exporter's config with a `hardware:` block in every pool. */
function configYaml(sims: Simulation[]): string {
  return exporterConfigYaml(sims).replace(/( {4}timeouts: .*\n)/g, `$1${HARDWARE}`);
}

const sim = await startSim({ size: { hosts: 4, vmsPerHost: 2, disksPerVm: 1, vifsPerVm: 1, vcpusPerVm: 1, hostCpus: 4 }, hardware: { withoutIpmi: [3] } });
const bare = await startSim({ name: 'bare-pool', hardware: false });
const logger = memoryLogger('info');
const ex = await startExporter(parseConfig(configYaml([sim, bare]), 'test.yml', {}), logger);
t.teardown(async () => {
  await ex.stop();
  await sim.stop();
  await bare.stop();
});
const [pool, barePool] = ex.exporter.pools as [(typeof ex.exporter.pools)[0], (typeof ex.exporter.pools)[0]];
const hostName = (s: Simulation, i: number) => s.pool.store.get('host', s.pool.hosts[i]!.ref)!.name_label as string;
const scrape = async () => {
  await ex.exporter.pollOnce();
  return (await fetch(ex.url + '/metrics')).text();
};
/** Wait for `n` more cycles of both collectors of both pools. */
async function cycles(n = 1): Promise<void> {
  const hw = [pool.hardware!, barePool.hardware!];
  const want = hw.map((h) => ({ ipmi: h.cycles.ipmi + n, smart: h.cycles.smart + n }));
  await until('hardware cycles', () => hw.every((h, i) => h.cycles.ipmi >= want[i]!.ipmi && h.cycles.smart >= want[i]!.smart), 10_000 + n * 3000);
}

await cycles(1);
const h = [0, 1, 2, 3].map((i) => ({ pool_name: 'sim-pool', host_name: hostName(sim, i) }));

t.test('IPMI sensors of every host, as the fixtures say', async (t) => {
  const text = await scrape();
  for (const i of [0, 1, 2]) t.equal(sample(text, 'xcp_host_ipmi_up', h[i]!), 1, `host ${i} BMC read`);
  // host 0: the Dell `sdr list` of the xcp-ng-xapi-plugins tests
  t.equal(sample(text, 'xcp_host_ipmi_fan_speed_rpm', { ...h[0]!, sensor: 'Fan1A' }), 4920);
  t.equal(sample(text, 'xcp_host_ipmi_fan_speed_rpm', { ...h[0]!, sensor: 'Fan4A' }), 4680);
  t.equal(sample(text, 'xcp_host_ipmi_temperature_celsius', { ...h[0]!, sensor: 'Inlet Temp' }), 24);
  t.equal(sample(text, 'xcp_host_ipmi_temperature_celsius', { ...h[0]!, sensor: 'Temp' }), 45, 'two sensors named Temp …');
  t.equal(sample(text, 'xcp_host_ipmi_temperature_celsius', { ...h[0]!, sensor: 'Temp #2' }), 42, '… kept apart');
  t.equal(sample(text, 'xcp_host_ipmi_sensor_state', { ...h[0]!, sensor: 'Fan1A', type: 'fan' }), 0);
  t.equal(sample(text, 'xcp_host_ipmi_sensor_state', { ...h[0]!, sensor: 'SEL' }), undefined, 'a sensor without a reading has no state');
  t.equal(sample(text, 'xcp_host_power_consumption_watts', { ...h[0]!, source: 'psu' }), undefined, 'this Dell listing has no power sensor');
  // host 1: IBM System x `sdr`
  t.equal(sample(text, 'xcp_host_ipmi_temperature_celsius', { ...h[1]!, sensor: 'Ambient Temp' }), 20);
  t.equal(sample(text, 'xcp_host_ipmi_voltage_volts', { ...h[1]!, sensor: 'Planar 12V' }), 12.04);
  t.equal(sample(text, 'xcp_host_ipmi_power_watts', { ...h[1]!, sensor: 'Avg Power' }), 210);
  t.equal(sample(text, 'xcp_host_power_consumption_watts', { ...h[1]!, source: 'psu' }), 210, 'whole-system power sensor');
  // host 2: the Supermicro listing with failed fans
  t.equal(sample(text, 'xcp_host_ipmi_fan_speed_rpm', { ...h[2]!, sensor: 'FAN1' }), 0);
  t.equal(sample(text, 'xcp_host_ipmi_sensor_state', { ...h[2]!, sensor: 'FAN1', type: 'fan' }), 2, 'nr: critical');
  t.equal(sample(text, 'xcp_host_ipmi_sensor_state', { ...h[2]!, sensor: 'FAN 1', type: 'fan' }), 1, 'nc: warning');
  t.equal(sample(text, 'xcp_host_ipmi_sensor_state', { ...h[2]!, sensor: 'Chassis Intru', type: 'discrete' }), 0);
  t.equal(sample(text, 'xcp_host_power_consumption_watts', { ...h[2]!, source: 'psu' }), 300);
  // host 3: no BMC
  t.equal(sample(text, 'xcp_host_ipmi_up', h[3]!), 0, 'no IPMI device: up 0');
  t.equal(
    lines(text, 'xcp_host_ipmi_temperature_celsius').filter((l) => l.includes('pool_name="sim-pool"') && l.includes(`host_name="${h[3]!.host_name}"`)).length,
    0,
  );
  t.match(text, /xcp_exporter_collector_up\{pool_name="sim-pool",collector="ipmi"\} 1/, 'a host without a BMC is no failure');
});

t.test('SMART disks of every host, as the fixtures say', async (t) => {
  const text = await scrape();
  const d = (i: number, device: string) => ({ ...h[i]!, device });
  // host 0: the XCP-ng 8.3 plugin test outputs: a SATA SSD behind MegaRAID and an Intel NVMe
  t.equal(sample(text, 'xcp_host_disk_smart_up', d(0, '/dev/bus/0:megaraid,0')), 1);
  t.equal(sample(text, 'xcp_host_disk_smart_healthy', d(0, '/dev/bus/0:megaraid,0')), 1);
  t.equal(sample(text, 'xcp_host_disk_temperature_celsius', d(0, '/dev/bus/0:megaraid,0')), 26);
  t.equal(sample(text, 'xcp_host_disk_info', { ...d(0, '/dev/bus/0:megaraid,0'), model: 'KINGSTON SA400S37240G', type: 'megaraid' }), 1);
  t.equal(sample(text, 'xcp_host_disk_nvme_percentage_used_ratio', d(0, '/dev/nvme1')), 0);
  t.equal(sample(text, 'xcp_host_disk_info', { ...d(0, '/dev/nvme1'), model: 'INTEL SSDPED1D280GA', type: 'nvme' }), 1);
  // host 1
  t.equal(sample(text, 'xcp_host_disk_smart_healthy', d(1, '/dev/sdb')), 1);
  t.equal(sample(text, 'xcp_host_disk_temperature_celsius', d(1, '/dev/sdb')), 34);
  t.equal(sample(text, 'xcp_host_disk_reallocated_sectors', d(1, '/dev/sdb')), 0);
  t.equal(sample(text, 'xcp_host_disk_nvme_percentage_used_ratio', d(1, '/dev/nvme0')), 0.04);
  // host 2: a failing USB disk and an NVMe in critical warning
  t.equal(sample(text, 'xcp_host_disk_smart_healthy', d(2, '/dev/sdc')), 0);
  t.ok(sample(text, 'xcp_host_disk_reallocated_sectors', d(2, '/dev/sdc'))! > 0, 'reallocated sectors of the failing disk');
  t.equal(sample(text, 'xcp_host_disk_info', { ...d(2, '/dev/sdc'), type: 'usb' }), 1);
  t.equal(sample(text, 'xcp_host_disk_smart_healthy', d(2, '/dev/nvme0')), 0);
  t.equal(sample(text, 'xcp_host_disk_nvme_critical_warning', d(2, '/dev/nvme0')), 16);
  t.equal(sample(text, 'xcp_host_disk_nvme_media_errors_total', d(2, '/dev/nvme0')), 0);
  t.match(text, /# TYPE xcp_host_disk_nvme_media_errors_total counter/);
  t.match(text, /xcp_exporter_collector_up\{pool_name="sim-pool",collector="smart"\} 1/);
});

t.test('hosts without the plugins: up 0 and one log line each, not a failed collector', async (t) => {
  await cycles(1);
  const text = await scrape();
  const bareHosts = [0, 1, 2].map((i) => ({ pool_name: bare.pool.options.name, host_name: hostName(bare, i) }));
  for (const host of bareHosts) {
    t.equal(sample(text, 'xcp_host_ipmi_up', host), 0);
    const smartUp = lines(text, 'xcp_host_disk_smart_up').filter(
      (l) => l.includes(`pool_name="${host.pool_name}"`) && l.includes(`host_name="${host.host_name}"`),
    );
    t.same(smartUp.map(value), [0], 'one host-level smart_up 0, without a device');
    t.notMatch(smartUp[0], /device=/);
  }
  const name = bare.pool.options.name;
  t.match(text, new RegExp(`xcp_exporter_collector_up\\{pool_name="${name}",collector="ipmi"\\} 1`));
  t.notMatch(text, new RegExp(`xcp_exporter_collector_errors_total\\{pool_name="${name}",collector="(ipmi|smart)",kind="\\w+"\\} [1-9]`), 'nothing counted');
  const noIpmi = logger.lines.filter((l) => l.msg === 'no IPMI on this host' && l.pool === name);
  t.equal(noIpmi.length, 3, 'logged once per host, though several cycles ran');
  t.match(noIpmi[0], { reason: /XENAPI_MISSING_PLUGIN/ });
  t.equal(logger.lines.filter((l) => l.msg === 'no SMART on this host' && l.pool === name).length, 3);
});

t.test('a disk that disappears, a host whose toolstack stops: down, not gone', async (t) => {
  sim.hardware!.removeDisk(1, '/dev/sda:sat');
  sim.pool.hosts[2]!.toolstackUp = false;
  await cycles(2);
  let text = await scrape();
  t.equal(sample(text, 'xcp_host_disk_smart_up', { ...h[1]!, device: '/dev/sda' }), 0, 'pulled disk: smart_up 0');
  t.equal(sample(text, 'xcp_host_disk_smart_healthy', { ...h[1]!, device: '/dev/sda' }), undefined, 'and no stale values');
  t.ok(sample(text, 'xcp_host_disk_info', { ...h[1]!, device: '/dev/sda' }), 'its identity stays');
  t.equal(sample(text, 'xcp_host_disk_smart_up', { ...h[1]!, device: '/dev/sdb' }), 1, 'the other disks of the host are fine');
  t.equal(sample(text, 'xcp_host_ipmi_up', h[2]!), 0, 'host with its toolstack down: IPMI down');
  for (const device of ['/dev/sda', '/dev/sdc', '/dev/nvme0'])
    t.equal(sample(text, 'xcp_host_disk_smart_up', { ...h[2]!, device }), 0, `${device} down with its host`);
  t.equal(sample(text, 'xcp_host_ipmi_up', h[0]!), 1, 'other hosts unaffected');
  t.match(text, /xcp_exporter_collector_errors_total\{pool_name="sim-pool",collector="ipmi",kind="xapi"\} [1-9]/, 'HOST_OFFLINE counted');
  t.match(pool.health.collectors.get('smart')?.lastError, { kind: 'xapi', message: /HOST_OFFLINE/ });

  sim.pool.hosts[2]!.toolstackUp = true;
  await cycles(1);
  text = await scrape();
  t.equal(sample(text, 'xcp_host_ipmi_up', h[2]!), 1, 'back when the toolstack is');
  t.equal(sample(text, 'xcp_host_disk_smart_up', { ...h[2]!, device: '/dev/sdc' }), 1);
  t.ok(logger.lines.some((l) => l.msg === 'IPMI readable again' && l.pool === 'sim-pool' && l.host === h[2]!.host_name));

  // Still unlisted after FORGET_AFTER_CYCLES cycles: forgotten (memory stays bounded).
  await cycles(FORGET_AFTER_CYCLES);
  text = await scrape();
  t.equal(sample(text, 'xcp_host_disk_smart_up', { ...h[1]!, device: '/dev/sda' }), undefined, 'forgotten');
});

t.test('hardware faults injected through the control API (as in the demo), and cleared', async (t) => {
  const inject = async (s: Simulation, host: string, fault: string) => {
    const res = await fetch(`${s.controlUrl}/sim/hosts/${host}/hardware`, { method: 'POST', body: JSON.stringify({ fault }) });
    return { status: res.status, body: (await res.json()) as { hardware_faults?: string[]; field?: string } };
  };
  const bad = await inject(sim, h[0]!.host_name, 'melted');
  t.match(bad, { status: 400, body: { field: 'fault' } }, 'an unknown fault: 400 naming the field');
  t.equal((await inject(bare, hostName(bare, 0), 'failed-fans')).status, 409, 'no hardware plugins: 409');
  t.equal(sample(await scrape(), 'xcp_host_ipmi_sensor_state', { ...h[0]!, sensor: 'FAN1', type: 'fan' }), undefined, 'host 0 healthy before');
  for (const fault of ['failed-fans', 'failing-disk', 'nvme-critical']) t.equal((await inject(sim, h[0]!.host_name, fault)).status, 200, fault);
  t.same(
    ((await (await fetch(`${sim.controlUrl}/sim`)).json()) as { hosts: { hardware_faults: string[] }[] }).hosts[0]!.hardware_faults,
    ['failed-fans', 'failing-disk', 'nvme-critical'],
    'listed in the status',
  );
  await cycles(1);
  let text = await scrape();
  t.equal(sample(text, 'xcp_host_ipmi_sensor_state', { ...h[0]!, sensor: 'FAN1', type: 'fan' }), 2, 'failed-fans: a fan non-recoverable (critical)');
  t.equal(sample(text, 'xcp_host_ipmi_fan_speed_rpm', { ...h[0]!, sensor: 'FAN1' }), 0);
  t.equal(sample(text, 'xcp_host_disk_smart_healthy', { ...h[0]!, device: '/dev/sdc' }), 0, 'failing-disk: a disk fails its SMART check');
  t.equal(sample(text, 'xcp_host_disk_smart_healthy', { ...h[0]!, device: '/dev/nvme1' }), 0, "nvme-critical: the host's own NVMe");
  t.equal(sample(text, 'xcp_host_disk_nvme_critical_warning', { ...h[0]!, device: '/dev/nvme1' }), 16);
  t.equal(sample(text, 'xcp_host_ipmi_sensor_state', { ...h[1]!, sensor: 'FAN1', type: 'fan' }), undefined, 'other hosts untouched');

  t.same((await inject(sim, h[0]!.host_name, 'ok')).body.hardware_faults, [], 'ok clears every fault of the host');
  await cycles(1);
  text = await scrape();
  t.equal(sample(text, 'xcp_host_ipmi_sensor_state', { ...h[0]!, sensor: 'Fan1A', type: 'fan' }), 0, 'the Dell BMC again');
  t.equal(sample(text, 'xcp_host_disk_smart_healthy', { ...h[0]!, device: '/dev/nvme1' }), 1, 'the NVMe healthy again');
});

t.test('promtool check metrics finds no problem', async (t) => {
  const text = await scrape();
  const out = execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  t.equal(out.trim(), '');
});
