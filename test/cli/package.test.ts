// The packed tarball is the unit of release: `npm pack`, install it into a clean prefix (from the npm cache), and
// run the installed CLI (compiled JavaScript, no checkout, no tsx). Native modules are not built (--ignore-scripts, no
// network here): the demo, which opens the receiver's store, gets the checkout's better-sqlite3 binary (same version).
import { execFile, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { freePort } from '../../core/net.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const dir = mkdtempSync(join(tmpdir(), 'xcp-pack-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const sh = (cmd: string, args: string[], cwd = dir, timeout = 180_000) =>
  new Promise<{ code: number; out: string; err: string }>((resolve) =>
    execFile(cmd, args, { cwd, timeout, maxBuffer: 64 * 1024 * 1024 }, (e, out, err) => resolve({ code: e ? Number(e.code ?? 1) : 0, out, err })),
  );

t.test('the simulator’s hardware data are unchanged copies of test/fixtures', async (t) => {
  const data = join(ROOT, 'simulator/hardware/data');
  for (const kind of ['ipmi', 'smart'])
    for (const f of readdirSync(join(data, kind))) {
      t.equal(readFileSync(join(data, kind, f), 'utf8'), readFileSync(join(ROOT, 'test/fixtures', kind, f), 'utf8'), `${kind}/${f}`);
      t.match(readFileSync(join(data, 'ORIGIN.md'), 'utf8'), `\`${kind}/${f}\`: `, `${kind}/${f} has its origin line`);
    }
});

t.test('LICENSE is the license package.json names', async (t) => {
  const { license } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { license: string };
  t.equal(license, 'Apache-2.0');
  t.match(readFileSync(join(ROOT, 'LICENSE'), 'utf8'), /^\s*Apache License\s+Version 2\.0, January 2004/, 'the Apache 2.0 text');
});

t.test('npm pack → install into a clean prefix → the installed CLI works', async (t) => {
  const pack = await sh('npm', ['pack', '--pack-destination', dir, '--json'], ROOT);
  t.equal(pack.code, 0, `npm pack: ${pack.err.slice(-500)}`);
  const files = (JSON.parse(pack.out.slice(pack.out.indexOf('['))) as { filename: string; files: { path: string }[] }[])[0]!;
  const paths = new Set(files.files.map((f) => f.path));
  for (const p of [
    'LICENSE',
    'README.md',
    'docs/METRICS.md',
    'deploy/systemd/xcp-sentinel-exporter.service',
    'deploy/systemd/xcp-sentinel-recovery-hook.service',
    'deploy/sysusers.d/xcp-sentinel.conf',
    'deploy/tmpfiles.d/xcp-sentinel.conf',
    'rules/xcp-alerts.yml',
    'rules/values.yml',
    'rules/alertmanager.example.yml',
    'rules/runbooks/XcpHostDown.md',
    'grafana/dashboards/xcp-pools.json',
    'grafana/provisioning/datasources/xcp-sentinel.yml',
    'dist/cli/main.js',
    'dist/rules/values.yml',
    'dist/recovery-hooks/notifiers/templates/recovery.waiting/body.html',
    'dist/recovery-hooks/ui/static/ui.css',
    'dist/recovery-hooks/ui/static/ui.js',
    'dist/simulator/hardware/data/ipmi/dell_ipmitool_sdr_list_xcpng_plugin_test.txt',
  ])
    t.ok(paths.has(p), `the tarball carries ${p}`);
  t.notOk(
    [...paths].some((p) => p.startsWith('test/') || p.startsWith('dist/test/')),
    'no tests in the tarball',
  );

  const prefix = join(dir, 'prefix');
  const tgz = join(dir, files.filename);
  const base = ['install', '--prefix', prefix, tgz, '--ignore-scripts', '--no-audit', '--no-fund'];
  // From the npm cache only when it holds everything; else the registry fills the gaps (npm ci caches tarballs, not
  // always the package documents an install from a tarball asks for).
  let install = await sh('npm', [...base, '--offline']);
  if (install.code !== 0) install = await sh('npm', [...base, '--prefer-offline']);
  t.equal(install.code, 0, `npm install: ${install.err.slice(-500)}`);

  const cli = join(prefix, 'node_modules/.bin/xcp-sentinel');
  const version = await sh(cli, ['--version']);
  t.equal(version.out, `xcp-sentinel ${pkg.version}\n`, 'xcp-sentinel --version');

  const rules = await sh(cli, ['rules', 'generate', '--out', join(dir, 'rules.yml')]);
  t.equal(rules.code, 0, `rules generate: ${rules.err}`);
  t.equal(readFileSync(join(dir, 'rules.yml'), 'utf8'), readFileSync(join(ROOT, 'rules/xcp-alerts.yml'), 'utf8'), 'the default rules are the committed ones');
  writeFileSync(join(dir, 'values.yml'), 'alerts:\n  XcpHostDown: { for: 7m }\n');
  const mine = await sh(cli, ['rules', 'generate', '--values', join(dir, 'values.yml')]);
  t.equal(mine.code, 0, `rules generate --values: ${mine.err}`);
  t.match(mine.out, /alert: XcpHostDown[\s\S]*?for: 7m/, 'my values are applied');
  writeFileSync(join(dir, 'bad-values.yml'), 'colour: blue\n');
  const bad = await sh(cli, ['rules', 'generate', '--values', join(dir, 'bad-values.yml')]);
  t.equal(bad.code, 2, 'an unknown values key is refused');
  t.match(bad.err, 'colour');

  const grafana = await sh(cli, ['grafana', 'build', '--out', join(dir, 'dashboards')]);
  t.equal(grafana.code, 0, `grafana build: ${grafana.err}`);
  for (const f of readdirSync(join(ROOT, 'grafana/dashboards')))
    t.equal(readFileSync(join(dir, 'dashboards', f), 'utf8'), readFileSync(join(ROOT, 'grafana/dashboards', f), 'utf8'), `dashboard ${f} as committed`);

  writeFileSync(
    join(dir, 'sentinel.yml'),
    'pools:\n  - { name: lab, url: "https://h", username: root, password: p }\nrecovery_hook:\n  tokens: [{ name: a, token: "0123456789abcdef" }]\n',
  );
  const ok = await sh(cli, ['check-config', '--config', join(dir, 'sentinel.yml')]);
  t.equal(ok.code, 0, `check-config: ${ok.err}`);
  writeFileSync(join(dir, 'no-token.yml'), 'pools:\n  - { name: lab, url: "https://h", username: root, password: p }\n');
  const refused = await sh(cli, ['check-config', '--config', join(dir, 'no-token.yml')]);
  t.equal(refused.code, 2, 'check-config refuses a config without a token');

  // The demo from the installed package: the simulator's hardware data, the receiver's templates and store.
  const sqlite = 'node_modules/better-sqlite3';
  t.equal(
    JSON.parse(readFileSync(join(prefix, sqlite, 'package.json'), 'utf8')).version,
    JSON.parse(readFileSync(join(ROOT, sqlite, 'package.json'), 'utf8')).version,
    'the same better-sqlite3 as the checkout',
  );
  mkdirSync(join(prefix, sqlite, 'build/Release'), { recursive: true });
  copyFileSync(join(ROOT, sqlite, 'build/Release/better_sqlite3.node'), join(prefix, sqlite, 'build/Release/better_sqlite3.node'));
  const demo = spawn(cli, ['demo', '--no-prometheus', '--sim-port', String(await freePort()), '--control-port', String(await freePort())], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => void demo.kill('SIGKILL'));
  let banner = '';
  demo.stdout!.on('data', (d) => (banner += String(d)));
  demo.stderr!.on('data', (d) => (banner += String(d)));
  const exited = new Promise<number | null>((r) => demo.once('exit', (code) => r(code)));
  const ipmiUp = await waitFor(async () => {
    const url = /exporter\s+(http:\/\/\S+)\/metrics/.exec(banner)?.[1];
    const text = url
      ? await fetch(`${url}/metrics`)
          .then((r) => r.text())
          .catch(() => '')
      : '';
    const up = text.match(/^xcp_host_ipmi_up\{.*\} 1$/gm);
    return up?.length ? up : undefined;
  });
  t.ok(ipmiUp?.length, `the installed demo runs and reads the packaged hardware data\n${ipmiUp ? '' : banner.slice(-2000)}`);
  const state = /Configuration and state: (\S+)/.exec(banner)?.[1];
  // Two Ctrl-C: the demo stops at once and still removes its folder (a graceful stop waits for the exporter's
  // XAPI event long poll, up to 30 s, which this already long test cannot afford).
  // The second once the demo took the first: two sent at once may reach it as one (signals do not queue).
  demo.kill('SIGINT');
  for (const deadline = Date.now() + 10_000; !banner.includes('Ctrl-C again to stop at once') && Date.now() < deadline; )
    await new Promise((r) => setTimeout(r, 5));
  demo.kill('SIGINT');
  t.equal(await exited, 130, 'a second Ctrl-C stops it at once');
  t.ok(state && !existsSync(state), 'and its temporary folder is gone');
});

/** `probe`'s answer, polled every 250 ms; undefined after 60 s. */
async function waitFor<T>(probe: () => Promise<T | undefined>): Promise<T | undefined> {
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
    const got = await probe();
    if (got !== undefined) return got;
  }
  return undefined;
}

