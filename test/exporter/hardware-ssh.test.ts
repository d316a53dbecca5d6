// IPMI and SMART over SSH, end to end: the real OpenSSH server (Debian openssh-server) on the simulated hosts'
// loopback addresses, `ipmitool` and `smartctl` on its PATH replaced by scripts that print the fixtures, and the
// exporter's /metrics checked. Host A is healthy, host B has failed fans and failing disks (and a scan entry
// that tries to inject a command), host C presents a host key that is not the pinned one, and on host D
// `ipmitool sensor` hangs past its timeout. Then a disk of A goes to sleep and another one vanishes.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { memoryLogger } from '../../core/log.js';
import { startExporter } from '../../exporter/main.js';
import { exporterConfigYaml } from '../helpers/exporter.js';
import { startSim } from '../helpers/sim.js';
import { type FakeAnswer, fakeCommandScript, markedPids, sshdMissing, startSshd } from '../helpers/sshd.js';
import { lines, sample, until, value } from '../helpers/exposition.js';
import { parseConfig } from '../../cli/config/bundle.js';

const IPMI = join(import.meta.dirname, '../fixtures/ipmi');
const SMART = join(import.meta.dirname, '../fixtures/smart');

const missing = sshdMissing();
if (missing) t.test('IPMI and SMART over a real OpenSSH server', { skip: missing }, async () => undefined);
else await main();

