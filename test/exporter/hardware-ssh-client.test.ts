// core/ssh against the real OpenSSH server: host-key pinning (fingerprints, known_hosts: plain, hashed, revoked),
// one reused connection, timeouts on connect and on commands, reconnection, errors by kind; and the SSH hardware
// transport's edge cases (smartctl 6.x without --json, no BMC, tools or sudo missing).
import t from 'tap';
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type Server, createServer } from 'node:net';
import { join } from 'node:path';
import { TimeoutError, errorKind } from '../../core/errors.js';
import { memoryLogger } from '../../core/log.js';
import {
  HostKeyError,
  SshAuthError,
  SshClient,
  SshHostClient,
  type SshOptions,
  checkHostKey,
  knownHostsAccepts,
  runOnce,
  sshFingerprint,
} from '../../core/ssh/index.js';
import type { HardwareConfig } from '../../exporter/hardware/config.js';
import { SshHardwareTransport } from '../../exporter/hardware/ssh-transport.js';
import { HardwareUnavailable } from '../../exporter/hardware/transport.js';
import { fakeCommandScript, sshdMissing, startSshd } from '../helpers/sshd.js';

const SMART = join(import.meta.dirname, '../fixtures/smart');

const missing = sshdMissing();
if (missing) t.test('core/ssh against a real OpenSSH server', { skip: missing }, async () => undefined);
else await main();

