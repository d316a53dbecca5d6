// What the exporter loads: the exporter, not the simulator, the recovery hook's notifiers and stores, nor ssh2 until a
// first SSH connection (core/ssh/client.ts) — each costs the process resident memory it would hold for nothing
// (ssh2 alone ~13 MB: its Poly1305 WebAssembly module's memory).
import { execFile } from 'node:child_process';
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

t.test('a command the exporter does not use still loads what it needs', async (t) => {
  // The check is not vacuous: the log sees these modules where they are used.
  const loaded = await loadedBy('recovery-hook');
  t.ok(
    loaded.some((u) => /\/node_modules\/nodemailer\//.test(u)),
    'the recovery hook loads its mail notifier',
  );
  t.ok(
    loaded.some((u) => /\/node_modules\/better-sqlite3\//.test(u)),
    'and its SQLite store',
  );
});