t.test("the exporter's unit fixes glibc's mmap threshold (its median RSS: bench/RESULTS.md section 1)", async (t) => {
  const unit = readFileSync(join(ROOT, 'deploy/systemd/xcp-sentinel-exporter.service'), 'utf8');
  t.match(unit, /^Environment=MALLOC_MMAP_THRESHOLD_=65536$/m);
});

const root = process.getuid?.() === 0;
const sysusers = spawnSync('sh', ['-c', 'command -v systemd-sysusers && command -v systemd-tmpfiles']).status === 0;
t.test(
  'sysusers.d and tmpfiles.d create the user and the state folder',
  { skip: root && sysusers ? false : 'needs root and systemd-sysusers / systemd-tmpfiles' },
  async (t) => {
    const image = join(dir, 'image');
    mkdirSync(join(image, 'etc'), { recursive: true });
    const users = await sh('systemd-sysusers', [`--root=${image}`, join(ROOT, 'deploy/sysusers.d/xcp-sentinel.conf')]);
    t.equal(users.code, 0, users.err);
    t.match(readFileSync(join(image, 'etc/passwd'), 'utf8'), /^xcp-sentinel:x:\d+:\d+:[^:]*:\/var\/lib\/xcp-sentinel:/m, 'the user exists');
    const tmpfiles = await sh('systemd-tmpfiles', ['--create', `--root=${image}`, join(ROOT, 'deploy/tmpfiles.d/xcp-sentinel.conf')]);
    t.equal(tmpfiles.code, 0, tmpfiles.err);
    t.ok(readdirSync(join(image, 'var/lib')).includes('xcp-sentinel'), 'the state folder exists');
    for (const unit of ['exporter', 'recovery-hook'])
      t.match(
        readFileSync(join(ROOT, `deploy/systemd/xcp-sentinel-${unit}.service`), 'utf8'),
        `check-config --for ${unit}`,
        `the ${unit} unit checks its own daemon`,
      );
  },
);
