// The CLI never surprises: --version, --help on every subcommand, check-config = the daemons' own validation, and a
// port already in use is one line naming the port and the key.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { parseConfig } from '../../cli/config/bundle.js';
import { HARDWARE_FAULTS } from '../../simulator/hardware/plugins.js';

const CLI = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
const dir = mkdtempSync(join(tmpdir(), 'xcp-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const run = (args: string[]) =>
  new Promise<{ code: number; out: string; err: string }>((resolve) =>
    execFile(process.execPath, ['--import', 'tsx', CLI, ...args], { timeout: 60_000 }, (e, out, err) => resolve({ code: e ? Number(e.code) : 0, out, err })),
  );
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const POOL = 'pools:\n  - { name: lab, url: "http://127.0.0.1:1", username: root, password: p }\n';

t.test('--version prints the package version', async (t) => {
  const r = await run(['--version']);
  t.equal(r.code, 0);
  t.equal(r.out, `xcp-sentinel ${pkg.version}\n`);
});

t.test('--help on every subcommand: its usage on stdout, exit 0', async (t) => {
  const asks = [
    'exporter',
    'recovery-hook',
    'check-config',
    'demo',
    'simulate',
    'confirm-fenced',
    'emergency-shutdown',
    'emergency-resume',
    'rules',
    'grafana',
  ].map((command, i) => [command, i % 2 ? '-h' : '--help'] as const);
  const answers = await Promise.all(asks.map((args) => run([...args])));
  asks.forEach(([command, flag], i) => {
    const r = answers[i]!;
    t.equal(r.code, 0, `${command} ${flag}: exit 0`);
    t.match(r.out, new RegExp(`^Usage: xcp-sentinel ${command}`), `${command} ${flag}: its usage`);
    t.equal(r.err, '', `${command} ${flag}: nothing on stderr`);
  });
  const fault = await run(['simulate', 'fail-host', '--help']);
  t.equal(fault.code, 0, 'a fault command answers --help too');
  t.match(fault.out, 'fail-host HOST');
  for (const f of [...Object.keys(HARDWARE_FAULTS), 'ok'])
    t.match(answers[4]!.out, new RegExp(`hardware-fault[\\s\\S]*\\b${f}\\b`), `simulate documents hardware-fault ${f}`);
  const demo = answers[3]!;
  for (const option of ['--hosts', '--vms-per-host', '--sim-port', '--control-port', '--no-prometheus']) t.match(demo.out, option, `demo documents ${option}`);
  const wrong = await run(['exporter', '--colour']);
  t.equal(wrong.code, 1, 'an unknown option is a usage error');
  t.match(wrong.err, /Unknown option '--colour'.*see: xcp-sentinel exporter --help/);
  const both = await run(['exporter', '--colour', '--help']);
  t.equal(both.code, 0, '--help wins over an unknown option');
});

t.test('check-config runs the daemons’ validation', async (t) => {
  const noToken = file('no-token.yml', POOL);
  const r1 = await run(['check-config', '--config', noToken]);
  t.equal(r1.code, 2, 'no API token: refused, as recovery-hook refuses it');
  t.match(r1.err, `${noToken}: recovery_hook.tokens: configure at least one API token`);
  const r2 = await run(['check-config', '--config', noToken, '--for', 'exporter']);
  t.equal(r2.code, 0, '--for exporter: the receiver’s needs are not checked');
  t.match(r2.out, 'OK for exporter');
  const r2b = await run(['recovery-hook', '--config', noToken]);
  t.equal(r2b.code, 2, 'recovery-hook refuses what check-config refuses');
  t.match(r2b.err, 'recovery_hook.tokens');

  const unknownPool = file(
    'unknown-pool.yml',
    POOL + 'recovery_hook:\n  tokens: [{ name: a, token: "0123456789abcdef" }]\n  pools:\n    labb: { mode: notify-only }\n',
  );
  const r3 = await run(['check-config', '--config', unknownPool]);
  t.equal(r3.code, 2);
  t.match(r3.err, `${unknownPool}: recovery_hook.pools.labb: names no configured pool; pools: lab`);

  const samePort = file(
    'same-port.yml',
    POOL + 'exporter: { listen: ":15868" }\nrecovery_hook:\n  listen: 127.0.0.1:15868\n  tokens: [{ name: a, token: "0123456789abcdef" }]\n',
  );
  const r4 = await run(['check-config', '--config', samePort, '--for', 'exporter']);
  t.equal(r4.code, 2, 'two daemons on one port: refused');
  t.match(r4.err, `${samePort}: recovery_hook.listen: 127.0.0.1:15868 is the port of exporter.listen (0.0.0.0:15868)`);
  const otherHosts = file(
    'other-hosts.yml',
    POOL + 'exporter: { listen: "127.0.0.2:15868" }\nrecovery_hook:\n  listen: 127.0.0.1:15868\n  tokens: [{ name: a, token: "0123456789abcdef" }]\n',
  );
  t.equal((await run(['check-config', '--config', otherHosts])).code, 0, 'same port on two different addresses is fine');

  const r5 = await run(['check-config', '--config', noToken, '--for', 'prometheus']);
  t.equal(r5.code, 1);
  t.match(r5.err, '--for must be exporter or recovery-hook');
});

t.test('no default the validator rejects: the RRD timeout follows a short poll interval', async (t) => {
  const short = parseConfig(POOL + 'exporter: { poll_interval_seconds: 10 }\n', 'x.yml', {});
  t.equal(short.exporter.rrd.timeout_seconds, 5, 'half of a 10 s poll interval');
  const shortRrd = parseConfig(POOL + 'exporter: { poll_interval_seconds: 6, rrd: { concurrency: 2 } }\n', 'x.yml', {});
  t.equal(shortRrd.exporter.rrd.timeout_seconds, 3, 'also when the rrd section is written without a timeout');
  t.equal(parseConfig(POOL, 'x.yml', {}).exporter.rrd.timeout_seconds, 10, '10 s with the default 30 s poll interval');
  t.throws(
    () => parseConfig(POOL + 'exporter: { poll_interval_seconds: 10, rrd: { timeout_seconds: 10 } }\n', 'x.yml', {}),
    {
      message: /exporter\.rrd\.timeout_seconds: must be shorter than poll_interval_seconds \(10\)/,
    },
    'a timeout the user wrote is still checked',
  );
});

t.test('a port in use: one line naming the port and the key, exit 1, no stack trace', async (t) => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  t.teardown(() => blocker.close());
  const port = (blocker.address() as net.AddressInfo).port;
  const cases = [
    { command: 'exporter', key: 'exporter.listen', yaml: `${POOL}exporter: { listen: "127.0.0.1:${port}" }\n` },
    {
      command: 'recovery-hook',
      key: 'recovery_hook.listen',
      yaml: `${POOL}recovery_hook:\n  listen: 127.0.0.1:${port}\n  store_path: ${join(dir, 'hook.sqlite')}\n  tokens: [{ name: a, token: "0123456789abcdef" }]\n`,
    },
  ];
  for (const c of cases) {
    const r = await run([c.command, '--config', file(`${c.command}-busy.yml`, c.yaml)]);
    t.equal(r.code, 1, `${c.command}: exit 1`);
    t.equal(
      r.err,
      `xcp-sentinel ${c.command}: cannot listen on 127.0.0.1:${port} (${c.key}): the port is already in use (another process listens there); change ${c.key} in the config\n`,
      `${c.command}: one line on stderr`,
    );
    t.notMatch(r.err + r.out, /\n\s+at /, `${c.command}: no stack trace`);
  }
});

t.test('rules generate / grafana build (in process; the packaged CLI: package.test.ts)', async (t) => {
  const { rulesCommand, grafanaCommand } = await import('../../cli/tools.js');
  const { UsageError } = await import('../../cli/usage.js');
  const root = fileURLToPath(new URL('../..', import.meta.url));
  t.equal(await rulesCommand(['generate', '--out', join(dir, 'rules.yml')]), 0);
  t.equal(readFileSync(join(dir, 'rules.yml'), 'utf8'), readFileSync(join(root, 'rules/xcp-alerts.yml'), 'utf8'), 'default values: the committed rules');
  t.equal(await rulesCommand(['generate', '--values', file('bad-values.yml', 'colour: blue\n')]), 2, 'bad values: exit 2');
  await t.rejects(rulesCommand(['frobnicate']), UsageError);
  t.equal(await rulesCommand([]), 1, 'no subcommand: usage on stderr, exit 1');
  await t.rejects(grafanaCommand(['frobnicate']), UsageError);
  t.equal(await grafanaCommand(['build', '--out', join(dir, 'dash')]), 0);
  t.equal(
    readFileSync(join(dir, 'dash/xcp-pools.json'), 'utf8'),
    readFileSync(join(root, 'grafana/dashboards/xcp-pools.json'), 'utf8'),
    'dashboards as committed',
  );
});

t.test('listenFailure: only listen errors become the one line', async (t) => {
  const { listenFailure } = await import('../../cli/daemon-config.js');
  const at = { host: '0.0.0.0', port: 80 };
  t.match(
    listenFailure(Object.assign(new Error('x'), { code: 'EACCES' }), 'exporter.listen', at),
    'cannot listen on 0.0.0.0:80 (exporter.listen): not allowed',
  );
  t.match(listenFailure(Object.assign(new Error('x'), { code: 'EADDRNOTAVAIL' }), 'recovery_hook.listen', at), 'not one of this machine');
  t.equal(listenFailure(new Error('something else'), 'exporter.listen', at), undefined);
});