async function main(): Promise<void> {
  const sshd = await startSshd({
    addresses: ['127.0.0.1', '127.0.0.2', '127.0.0.3'],
    commands: {
      ipmitool: fakeCommandScript('ipmitool', {
        '127.0.0.2': { sensor: { stderr: 'Could not open device at /dev/ipmi0 or /dev/ipmi/0 or /dev/ipmidev/0: No such file or directory\n', exit: 1 } },
      }),
      smartctl: fakeCommandScript('smartctl', {
        '127.0.0.2': {
          '--scan-open --json': { stdout: '=======> UNRECOGNIZED OPTION: json\n', exit: 1 },
          '--scan-open': {
            stdout: '/dev/sda -d sat # /dev/sda [SAT], ATA device\n# /dev/nvme0 -d nvme # /dev/nvme0, NVMe device open failed: Permission denied\n',
          },
          '-a --nocheck=standby -d sat /dev/sda': { stdoutFile: join(SMART, 'telegraf_smartctl6.6_sata_hgst_text.txt') },
        },
        '127.0.0.3': { '--scan-open --json': { stderr: 'bash: line 1: smartctl: command not found\n', exit: 127 } },
      }),
      big: '#!/bin/sh\nhead -c 200000 /dev/zero\n',
    },
  });
  const silent: Server = createServer(() => undefined);
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.teardown(async () => {
    await sshd.stop();
    silent.close();
  });

  const local = { name: 'local', address: '127.0.0.1' };
  const options = (over: Partial<SshOptions> = {}): SshOptions => ({
    user: sshd.user,
    port: sshd.port,
    privateKeyFile: sshd.clientKeyFile,
    hostKeys: { fingerprints: { local: sshd.hostKeyFingerprint } },
    connectTimeoutMs: 5000,
    ...over,
  });
  const hostKey = Buffer.from(sshd.hostPublicKey.split(' ')[1]!, 'base64');
  const logins = () => sshd.log().match(/Accepted publickey/g)?.length ?? 0;

  t.test('known_hosts: plain and [host]:port names, hashed names, revoked and CA lines', async (t) => {
    const other = randomBytes(51);
    const b64 = hostKey.toString('base64');
    t.ok(knownHostsAccepts(`10.0.0.1 ssh-ed25519 ${b64}\n`, '10.0.0.1', 22, hostKey));
    t.notOk(knownHostsAccepts(`10.0.0.1 ssh-ed25519 ${b64}\n`, '10.0.0.1', 2222, hostKey), 'port 2222 needs [host]:port');
    t.ok(knownHostsAccepts(`[10.0.0.1]:2222 ssh-ed25519 ${b64}\n`, '10.0.0.1', 2222, hostKey));
    t.ok(knownHostsAccepts(`# comment\n\nxcp1,10.0.0.1 ssh-ed25519 ${b64}\n`, '10.0.0.1', 22, hostKey), 'one of several names');
    t.notOk(knownHostsAccepts(`10.0.0.1 ssh-ed25519 ${other.toString('base64')}\n`, '10.0.0.1', 22, hostKey), 'another key');
    const salt = randomBytes(20);
    const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update('10.0.0.1').digest('base64')}`;
    t.ok(knownHostsAccepts(`${hashed} ssh-ed25519 ${b64}\n`, '10.0.0.1', 22, hostKey), 'HashKnownHosts entries');
    t.notOk(knownHostsAccepts(`${hashed} ssh-ed25519 ${b64}\n`, '10.0.0.2', 22, hostKey));
    t.notOk(knownHostsAccepts(`10.0.0.1 ssh-ed25519 ${b64}\n@revoked 10.0.0.1 ssh-ed25519 ${b64}\n`, '10.0.0.1', 22, hostKey), 'revoked wins');
    t.notOk(knownHostsAccepts(`@cert-authority 10.0.0.1 ssh-ed25519 ${b64}\n`, '10.0.0.1', 22, hostKey), 'CA keys are not host keys');
  });

  t.test('checkHostKey: fingerprint by name, then address, then known_hosts; anything else refused', async (t) => {
    const fp = sshFingerprint(hostKey);
    t.equal(fp, sshd.hostKeyFingerprint, 'same format as ssh-keygen -lf');
    const target = { name: 'xcp1', address: '127.0.0.1' };
    const kh = sshd.writeKnownHosts(['127.0.0.1'], join(sshd.dir, 'kh-test'));
    t.same(checkHostKey({ fingerprints: { xcp1: fp } }, target, sshd.port, hostKey), { ok: true });
    t.same(checkHostKey({ fingerprints: { '127.0.0.1': `${fp}=` } }, target, sshd.port, hostKey), { ok: true }, 'base64 padding ignored');
    t.match(
      checkHostKey({ fingerprints: { xcp1: 'SHA256:' + 'B'.repeat(43) }, knownHostsFile: kh }, target, sshd.port, hostKey),
      {
        ok: false,
        presented: fp,
        reason: /does not match the pinned fingerprint/,
      },
      'a pinned fingerprint wins over known_hosts',
    );
    t.same(checkHostKey({ fingerprints: {}, knownHostsFile: kh }, target, sshd.port, hostKey), { ok: true });
    t.match(checkHostKey({ fingerprints: {}, knownHostsFile: kh }, { name: 'x', address: '127.0.0.9' }, sshd.port, hostKey), {
      ok: false,
      reason: /is not a known key of \[127\.0\.0\.9\]:\d+ in /,
    });
    t.match(checkHostKey({ fingerprints: {} }, target, 22, hostKey), { ok: false, reason: /is not pinned/ });
    t.match(checkHostKey({ fingerprints: {}, knownHostsFile: '/nonexistent' }, target, 22, hostKey), { ok: false, reason: /unreadable \(ENOENT\)/ });
  });

  t.test('one connection for many commands; exit status and stderr are results', async (t) => {
    const before = logins();
    const client = new SshHostClient(local, options());
    t.teardown(() => client.close());
    const r1 = await client.exec('echo out; echo err >&2; exit 3', 5000);
    t.same(r1, { code: 3, signal: null, stdout: 'out\n', stderr: 'err\n' });
    const rs = await Promise.all([1, 2, 3, 4].map((i) => client.exec(`echo ${i}`, 5000)));
    t.same(
      rs.map((r) => r.stdout),
      ['1\n', '2\n', '3\n', '4\n'],
      'concurrent commands on one connection',
    );
    t.ok(client.connected);
    t.equal(logins() - before, 1, 'one login');
  });

  t.test('a command past its timeout: TimeoutError, and the next command runs on a fresh connection', async (t) => {
    const client = new SshHostClient(local, options());
    t.teardown(() => client.close());
    const started = Date.now();
    const err = await client.exec('sleep 30', 500).catch((e: unknown) => e);
    t.type(err, TimeoutError);
    t.equal(errorKind(err), 'timeout');
    t.ok(Date.now() - started < 2000);
    const before = logins();
    t.equal((await client.exec('echo again', 5000)).stdout, 'again\n');
    t.equal(logins() - before, 1, 'reconnected');
  });

  t.test('the server drops the connection: the next command reconnects', async (t) => {
    const client = new SshHostClient(local, options());
    t.teardown(() => client.close());
    await client.exec('true', 5000);
    // The session's sshd is the parent of the shell that runs this; killing it drops our connection.
    await client.exec('kill -9 $PPID', 5000).catch(() => undefined);
    t.equal((await client.exec('echo back', 5000)).stdout, 'back\n');
  });

  t.test('connect: timeout, refused, host key, authentication', async (t) => {
    const port = (silent.address() as { port: number }).port;
    const err = await runOnce(local, 'true', 5000, options({ port, connectTimeoutMs: 300 })).catch((e: unknown) => e);
    t.type(err, TimeoutError, 'a server that never speaks SSH');
    t.match((err as Error).message, /ssh connection to local \(127\.0\.0\.1:\d+\) timed out after 300 ms/);
    const closed = await runOnce(local, 'true', 5000, options({ port: 1 })).catch((e: unknown) => e);
    t.equal(errorKind(closed), 'connection', 'nothing listening');
    const wrong = await runOnce(local, 'true', 5000, options({ hostKeys: { fingerprints: {} } })).catch((e: unknown) => e);
    t.type(wrong, HostKeyError);
    t.equal(errorKind(wrong), 'tls');
    t.match((wrong as HostKeyError).presented, sshd.hostKeyFingerprint);
    const denied = await runOnce(local, 'true', 5000, options({ user: 'nobody' })).catch((e: unknown) => e);
    t.type(denied, SshAuthError);
    t.equal(errorKind(denied), 'auth');
    const noKey = await runOnce(local, 'true', 5000, options({ privateKeyFile: '/nonexistent' })).catch((e: unknown) => e);
    t.match((noKey as Error).message, /cannot read the private key \/nonexistent: ENOENT/);
    const inline = await runOnce(local, 'echo inline', 5000, options({ privateKeyFile: undefined, privateKey: readFileSync(sshd.clientKeyFile) }));
    t.equal(inline.stdout, 'inline\n', 'the key given inline');
  });

  t.test('output is bounded', async (t) => {
    const err = await runOnce(local, 'big', 5000, options({ maxOutputBytes: 1000 })).catch((e: unknown) => e);
    t.match((err as Error).message, /printed more than 1000 bytes/);
    t.equal(errorKind(err), 'parse');
  });

  t.test('SshClient: one client per host, retain() and close()', async (t) => {
    const client = new SshClient(options({ hostKeys: { fingerprints: {}, knownHostsFile: sshd.writeKnownHosts() } }));
    const a = { name: 'a', address: '127.0.0.1' };
    const b = { name: 'b', address: '127.0.0.2' };
    t.equal((await client.run(a, 'echo a', 5000)).stdout, 'a\n', 'run() is the RemoteShell shape');
    await client.exec(b, 'true', 5000);
    t.equal(client.host(a), client.host(a));
    const hostB = client.host(b);
    await client.retain([a]);
    t.notOk(hostB.connected, "b's connection closed");
    t.not(client.host(b), hostB, 'a new client if b comes back');
    await client.close();
    t.equal(errorKind(await hostB.exec('true', 1000).catch((e: unknown) => e)), 'connection', 'a closed client refuses');
  });

  t.test('SSH transport: smartctl 6.x text, no BMC, smartctl or sudo missing', async (t) => {
    const hw: HardwareConfig = {
      transport: 'ssh',
      ipmi: { enabled: true, intervalMs: 60_000, command: 'sensor', dcmi: true },
      smart: { enabled: true, intervalMs: 300_000 },
      plugin: { callTimeoutMs: 1000, concurrency: 1 },
      ssh: {
        user: sshd.user,
        port: sshd.port,
        privateKeyFile: sshd.clientKeyFile,
        knownHostsFile: sshd.writeKnownHosts(),
        fingerprints: {},
        connectTimeoutMs: 5000,
        commandTimeoutMs: 5000,
        concurrency: 2,
        sudo: false,
      },
    };
    const logger = memoryLogger('info');
    const transport = new SshHardwareTransport(hw, logger);
    t.teardown(() => transport.close());
    const old = { uuid: 'u2', ref: 'r2', name: 'old', address: '127.0.0.2' };
    const smart = await transport.smart(old);
    t.equal(smart.disks.length, 2);
    t.match(smart.disks[0], { device: '/dev/sda', deviceType: 'sat', model: 'HGST HTE725050A7E630', healthy: true, error: null });
    t.match(smart.disks[1], { device: '/dev/nvme0', error: /cannot open the device: Permission denied/ });
    t.ok(
      logger.lines.some((l) => /no --json/.test(l.msg as string)),
      'logged once',
    );
    await transport.smart(old);
    t.equal(logger.lines.filter((l) => /no --json/.test(l.msg as string)).length, 1, 'remembered: straight to text');
    const noBmc = await transport.ipmi(old).catch((e: unknown) => e);
    t.type(noBmc, HardwareUnavailable);
    t.match((noBmc as Error).message, /no IPMI device on the host \(Could not open device/);
    const bare = await transport.smart({ uuid: 'u3', ref: 'r3', name: 'bare', address: '127.0.0.3' }).catch((e: unknown) => e);
    t.type(bare, HardwareUnavailable);
    t.match((bare as Error).message, /smartctl is not installed on the host/);

    const withSudo = new SshHardwareTransport({ ...hw, ssh: { ...hw.ssh!, sudo: true } }, logger);
    t.teardown(() => withSudo.close());
    const noSudo = await withSudo.ipmi(old).catch((e: unknown) => e);
    t.notOk(noSudo instanceof HardwareUnavailable, 'a missing sudo is a configuration error, not a missing BMC');
    t.match((noSudo as Error).message, /sudo is not installed on the host, but ssh.sudo is true/);
    await transport.retain([]);
  });
}
