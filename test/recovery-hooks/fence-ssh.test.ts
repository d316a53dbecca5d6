// The BMC command fencer (password only in the environment), and core/ssh's client as the process workflow's
// RemoteShell with the host key pinned (a real ssh2 server on loopback).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import t from 'tap';
import { Secret } from '../../core/config/secret.js';
import { HostKeyError, SshClient, type SshOptions, sshFingerprint } from '../../core/ssh/index.js';
import type { FencingConfig } from '../../recovery-hooks/config.js';
import { CommandFencer, type CommandRunner, parsePowerStatus, runCommand } from '../../recovery-hooks/workflows/fence.js';
import { tempDir } from './helpers/harness.js';
import { FenceError } from '../../core/fencing.js';
import type { RemoteShell } from '../../core/ssh/shell.js';

const fencing: FencingConfig = {
  user: 'ADMIN',
  password: new Secret('bmc-Pa55'),
  passwordEnv: 'IPMI_PASSWORD',
  powerOffCommand: 'ipmitool -I lanplus -H {bmc} -U {user} -E chassis power off'.split(' '),
  powerStatusCommand: 'ipmitool -I lanplus -H {bmc} -U {user} -E chassis power status'.split(' '),
  bmc: { 'host-1': '192.0.2.10' },
  commandTimeoutMs: 1000,
  confirmTimeoutMs: 1000,
  maxHostsFenced: 1,
  fenceWindowMs: 600_000,
  maxDownShare: 0.5,
};

t.test('the fencer runs the command with the password in the environment only', async (t) => {
  const seen: { argv: string[]; env: Record<string, string> }[] = [];
  const runner: CommandRunner = async (argv, env) => {
    seen.push({ argv, env });
    return argv.includes('status')
      ? { code: 0, stdout: 'Chassis Power is off\n', stderr: '' }
      : { code: 0, stdout: 'Chassis Power Control: Down/Off\n', stderr: '' };
  };
  const fencer = new CommandFencer(fencing, runner);
  const host = { name: 'host-1', uuid: 'u-1' };
  await fencer.powerOff(host);
  t.equal(await fencer.powerStatus(host), 'off');
  t.same(seen[0]!.argv, ['ipmitool', '-I', 'lanplus', '-H', '192.0.2.10', '-U', 'ADMIN', '-E', 'chassis', 'power', 'off']);
  t.same(seen[0]!.env, { IPMI_PASSWORD: 'bmc-Pa55' });
  t.notOk(
    seen.some((s) => s.argv.join(' ').includes('bmc-Pa55')),
    'never on the command line',
  );
  await t.rejects(fencer.powerOff({ name: 'host-9', uuid: 'u-9' }), FenceError, 'no BMC address for the host');
});

t.test('fence errors name the host and never carry the password', async (t) => {
  const fencer = new CommandFencer(fencing, async () => ({
    code: 1,
    stdout: '',
    stderr: 'Error: Unable to establish IPMI v2 / RMCP+ session (password bmc-Pa55)',
  }));
  const err = (await fencer.powerOff({ name: 'host-1', uuid: 'u' }).catch((e) => e)) as FenceError;
  t.type(err, FenceError);
  t.match(err.message, /^fencing host-1: power-off command exited with 1: Error: Unable to establish/);
  t.notMatch(err.message, /bmc-Pa55/);
});

t.test('power status parsing and the real command runner', async (t) => {
  t.equal(parsePowerStatus('Chassis Power is on'), 'on');
  t.equal(parsePowerStatus('Power: off'), 'off');
  t.equal(parsePowerStatus('Error: no response'), 'unknown');
  const out = await runCommand(['sh', '-c', 'echo "$IPMI_PASSWORD" | wc -c; echo "$HOME"'], { IPMI_PASSWORD: 'abc' }, 2000);
  t.same(out.stdout.split('\n').slice(0, 2), ['4', ''], 'the variable is set; the rest of the environment is not passed');
  t.match(await runCommand(['sleep', '5'], {}, 50), { code: null });
});

/**
 * An ed25519 key pair ssh2 can read back: about 1 in 300 of the keys ssh2 generates fails its own parser
 * ("Malformed OpenSSH private key"), which made this test fail now and then.
 */
function ed25519KeyPair(): { private: string; public: string } {
  for (;;) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519');
    if (!(ssh2.utils.parseKey(pair.private) instanceof Error)) return pair;
  }
}

t.test('RemoteShell over core/ssh: a pinned host key runs the command; another key is refused before anything is sent', async (t) => {
  const dir = tempDir();
  const hostKey = ed25519KeyPair();
  const clientKey = ed25519KeyPair();
  writeFileSync(join(dir, 'id'), clientKey.private);
  const commands: string[] = [];
  const server = new ssh2.Server({ hostKeys: [hostKey.private] }, (client) => {
    client.on('authentication', (ctx) => (ctx.method === 'publickey' ? ctx.accept() : ctx.reject(['publickey'])));
    client.on('ready', () => {
      client.on('session', (accept) => {
        accept().on('exec', (acceptExec, _reject, info) => {
          commands.push(info.command);
          const stream = acceptExec();
          stream.write('done.\n');
          stream.stderr.write('warning\n');
          stream.exit(0);
          stream.end();
        });
      });
    });
    client.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as { port: number }).port;
  const parsed = ssh2.utils.parseKey(hostKey.public);
  const blob = (Array.isArray(parsed) ? parsed[0] : parsed) as { getPublicSSH(): Buffer };
  const fingerprint = sshFingerprint(blob.getPublicSSH());
  const base: SshOptions = { user: 'root', port, privateKeyFile: join(dir, 'id'), hostKeys: { fingerprints: {} }, connectTimeoutMs: 5000 };
  const host = { name: 'host-1', address: '127.0.0.1' };
  const shell = (hostKeys: SshOptions['hostKeys']): RemoteShell => {
    const client = new SshClient({ ...base, hostKeys });
    t.teardown(() => client.close());
    return client;
  };

  t.match(await shell({ fingerprints: { 'host-1': fingerprint } }).run(host, 'xe-toolstack-restart', 5000), {
    code: 0,
    stdout: 'done.\n',
    stderr: 'warning\n',
  });
  writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:${port} ssh-ed25519 ${blob.getPublicSSH().toString('base64')}\n`);
  t.match(await shell({ fingerprints: {}, knownHostsFile: join(dir, 'known_hosts') }).run(host, 'uptime', 5000), { code: 0 });

  const err = await shell({ fingerprints: { 'host-1': 'SHA256:' + 'B'.repeat(43) } })
    .run(host, 'rm -rf /', 5000)
    .catch((e) => e);
  t.type(err, HostKeyError);
  t.match(err.message, /SSH host key of host-1 .* does not match the pinned fingerprint/);
  t.type(
    await shell({ fingerprints: {} })
      .run(host, 'rm -rf /', 5000)
      .catch((e) => e),
    HostKeyError,
    'no pin, no connection',
  );
  t.same(commands, ['xe-toolstack-restart', 'uptime'], 'nothing ran on a refused connection');
});