async function main(): Promise<void> {
  const sim = await startSim({ size: { hosts: 4, vmsPerHost: 2, disksPerVm: 1, vifsPerVm: 1, vcpusPerVm: 1, hostCpus: 4 }, hardware: false });
  const [A, B, C, D] = sim.pool.hosts.map((h) => ({ address: h.address, name: sim.pool.store.get('host', h.ref)!.name_label as string }));

  const scanJson = (devices: { name: string; type: string; protocol?: string }[]) =>
    JSON.stringify({ json_format_version: [1, 0], smartctl: { version: [7, 4], exit_status: 0 }, devices });
  const disk = (file: string, exit = 0): FakeAnswer => ({ stdoutFile: join(SMART, file), exit });
  const SMART_JSON = '--json -a --nocheck=standby -d';
  const healthyHost = {
    '--scan-open --json': {
      stdout: scanJson([
        { name: '/dev/sda', type: 'sat', protocol: 'ATA' },
        { name: '/dev/nvme0', type: 'nvme', protocol: 'NVMe' },
      ]),
    },
    [`${SMART_JSON} sat /dev/sda`]: disk('smartctl_exporter_WDC_WD20EFRX-68EUZN0_17.json'),
    [`${SMART_JSON} nvme /dev/nvme0`]: disk('telegraf_smartctl7.4_json_nvme.json'),
  };
  const smartAnswers: Record<string, Record<string, FakeAnswer>> = {
    [A.address]: healthyHost,
    [B.address]: {
      '--scan-open --json': {
        stdout: scanJson([
          { name: '/dev/bus/0', type: 'megaraid,0' },
          { name: '/dev/bus/0', type: 'megaraid,1' },
          { name: '/dev/nvme0', type: 'nvme' },
          { name: '/dev/sdz;touch /tmp/pwned', type: 'sat' },
        ]),
      },
      [`${SMART_JSON} megaraid,0 /dev/bus/0`]: disk('xcpng83_smartctl7.0_sat+megaraid0_kingston_ssd_-j-a.json', 4),
      [`${SMART_JSON} megaraid,1 /dev/bus/0`]: disk('scrutiny_smart-fail2.json', 216),
      [`${SMART_JSON} nvme /dev/nvme0`]: disk('smartctl_exporter_nvme-null-SAMSUNG_MZWLL3T2HAJQ-00005-nvme0.json', 8),
    },
    [D.address]: healthyHost,
  };
  const ipmiAnswers: Record<string, Record<string, FakeAnswer>> = {
    [A.address]: {
      sensor: { stdoutFile: join(IPMI, 'linuxfabrik_ipmitool_sensor_twentyfive-sensors-ok.txt') },
      'dcmi power reading': { stdoutFile: join(IPMI, 'ipmitool_dcmi_power_reading.txt') },
    },
    [B.address]: {
      sensor: { stdoutFile: join(IPMI, 'linuxfabrik_ipmitool_sensor_thirtyeight-sensors-with-critical.txt') },
      'dcmi power reading': { stderr: 'DCMI request failed because: Invalid command (c1)\n', exit: 1 },
    },
    [D.address]: { sensor: { hang: true } },
  };

  const sshd = await startSshd({
    addresses: [A.address, B.address, C.address, D.address],
    commands: { ipmitool: fakeCommandScript('ipmitool', ipmiAnswers), smartctl: fakeCommandScript('smartctl', smartAnswers) },
  });
  // Known: A, B and D by known_hosts; C pinned to a fingerprint that is not its key.
  const knownHosts = sshd.writeKnownHosts([A.address, B.address, D.address]);
  const WRONG = 'SHA256:' + 'A'.repeat(43);
  const hardware = [
    'hardware:',
    '  transport: ssh',
    '  ipmi: { interval_seconds: 2, command: sensor, dcmi: true }',
    '  smart: { interval_seconds: 2 }',
    '  ssh:',
    `    user: ${sshd.user}`,
    `    port: ${sshd.port}`,
    `    private_key_file: ${sshd.clientKeyFile}`,
    `    known_hosts_file: ${knownHosts}`,
    `    host_key_fingerprints: { ${C.name}: "${WRONG}" }`,
    '    connect_timeout_seconds: 5',
    '    command_timeout_seconds: 1.5',
    '    concurrency: 4',
  ]
    .map((l) => `    ${l}\n`)
    .join('');
  const yaml = exporterConfigYaml([sim]).replace(/( {4}timeouts: .*\n)/, `$1${hardware}`);
  const logger = memoryLogger('info');
  const ex = await startExporter(parseConfig(yaml, 'test.yml', {}), logger);
  t.teardown(async () => {
    await ex.stop();
    await sshd.stop();
    await sim.stop();
  });
  const pool = ex.exporter.pools[0]!;
  const hw = pool.hardware!;
  const scrape = async () => {
    await ex.exporter.pollOnce();
    return (await fetch(ex.url + '/metrics')).text();
  };
  async function cycles(n = 1): Promise<void> {
    const want = { ipmi: hw.cycles.ipmi + n, smart: hw.cycles.smart + n };
    await until('hardware cycles', () => hw.cycles.ipmi >= want.ipmi && hw.cycles.smart >= want.smart, 10_000 + n * 5000);
  }
  const host = (h: { name: string }, more: Record<string, string> = {}) => ({ host_name: h.name, ...more });

  await cycles(1);

  t.test('IPMI over SSH: sensors, states and power', async (t) => {
    const text = await scrape();
    t.equal(sample(text, 'xcp_host_ipmi_up', host(A)), 1);
    t.equal(sample(text, 'xcp_host_ipmi_temperature_celsius', host(A, { sensor: 'CPU Temp' })), 52);
    t.equal(sample(text, 'xcp_host_ipmi_fan_speed_rpm', host(A, { sensor: 'FAN1' })), 6000);
    t.equal(sample(text, 'xcp_host_ipmi_voltage_volts', host(A, { sensor: '12V' })), 12.189);
    t.equal(sample(text, 'xcp_host_ipmi_sensor_state', host(A, { sensor: 'FAN1', type: 'fan' })), 0);
    t.equal(sample(text, 'xcp_host_power_consumption_watts', host(A, { source: 'dcmi' })), 167, 'DCMI power reading');
    t.equal(sample(text, 'xcp_host_ipmi_up', host(B)), 1);
    t.equal(sample(text, 'xcp_host_ipmi_sensor_state', host(B, { sensor: 'FAN1', type: 'fan' })), 2, 'nr: critical');
    t.equal(sample(text, 'xcp_host_ipmi_sensor_state', host(B, { sensor: 'FAN 1', type: 'fan' })), 1, 'nc: warning');
    t.equal(sample(text, 'xcp_host_ipmi_fan_speed_rpm', host(B, { sensor: 'FAN3 #2' })), 1700, 'repeated names kept apart');
    t.equal(sample(text, 'xcp_host_power_consumption_watts', host(B, { source: 'psu' })), 300, 'no DCMI on this BMC: the power sensor');
    t.ok(logger.lines.some((l) => l.msg === 'BMC has no DCMI power reading; host power comes from its power sensors' && l.host === B.name));
  });

  t.test('SMART over SSH: healthy, failing and worn disks; an unsafe device name never runs', async (t) => {
    const text = await scrape();
    t.equal(sample(text, 'xcp_host_disk_smart_healthy', host(A, { device: '/dev/sda' })), 1);
    t.equal(sample(text, 'xcp_host_disk_temperature_celsius', host(A, { device: '/dev/sda' })), 34);
    t.equal(sample(text, 'xcp_host_disk_power_on_seconds', host(A, { device: '/dev/sda' }))! > 0, true);
    t.equal(sample(text, 'xcp_host_disk_info', host(A, { device: '/dev/sda', model: 'WDC WD20EFRX-68EUZN0', type: 'sat' })), 1);
    t.equal(sample(text, 'xcp_host_disk_nvme_percentage_used_ratio', host(A, { device: '/dev/nvme0' })), 0.04);
    t.equal(sample(text, 'xcp_host_disk_nvme_available_spare_ratio', host(A, { device: '/dev/nvme0' })), 1);
    t.equal(sample(text, 'xcp_host_disk_smart_healthy', host(B, { device: '/dev/bus/0:megaraid,0' })), 1);
    t.equal(sample(text, 'xcp_host_disk_info', host(B, { device: '/dev/bus/0:megaraid,0', model: 'KINGSTON SA400S37240G', type: 'megaraid' })), 1);
    t.equal(sample(text, 'xcp_host_disk_smart_healthy', host(B, { device: '/dev/bus/0:megaraid,1' })), 0, 'FAILED disk');
    t.ok(sample(text, 'xcp_host_disk_reallocated_sectors', host(B, { device: '/dev/bus/0:megaraid,1' }))! > 0);
    t.equal(sample(text, 'xcp_host_disk_smart_healthy', host(B, { device: '/dev/nvme0' })), 0);
    t.equal(sample(text, 'xcp_host_disk_nvme_critical_warning', host(B, { device: '/dev/nvme0' })), 16);
    t.notMatch(text, /pwned/, 'the injected name is refused, not run');
    t.ok(logger.lines.some((l) => l.msg === 'SMART device scan refused entries' && JSON.stringify(l.warnings).includes('pwned')));
  });

  t.test('a host key that is not the pinned one: refused, reported, nothing run', async (t) => {
    const text = await scrape();
    t.equal(sample(text, 'xcp_host_ipmi_up', host(C)), 0);
    t.same(
      lines(text, 'xcp_host_disk_smart_up')
        .filter((l) => l.includes(`host_name="${C.name}"`))
        .map(value),
      [0],
      'smart_up 0 for the host',
    );
    t.match(text, /xcp_exporter_collector_errors_total\{pool_name="sim-pool",collector="ipmi",kind="tls"\} [1-9]/);
    t.match(text, /xcp_exporter_collector_errors_total\{pool_name="sim-pool",collector="smart",kind="tls"\} [1-9]/);
    const refused = logger.lines.find((l) => l.msg === 'IPMI not collected' && l.host === C.name);
    t.match(refused, {
      kind: 'tls',
      reason: new RegExp(`SSH host key of ${C.name} \\(SHA256:.+\\) does not match the pinned fingerprint ${WRONG}; connection refused`),
    });
    t.equal(logger.lines.filter((l) => l.msg === 'IPMI not collected' && l.host === C.name).length, 1, 'logged once, not every cycle');
    t.match(hw.ipmi.get(sim.pool.store.get('host', sim.pool.hosts[2]!.ref)!.uuid as string), { up: false, reason: /host key/ });
  });

  t.test('a command that hangs past its timeout: a timeout error, other hosts and collectors unaffected', async (t) => {
    const text = await scrape();
    t.equal(sample(text, 'xcp_host_ipmi_up', host(D)), 0);
    t.match(text, /xcp_exporter_collector_errors_total\{pool_name="sim-pool",collector="ipmi",kind="timeout"\} [1-9]/);
    t.equal(
      sample(text, 'xcp_host_disk_smart_up', host(D, { device: '/dev/sda' })),
      1,
      "SMART of the same host works: the hung command's connection was replaced",
    );
    t.equal(sample(text, 'xcp_host_ipmi_up', host(A)), 1);
    t.match(text, /xcp_exporter_collector_up\{pool_name="sim-pool",collector="ipmi"\} 1/, 'the collector is up: other hosts answered');
    t.ok((pool.health.collectors.get('ipmi')?.durationSeconds ?? 99) < 6, 'a cycle lasts about one command timeout, not more');
    t.match(
      logger.lines.find((l) => l.msg === 'IPMI not collected' && l.host === D.name),
      { kind: 'timeout', reason: /ipmitool sensor timed out after 1500 ms/ },
    );
    // OpenSSH does not pass signals to root sessions: the host-side `timeout` ends the hung command, so they do
    // not pile up, one per cycle.
    const hung = () =>
      markedPids(sshd.dir).filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8') === 'sleep\u00003600\u0000';
        } catch {
          return false;
        }
      }).length;
    await cycles(4);
    t.ok(hung() <= 3, `${hung()} hung commands alive after ${hw.cycles.ipmi} cycles`);
  });

  t.test('a disk that goes to sleep keeps its values; one that vanishes is down', async (t) => {
    const standby = JSON.stringify({
      json_format_version: [1, 0],
      smartctl: { version: [7, 4], exit_status: 2, messages: [{ string: 'Device is in STANDBY mode, exit(2)', severity: 'information' }] },
      device: { name: '/dev/sda', info_name: '/dev/sda [SAT]', type: 'sat', protocol: 'ATA' },
    });
    sshd.setCommand(
      'smartctl',
      fakeCommandScript('smartctl', {
        ...smartAnswers,
        [A.address]: {
          '--scan-open --json': { stdout: scanJson([{ name: '/dev/sda', type: 'sat' }]) },
          [`${SMART_JSON} sat /dev/sda`]: { stdout: standby, exit: 2 },
        },
      }),
    );
    await cycles(2);
    const text = await scrape();
    t.equal(sample(text, 'xcp_host_disk_smart_up', host(A, { device: '/dev/sda' })), 1, 'asleep is up');
    t.equal(sample(text, 'xcp_host_disk_temperature_celsius', host(A, { device: '/dev/sda' })), 34, 'last values kept while asleep');
    t.equal(sample(text, 'xcp_host_disk_smart_healthy', host(A, { device: '/dev/sda' })), 1);
    t.equal(sample(text, 'xcp_host_disk_smart_up', host(A, { device: '/dev/nvme0' })), 0, 'vanished from the scan: down');
    t.equal(sample(text, 'xcp_host_disk_nvme_percentage_used_ratio', host(A, { device: '/dev/nvme0' })), undefined, 'without stale values');
    t.equal(sample(text, 'xcp_host_disk_smart_up', host(B, { device: '/dev/nvme0' })), 1, 'other hosts unaffected');
    t.ok(logger.lines.some((l) => l.msg === 'disk no longer listed' && l.host === A.name && l.device === '/dev/nvme0'));
  });

  t.test('promtool check metrics finds no problem', async (t) => {
    const text = await scrape();
    t.equal(execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] }).trim(), '');
  });

  t.test('one connection per host, reused', async (t) => {
    // Several cycles of several commands each ran; the healthy hosts logged in once each (a fresh login would mean
    // the connection was not reused). D's timeouts replace its connection, C never logs in.
    const accepted = sshd.log().match(/Accepted publickey/g)?.length ?? 0;
    const ipmiRuns = hw.cycles.ipmi;
    t.ok(ipmiRuns >= 3, `${ipmiRuns} IPMI cycles`);
    t.ok(accepted <= 2 + ipmiRuns + 1, `${accepted} logins for ${ipmiRuns} cycles on 4 hosts`);
  });

  t.test('every process stopped', async (t) => {
    const dir = sshd.dir;
    await ex.stop();
    await sshd.stop();
    t.same(markedPids(dir), [], 'no session or command left behind (the hung ipmitool included)');
  });
}
