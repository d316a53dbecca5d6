// What the exporter loads: the exporter, not the simulator, the recovery hook's notifiers and stores, nor ssh2 until a
// first SSH connection (core/ssh/client.ts) — each costs the process resident memory it would hold for nothing
// (ssh2 alone ~13 MB: its Poly1305 WebAssembly module's memory). What the recovery hook loads: a notifier channel's
// library (nodemailer, @xmpp/client) only when a channel of its type is configured (notifiers/index.ts).
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const CLI = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));
const MODULE_LOG = fileURLToPath(new URL('../helpers/module-log.mjs', import.meta.url));

/** The modules `xcp-sentinel <command>` loads before it reads its configuration (none here: it stops there). */
const loadedBy = (command: string) =>
  new Promise<string[]>((resolve, reject) =>
    execFile(
      process.execPath,
      ['--import', 'tsx', '--import', MODULE_LOG, CLI, command, '--config', '/nonexistent/sentinel.yml'],
      { timeout: 60_000, maxBuffer: 1 << 24 },
      (e, _out, err) => {
        if (e && e.code !== 2) return reject(e);
        resolve(err.split('\n').flatMap((l) => (l.startsWith('loaded ') ? [l.slice(7)] : [])));
      },
    ),
  );

const NOT_FOR_THE_EXPORTER = [
  /\/node_modules\/ssh2\//,
  /\/node_modules\/nodemailer\//,
  /\/node_modules\/@xmpp\//,
  /\/node_modules\/better-sqlite3\//,
  /\/node_modules\/pg\//,
  /\/simulator\//,
];

t.test('the exporter command loads the exporter and nothing the exporter does not use', async (t) => {
  const loaded = await loadedBy('exporter');
  t.ok(
    loaded.some((u) => u.endsWith('/exporter/main.ts')),
    `the exporter itself (${loaded.length} modules)`,
  );
  t.ok(
    loaded.some((u) => u.endsWith('/core/ssh/client.ts')),
    'its SSH transport, for SMART over SSH',
  );
  for (const pattern of NOT_FOR_THE_EXPORTER)
    t.same(
      loaded.filter((u) => pattern.test(u)),
      [],
      `nothing of ${pattern.source}`,
    );
});

/** The modules a running receiver loaded, with `channels` as its notifiers' channels: started, then stopped once listening. */
const loadedByReceiver = (channels: Record<string, unknown>) =>
  new Promise<string[]>((resolve, reject) => {
    const dir = mkdtempSync(join(tmpdir(), 'xcp-modules-'));
    const config = {
      log: { level: 'info' },
      pools: [{ name: 'lab', url: 'http://127.0.0.1:9', username: 'root', password: 'x' }],
      recovery_hook: {
        listen: '127.0.0.1:0',
        store_path: join(dir, 'store.sqlite'),
        tokens: [{ name: 'am', token: 'a-token-long-enough-0123456789' }],
        pools: { lab: { mode: 'notify-only' } },
        notifiers: { channels },
      },
    };
    writeFileSync(join(dir, 'smtp.pass'), 'secret\n', { mode: 0o600 });
    writeFileSync(join(dir, 'sentinel.yml'), JSON.stringify(config));
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', MODULE_LOG, CLI, 'recovery-hook', '--config', join(dir, 'sentinel.yml')], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('recovery hook listening')) child.kill('SIGTERM');
    });
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('exit', () => {
      rmSync(dir, { recursive: true, force: true });
      if (!out.includes('recovery hook listening')) return reject(new Error(`the receiver did not start:\n${out}\n${err.slice(-2000)}`));
      resolve(err.split('\n').flatMap((l) => (l.startsWith('loaded ') ? [l.slice(7)] : [])));
    });
  });

const NOTIFIER_LIBRARIES = { email: /\/node_modules\/nodemailer\//, xmpp: /\/node_modules\/@xmpp\/client\// };

t.test('the recovery hook loads a notifier channel’s library only when a channel of that type is configured', async (t) => {
  const none = await loadedByReceiver({});
  t.ok(
    none.some((u) => /\/node_modules\/better-sqlite3\//.test(u)),
    `the receiver runs with its SQLite store (${none.length} modules)`,
  );
  for (const [type, pattern] of Object.entries(NOTIFIER_LIBRARIES))
    t.same(
      none.filter((u) => pattern.test(u)),
      [],
      `no channel: nothing of the ${type} channel’s library`,
    );
  // The check is not vacuous: the log sees each library where a channel uses it, and only that one.
  const channels: Record<keyof typeof NOTIFIER_LIBRARIES, Record<string, unknown>> = {
    email: { type: 'email', host: '127.0.0.1', port: 9, username: 'u', password_file: 'smtp.pass', from: 'a@example.org', to: ['b@example.org'] },
    xmpp: {
      type: 'xmpp',
      service: 'xmpp://127.0.0.1:9',
      domain: 'example.org',
      jid: 'bot@example.org',
      password_file: 'smtp.pass',
      to: ['ops@example.org'],
      require_tls: false,
    },
  };
  for (const [configured, channel] of Object.entries(channels)) {
    const loaded = await loadedByReceiver({ [configured]: channel });
    for (const [type, pattern] of Object.entries(NOTIFIER_LIBRARIES))
      if (type === configured)
        t.ok(
          loaded.some((u) => pattern.test(u)),
          `an ${type} channel: its library`,
        );
      else
        t.same(
          loaded.filter((u) => pattern.test(u)),
          [],
          `an ${configured} channel: nothing of the ${type} channel’s library`,
        );
  }
});
