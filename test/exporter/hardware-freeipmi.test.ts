// IPMI over SSH with FreeIPMI (`ipmi.command: freeipmi`) for hosts without ipmitool: the real OpenSSH server, an
// `ipmi-sensors` on its PATH that prints a real FreeIPMI listing (HPE iLO 4, test/fixtures/ipmi), and no `ipmitool`
// at all — so the DCMI reading, which needs ipmitool, must not be asked for.
import { join } from 'node:path';
import t from 'tap';
import { memoryLogger } from '../../core/log.js';
import { startExporter } from '../../exporter/main.js';
import { exporterConfigYaml } from '../helpers/exporter.js';
import { sample, until } from '../helpers/exposition.js';
import { startSim } from '../helpers/sim.js';
import { fakeCommandScript, sshdMissing, startSshd } from '../helpers/sshd.js';
import { parseConfig } from '../../cli/config/bundle.js';

const IPMI = join(import.meta.dirname, '../fixtures/ipmi');
const missing = sshdMissing();

t.test('FreeIPMI ipmi-sensors over a real OpenSSH server', { skip: missing ?? false }, async (t) => {
  const sim = await startSim({ size: { hosts: 1, vmsPerHost: 1, disksPerVm: 1, vifsPerVm: 1, vcpusPerVm: 1, hostCpus: 4 }, hardware: false });
  const host = sim.pool.hosts[0]!;
  const name = sim.pool.store.get('host', host.ref)!.name_label as string;
  t.teardown(() => sim.stop());
  const sshd = await startSshd({
    addresses: [host.address],
    commands: {
      'ipmi-sensors': fakeCommandScript('ipmi-sensors', {
        [host.address]: { '--output-sensor-state': { stdoutFile: join(IPMI, 'hpe_ilo4_freeipmi_ipmimonitoring_annotated.txt') } },
      }),
    },
  });
  t.teardown(() => sshd.stop());
  const hardware = [
    'hardware:',
    '  transport: ssh',
    '  ipmi: { interval_seconds: 5, command: freeipmi, dcmi: true }',
    '  smart: { enabled: false }',
    '  ssh:',
    `    user: ${sshd.user}`,
    `    port: ${sshd.port}`,
    `    private_key_file: ${sshd.clientKeyFile}`,
    `    known_hosts_file: ${sshd.writeKnownHosts([host.address])}`,
    '    command_timeout_seconds: 4',
  ]
    .map((l) => `    ${l}\n`)
    .join('');
  const yaml = exporterConfigYaml([sim]).replace(/( {4}timeouts: .*\n)/, `$1${hardware}`);
  const logger = memoryLogger('info');
  const ex = await startExporter(parseConfig(yaml, 'test.yml', {}), logger);
  t.teardown(() => ex.stop());
  const hw = ex.exporter.pools[0]!.hardware!;
  await until('an IPMI cycle', () => hw.cycles.ipmi >= 1, 20_000);
  await ex.exporter.pollOnce();
  const text = await (await fetch(ex.url + '/metrics')).text();
  const labels = { host_name: name };
  t.equal(sample(text, 'xcp_host_ipmi_up', labels), 1, 'read through ipmi-sensors');
  t.equal(sample(text, 'xcp_host_ipmi_power_watts', { ...labels, sensor: 'PS 1 Output' }), 1275);
  t.equal(sample(text, 'xcp_host_ipmi_sensor_state', { ...labels, sensor: 'Power Supply 2', type: 'discrete' }), 2, 'FreeIPMI "Critical" state');
  t.equal(sample(text, 'xcp_host_power_consumption_watts', { ...labels, source: 'psu' }), 2550, 'host power from the supplies: no DCMI without ipmitool');
  t.notOk(
    logger.lines.some((l) => /ipmitool/.test(JSON.stringify(l))),
    'ipmitool was never run',
  );
});
