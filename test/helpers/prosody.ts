// The real Prosody XMPP server (Debian package prosody) for the XMPP notifier tests: a throwaway config and data
// folder, loopback ports only, no s2s, accounts created with prosodyctl, the server run in the foreground and
// stopped by its pid. A missing prosody skips the tests with a visible reason.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfSignedCert } from './tls.js';
import { quietPort } from './ports.js';

export const PROSODY = ['/usr/bin/prosody', '/usr/sbin/prosody'].find((p) => existsSync(p));
const PROSODYCTL = ['/usr/bin/prosodyctl', '/usr/sbin/prosodyctl'].find((p) => existsSync(p));
export const prosodySkip = PROSODY && PROSODYCTL ? false : 'prosody not found (Debian package prosody)';

export const DOMAIN = 'localhost';
export const MUC_DOMAIN = `conference.${DOMAIN}`;

export interface ProsodyOptions {
  users: Record<string, string>;
  /** XEP-0198 stream management (mod_smacks); default on. */
  streamManagement?: boolean;
  /** Also listen for direct TLS (xmpps://) with a self-signed certificate for DOMAIN. */
  directTls?: boolean;
}

export interface Prosody {
  port: number;
  tlsPort?: number;
  /** PEM file of the server certificate (with directTls). */
  certFile?: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Server output so far (for failure messages). */
  output(): string;
}

/** Write the config and accounts now; start() runs the server (tests can start it late). */
export async function prepareProsody(opts: ProsodyOptions): Promise<Prosody> {
  const dir = mkdtempSync(join(tmpdir(), 'xcp-prosody-'));
  mkdirSync(join(dir, 'data'));
  mkdirSync(join(dir, 'certs'));
  // Quiet ports: a test may start the server late and expect ECONNREFUSED there meanwhile, never another server.
  const port = await quietPort();
  const tlsPort = opts.directTls ? await quietPort() : undefined;
  const cert = opts.directTls ? selfSignedCert(DOMAIN) : undefined;
  if (cert) {
    writeFileSync(join(dir, 'certs', `${DOMAIN}.crt`), cert.cert);
    writeFileSync(join(dir, 'certs', `${DOMAIN}.key`), cert.key, { mode: 0o600 });
  }
  // No mod_tls: the plain port offers no STARTTLS (its certificate could not be verified by the test clients).
  const modules = ['roster', 'saslauth', 'disco', 'ping', ...(opts.streamManagement === false ? [] : ['smacks'])];
  const lua = (s: string) => JSON.stringify(s);
  const config = [
    'run_as_root = true -- the CI container runs as root; ignored otherwise',
    'daemonize = false',
    `pidfile = ${lua(join(dir, 'prosody.pid'))}`,
    `data_path = ${lua(join(dir, 'data'))}`,
    `certificates = ${lua(join(dir, 'certs'))}`,
    'log = { { levels = { min = "info" }, to = "console" } }',
    'interfaces = { "127.0.0.1" }',
    `c2s_ports = { ${port} }`,
    tlsPort ? `c2s_direct_tls_ports = { ${tlsPort} }` : 'c2s_direct_tls_ports = { }',
    'legacy_ssl_ports = { }',
    's2s_ports = { }',
    'http_ports = { }',
    'https_ports = { }',
    'component_ports = { }',
    `modules_enabled = { ${modules.map(lua).join(', ')} }`,
    'modules_disabled = { "s2s" }',
    'authentication = "internal_plain"',
    'storage = "internal"',
    // Plain streams are allowed for the tests that use xmpp:// on loopback; direct TLS is tested separately.
    'c2s_require_encryption = false',
    'allow_unencrypted_plain_auth = true',
    `VirtualHost ${lua(DOMAIN)}`,
    `Component ${lua(MUC_DOMAIN)} "muc"`,
    '',
  ].join('\n');
  const configFile = join(dir, 'prosody.cfg.lua');
  writeFileSync(configFile, config);
  for (const [user, password] of Object.entries(opts.users))
    execFileSync(PROSODYCTL!, ['--config', configFile, 'register', user, DOMAIN, password], { stdio: 'pipe', timeout: 15_000 });

  let child: ChildProcess | undefined;
  let output = '';
  return {
    port,
    tlsPort,
    certFile: cert?.certFile,
    output: () => output,
    async start() {
      child = spawn(PROSODY!, ['--config', configFile, '-F'], { stdio: ['ignore', 'pipe', 'pipe'] });
      // A test process that dies without its teardown (uncaught error) takes the server with it.
      const orphan = child;
      const killOrphan = () => orphan.kill('SIGKILL');
      process.once('exit', killOrphan);
      child.once('exit', () => process.off('exit', killOrphan));
      child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
      const exited = new Promise<never>((_r, reject) => child!.once('exit', (code) => reject(new Error(`prosody exited (${code}):\n${output}`))));
      await Promise.race([Promise.all([waitForPort(port), tlsPort ? waitForPort(tlsPort) : undefined]), exited]);
    },
    async stop() {
      const c = child;
      child = undefined;
      if (c && c.exitCode === null && c.signalCode === null) {
        const exit = new Promise<void>((resolve) => c.once('exit', () => resolve()));
        c.kill('SIGTERM');
        const killer = setTimeout(() => c.kill('SIGKILL'), 5000);
        await exit;
        clearTimeout(killer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
