// A pool's `hardware:` settings: defaults, the example of the README, and problems reported with their key paths.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../core/config/load.js';
import { loadConfig, parseConfig } from '../../cli/config/bundle.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('xcp-hw-config-');
writeFileSync(join(dir, 'id_ed25519'), 'not really a key, but readable\n');
writeFileSync(join(dir, 'known_hosts'), '');

const POOL = 'pools:\n  - name: lab\n    url: https://10.0.0.1\n    username: root\n    password: pw\n';
const withHardware = (hardware: string) => `${POOL}    hardware:\n${hardware.replace(/^/gm, '      ')}\n`;
const load = (text: string) => {
  const file = join(dir, 'sentinel.yml');
  writeFileSync(file, text);
  return loadConfig(file);
};
const problems = (text: string) => {
  try {
    parseConfig(text, join(dir, 'sentinel.yml'), {});
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
};

t.test('no hardware key: nothing collected', async (t) => {
  const hw = load(POOL).pools[0]!.hardware!;
  t.equal(hw.transport, 'none');
  t.notOk(hw.ipmi.enabled || hw.smart.enabled);
});

t.test('the README example', async (t) => {
  const hw = load(
    withHardware(`transport: ssh
ipmi: { interval_seconds: 60, command: sdr-elist, dcmi: false }
smart: { interval_seconds: 600 }
ssh:
  user: monitor
  private_key_file: id_ed25519
  known_hosts_file: known_hosts
  host_key_fingerprints:
    xcp-host-01: "SHA256:ZH8+vwGFahSDcgnteQmRkIkiAwoUpDur//FeLAl/aLA"
  command_timeout_seconds: 20
  sudo: true`),
  ).pools[0]!.hardware!;
  t.same(
    hw,
    {
      transport: 'ssh',
      ipmi: { enabled: true, intervalMs: 60_000, command: 'sdr-elist', dcmi: false },
      smart: { enabled: true, intervalMs: 600_000 },
      plugin: { callTimeoutMs: 60_000, concurrency: 4 },
      ssh: {
        user: 'monitor',
        port: 22,
        privateKeyFile: join(dir, 'id_ed25519'),
        knownHostsFile: join(dir, 'known_hosts'),
        fingerprints: { 'xcp-host-01': 'SHA256:ZH8+vwGFahSDcgnteQmRkIkiAwoUpDur//FeLAl/aLA' },
        connectTimeoutMs: 10_000,
        commandTimeoutMs: 20_000,
        concurrency: 4,
        sudo: true,
      },
    },
    'relative files resolved beside the config',
  );
  const plugin = load(withHardware('transport: plugin\nsmart: { enabled: false }')).pools[0]!.hardware!;
  t.match(plugin, { transport: 'plugin', ipmi: { enabled: true, intervalMs: 60_000 }, smart: { enabled: false }, ssh: undefined });
});

t.test('problems name their key path', async (t) => {
  t.same(problems(withHardware('transport: ssh')), [
    'pools[0].hardware.ssh: is required with transport: ssh (private_key_file, and known_hosts_file or host_key_fingerprints)',
  ]);
  t.same(problems(withHardware('transport: ssh\nssh: { private_key_file: id_ed25519 }')), [
    'pools[0].hardware.ssh: needs known_hosts_file or host_key_fingerprints: host keys are always pinned',
  ]);
  t.same(problems(withHardware('transport: ssh\nssh: { private_key_file: missing, known_hosts_file: gone }')).sort(), [
    `pools[0].hardware.ssh.known_hosts_file: cannot read ${dir}/gone: ENOENT`,
    `pools[0].hardware.ssh.private_key_file: cannot read ${dir}/missing: ENOENT`,
  ]);
  t.same(problems(withHardware('transport: ssh\nssh: { private_key_file: id_ed25519, host_key_fingerprints: { h: "MD5:ab:cd" } }')), [
    'pools[0].hardware.ssh.host_key_fingerprints.h: expected an OpenSSH fingerprint like SHA256:base64 (ssh-keygen -lf), got "MD5:ab:cd"',
  ]);
  t.same(
    problems(
      withHardware(
        'transport: ssh\nipmi: { interval_seconds: 20 }\nssh: { private_key_file: id_ed25519, known_hosts_file: known_hosts, command_timeout_seconds: 30 }',
      ),
    ),
    ['pools[0].hardware.ssh.command_timeout_seconds: must be shorter than the shortest enabled interval_seconds (20)'],
  );
  t.same(problems(withHardware('transport: plugin\nipmi: { command: sdr-elist }')), [
    'pools[0].hardware.ipmi.command: only applies to transport: ssh (the ipmitool.py plugin always reads `sdr list`)',
  ]);
  t.same(problems(withHardware('transport: snmp\nipmi: { intervall_seconds: 5 }')).sort(), [
    'pools[0].hardware.ipmi.intervall_seconds: unknown key (did you mean "interval_seconds"?); known keys: enabled, interval_seconds, command, dcmi',
    'pools[0].hardware.transport: expected one of ssh, plugin, none, got "snmp"',
  ]);
});
