import t from 'tap';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { ConfigError } from '../../core/config/load.js';
import { loadConfig, parseConfig } from '../../cli/config/bundle.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('xcp-config-');
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const problems = (text: string, env: NodeJS.ProcessEnv = {}) => {
  try {
    parseConfig(text, 'sentinel.yml', env);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
};

file('lab.password', 's3cret-pool-password\n');

t.test('a minimal valid config gets defaults', async (t) => {
  const cfg = loadConfig(file('ok.yml', 'pools:\n  - name: lab\n    url: https://10.0.0.1/\n    username: root\n    password_file: lab.password\n'));
  t.equal(cfg.pools[0]!.url, 'https://10.0.0.1', 'trailing slash removed');
  t.equal(cfg.pools[0]!.password.reveal(), 's3cret-pool-password', 'relative *_file resolved beside the config, newline trimmed');
  t.same(cfg.pools[0]!.timeouts, { loginMs: 15000, callMs: 30000 });
  t.same(cfg.pools[0]!.tls, { insecure: false, fingerprint: undefined });
  t.equal(cfg.log.level, 'info');
  t.same(cfg.exporter.listen, { host: '127.0.0.1', port: 9004 });
  t.same(cfg.exporter.rrd, { concurrency: 8, timeout_seconds: 10, window_seconds: 10, max_body_bytes: 67108864 });
  t.equal(cfg.exporter.token, undefined);
  t.equal(cfg.recovery_hook.listen.port, 15868);
});

t.test('every problem is reported at once, with its key path', async (t) => {
  const got = problems(`
pools:
  - name: "bad name!"
    url: ftp://x
    username: 7
    password: a
    password_file: b
    tsl: {}
    timeouts: { login_seconds: 3 }
  - url: https://h
    username: root
exporter:
  listen: nowhere
  poll_interval_seconds: "30"
surprise: true
`);
  t.same(
    got.sort(),
    [
      'exporter.listen: expected an address like 127.0.0.1:9100, [::1]:9100 or :9100, got "nowhere"',
      'exporter.poll_interval_seconds: expected a number >= 5 <= 3600, got "30"',
      'pools[0].name: expected a name of letters, digits, "_", "." or "-", got "bad name!"',
      'pools[0].timeouts.login_seconds: expected a number >= 6 <= 300, got 3',
      'pools[0].tsl: unknown key (did you mean "tls"?); known keys: name, url, username, password, password_file, password_env, tls, timeouts, hardware',
      'pools[0].url: expected a URL (http:// or https://…), got "ftp://x"',
      'pools[0].username: expected a string, got 7',
      'pools[1].name: is required (a name of letters, digits, "_", "." or "-")',
      'surprise: unknown key; known keys: log, pools, exporter, recovery_hook',
    ].sort(),
  );
});

t.test('secrets: exactly one source, readable, and never in messages', async (t) => {
  const base = 'pools:\n  - name: lab\n    url: https://h\n    username: root\n';
  t.same(problems(base), ['pools[0]: needs one of password, password_file, password_env']);
  t.same(problems(base + '    password: a\n    password_env: B\n'), ['pools[0]: set only one of password, password_env']);
  t.same(problems(base + '    password_file: /nonexistent/pw\n'), ['pools[0].password_file: cannot read /nonexistent/pw: ENOENT']);
  t.same(problems(base + '    password_env: XCP_PW\n'), ['pools[0].password_env: environment variable XCP_PW is not set or empty']);
  const cfg = parseConfig(base + '    password_env: XCP_PW\n', 'x.yml', { XCP_PW: 'from-env' });
  t.equal(cfg.pools[0]!.password.reveal(), 'from-env');
  t.notMatch(JSON.stringify(cfg), /from-env/, 'not in JSON');
  t.notMatch(inspect(cfg, { depth: 10 }), /from-env/, 'not in util.inspect');
  t.notMatch(String(cfg.pools[0]!.password), /from-env/);
  const leaked = problems(base + '    password: hunter2\n    username: 5\n');
  t.notMatch(leaked.join('\n'), /hunter2/);
});

t.test('TLS settings: CA file read at start, fingerprint shape, insecure exclusive', async (t) => {
  const base = 'pools:\n  - name: lab\n    url: https://h\n    username: root\n    password: p\n';
  t.same(problems(base + '    tls: { ca_file: /nonexistent/ca.pem }\n'), ['pools[0].tls.ca_file: cannot read /nonexistent/ca.pem: ENOENT']);
  t.same(problems(base + '    tls: { fingerprint: "AB:CD" }\n'), [
    'pools[0].tls.fingerprint: expected a SHA-256 fingerprint (64 hex digits, colons allowed), got "AB:CD"',
  ]);
  const fp = Array.from({ length: 32 }, () => 'AB').join(':');
  t.same(problems(base + `    tls: { insecure: true, fingerprint: "${fp}" }\n`), [
    'pools[0].tls.insecure: insecure: true cannot be combined with ca_file or fingerprint',
  ]);
  t.same(problems(base + `    tls: { fingerprint: "sha256:${fp.replace(/:/g, '')}" }\n`), []);
});

t.test('duplicate pool names, empty pools, YAML syntax errors', async (t) => {
  const pool = (n: string) => `  - { name: ${n}, url: "https://h", username: root, password: p }\n`;
  t.same(problems('pools:\n' + pool('a') + pool('a')), ['pools[1].name: duplicate pool name "a"']);
  t.same(problems('pools: []\n'), ['pools: needs at least 1 item(s)']);
  t.same(problems('{}'), ['pools: is required (a list of a pool)']);
  t.match(problems('pools: [\n')[0], /^line \d+, column \d+: /);
  t.match(problems('a: 1\na: 2\n')[0], /Map keys must be unique/);
});

t.test('check-config CLI: exit 2, problems name the file and the key', async (t) => {
  const cli = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));
  const run = (args: string[]) =>
    new Promise<{ code: number; out: string; err: string }>((resolve) =>
      execFile(process.execPath, ['--import', 'tsx', cli, ...args], { timeout: 30_000 }, (e, out, err) => resolve({ code: e ? Number(e.code) : 0, out, err })),
    );
  const bad = file('bad.yml', 'pools:\n  - name: lab\n    url: https://h\n    username: root\n    password: topsecret\n    colour: blue\n');
  const r1 = await run(['check-config', '--config', bad]);
  t.equal(r1.code, 2);
  t.match(r1.err, `${bad}: pools[0].colour: unknown key`);
  t.notMatch(r1.err, /topsecret/);
  const good = file('good.yml', 'pools:\n  - name: lab\n    url: https://h\n    username: root\n    password_file: lab.password\n');
  const r2 = await run(['check-config', '--config', good, '--for', 'exporter']);
  t.equal(r2.code, 0);
  t.match(r2.out, 'OK for exporter (1 pool(s): lab)');
  const r3 = await run(['check-config', '--config', join(dir, 'missing.yml')]);
  t.equal(r3.code, 2);
  t.match(r3.err, 'missing.yml: (file): cannot read: ENOENT');
  const r4 = await run(['check-config']);
  t.equal(r4.code, 1);
  t.match(r4.err, '--config FILE is required');
});
