// The two daemons as systemd runs them: `xcp-sentinel exporter|recovery-hook --config F` in their own process, JSON
// logs on stdout, serving until SIGTERM, then stopping cleanly (exit 0) within a few seconds.
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { exporterConfigYaml } from '../helpers/exporter.js';
import { freePort } from '../../core/net.js';
import { startSim } from '../helpers/sim.js';
import { tempDir } from '../helpers/tmp.js';

const CLI = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));
const TOKEN = 'daemon-test-token-0123456789';

interface Daemon {
  child: ChildProcess;
  /** The URL the daemon logged when it started listening. */
  url: string;
  lines: Record<string, unknown>[];
}

/** Spawn `xcp-sentinel <command> --config F` and wait for its "listening" log line. */
async function spawnDaemon(command: string, configFile: string, listening: string): Promise<Daemon> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, command, '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(`${command} did not log "${listening}" within 60 s; stderr: ${stderr}`)), 60_000);
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code} before listening; stderr: ${stderr}`)));
    child.stdout!.on('data', (d) => {
      buffered += String(d);
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          lines.push(parsed);
          if (parsed.msg === listening) {
            clearTimeout(timer);
            resolve(String(parsed.url));
          }
        } catch {
          // not a JSON log line
        }
      }
    });
  });
  return { child, url, lines };
}

async function waitFor(check: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** SIGTERM, and how the process ended and how long it took. */
function terminate(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal, ms: Date.now() - started }));
    child.kill('SIGTERM');
  });
}

t.test('exporter: serves /health and /metrics, reloads on SIGHUP, stops on SIGTERM within seconds with exit 0', async (t) => {
  const sim = await startSim();
  t.teardown(() => sim.stop());
  const dir = tempDir('xcp-daemon-');
  const config = join(dir, 'sentinel.yml');
  // A fixed port: a reload restarts the listener.
  const yaml = exporterConfigYaml([sim]).replace('listen: 127.0.0.1:0', `listen: 127.0.0.1:${await freePort()}`);
  writeFileSync(config, yaml);
  const daemon = await spawnDaemon('exporter', config, 'exporter listening');
  t.teardown(() => void daemon.child.kill('SIGKILL'));
  const deadline = Date.now() + 30_000;
  let health: Response;
  do {
    health = await fetch(`${daemon.url}/health`);
    if (health.status === 200) break;
    await new Promise((r) => setTimeout(r, 200));
  } while (Date.now() < deadline);
  t.equal(health.status, 200, '/health says ok once the pool was polled');
  const metrics = await (await fetch(`${daemon.url}/metrics`)).text();
  t.match(metrics, /^xcp_pool_connected\{[^}]*pool_name="sim-pool"[^}]*\} 1$/m);

  // SIGHUP with a broken file: logged, the running configuration stays.
  writeFileSync(config, `${yaml}  poll_interval_seconds: nope\n`);
  daemon.child.kill('SIGHUP');
  await waitFor(() => daemon.lines.some((l) => l.msg === 'configuration not reloaded: the file has errors'), 'the refused reload');
  t.equal((await fetch(`${daemon.url}/metrics`)).status, 200, 'still serving the previous configuration');
  // SIGHUP with a token added: /metrics now wants it, without a restart of the process.
  writeFileSync(config, `${yaml}  token: ${TOKEN}\n`);
  daemon.child.kill('SIGHUP');
  await waitFor(async () => (await fetch(`${daemon.url}/metrics`).catch(() => undefined))?.status === 401, 'the reloaded configuration');
  await waitFor(
    async () => (await fetch(`${daemon.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status === 200,
    'metrics with the new token',
  );
  await waitFor(async () => (await fetch(`${daemon.url}/health`)).status === 200, 'the pool collected again');

  // The watcher's event.from long poll (30 s) is in flight now: SIGTERM ends it instead of waiting.
  const end = await terminate(daemon.child);
  t.same({ code: end.code, signal: end.signal }, { code: 0, signal: null }, 'exit 0 on SIGTERM');
  t.ok(end.ms < 10_000, `stopped ${end.ms} ms after SIGTERM, well within systemd's 30 s (the long poll alone lasts 30 s)`);
  t.ok(
    daemon.lines.some((l) => l.msg === 'exporter stopped'),
    'logs that it stopped',
  );
  t.ok(
    daemon.lines.some((l) => l.msg === 'XAPI session closed'),
    'logged out of the pool',
  );
  t.equal(sim.pool.sessions.size, 0, 'no session left open on the master');
});

t.test('recovery-hook: refuses a config without a token (exit 2), serves the API, stops on SIGTERM with exit 0', async (t) => {
  const dir = tempDir('xcp-daemon-');
  const base = `pools:\n  - { name: lab, url: "https://192.0.2.10", username: root, password: unused }\nrecovery_hook:\n  listen: 127.0.0.1:0\n  store_path: ${join(dir, 'rh.sqlite')}\n`;
  const noToken = join(dir, 'no-token.yml');
  writeFileSync(noToken, base);
  const refused = spawn(process.execPath, ['--import', 'tsx', CLI, 'recovery-hook', '--config', noToken], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  refused.stderr!.on('data', (d) => (err += String(d)));
  const code = await new Promise<number | null>((resolve) => refused.once('exit', resolve));
  t.equal(code, 2, 'exit 2');
  t.match(err, 'recovery_hook.tokens: configure at least one API token');

  const config = join(dir, 'sentinel.yml');
  writeFileSync(config, `${base}  tokens: [{ name: test, token: ${TOKEN} }]\n`);
  const daemon = await spawnDaemon('recovery-hook', config, 'recovery hook listening');
  t.teardown(() => void daemon.child.kill('SIGKILL'));
  t.equal((await fetch(`${daemon.url}/v1/notifications`)).status, 401, 'the API needs a token');
  const list = await fetch(`${daemon.url}/v1/notifications`, { headers: { 'X-Auth-Token': TOKEN } });
  t.same(await list.json(), { notifications: [] });
  t.notOk(
    daemon.lines.some((l) => JSON.stringify(l).includes(TOKEN)),
    'the token never appears in the logs',
  );
  const end = await terminate(daemon.child);
  t.same({ code: end.code, signal: end.signal }, { code: 0, signal: null }, 'exit 0 on SIGTERM');
  t.ok(
    daemon.lines.some((l) => l.msg === 'recovery hook stopped'),
    'logs that it stopped',
  );
  t.comment(`recovery hook stopped ${end.ms} ms after SIGTERM`);
});
