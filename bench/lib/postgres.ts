// A throwaway PostgreSQL cluster (Debian's postgresql package) for the shared-store tests and the intake benchmark
// (here so that bench/ does not import test/; the tests take it through test/helpers/postgres.ts): initdb in a temp dir,
// the postmaster as our child on 127.0.0.1 at a free port (and a unix socket in the temp dir), password
// (scram-sha-256) auth for a test superuser. The server can be stopped and started again on the same port and
// data, for the "database restarts" tests.
//
// As root (CI): PostgreSQL refuses to run as root, so the temp dir is given to Debian's `postgres` user and every
// binary runs through `setpriv` as that user. setpriv execs in place (no intermediate process, unlike runuser),
// so the child we spawn IS the postmaster and our signals reach it directly.
//
// The server never outlives the test process: stop() in teardown; an 'exit' hook that sends the immediate
// shutdown signal and removes the dir when the process ends without its teardown; and, when the process is killed
// by a signal (no 'exit' hook runs), the kernel's parent-death signal (setpriv --pdeathsig).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../core/net.js';

const VERSIONS_DIR = '/usr/lib/postgresql';

/** The newest installed server's bin dir, e.g. /usr/lib/postgresql/15/bin. */
function binDir(): string | undefined {
  const versions = existsSync(VERSIONS_DIR) ? readdirSync(VERSIONS_DIR).filter((v) => /^\d+$/.test(v)) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a)).find((v) => existsSync(join(VERSIONS_DIR, v, 'bin', 'postgres')));
  return newest && join(VERSIONS_DIR, newest, 'bin');
}

const BIN = binDir();
const AS_ROOT = process.getuid?.() === 0;

function postgresUser(): { uid: number; gid: number } | undefined {
  try {
    return {
      uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })),
      gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })),
    };
  } catch {
    return undefined;
  }
}

/** Why no cluster can run here (for `{ skip }`), or false. CI installs postgresql, so there it never skips. */
export const postgresSkip: string | false = !BIN
  ? `no ${VERSIONS_DIR}/<version>/bin/postgres (Debian package postgresql)`
  : AS_ROOT && !postgresUser()
    ? 'running as root without a postgres user to run the server as (Debian package postgresql creates it)'
    : false;

export type ShutdownMode = 'fast' | 'immediate';

export interface TestPostgres {
  /** postgres://user:password@127.0.0.1:port/postgres (the test superuser). */
  url: string;
  /** A new, empty database; its URL. */
  createDatabase(): Promise<string>;
  /** Stop the server for good and remove its files. */
  stop(): Promise<void>;
  /** Fast shutdown then start: same port, same data. */
  restart(): Promise<void>;
  /** Shut the server down (fast: clients are disconnected cleanly; immediate: like a crash, recovery at start). */
  stopServer(mode?: ShutdownMode): Promise<void>;
  startServer(): Promise<void>;
  /** What the server printed (for failure messages). */
  log(): string;
}

const SIGNALS: Record<ShutdownMode, NodeJS.Signals> = { fast: 'SIGINT', immediate: 'SIGQUIT' };

/**
 * argv to run a binary of the cluster: as its owner, and sent SIGQUIT (immediate shutdown) if the test process dies
 * without running its 'exit' hooks (killed by a signal).
 */
function command(bin: string, args: string[]): [string, string[]] {
  const owner = AS_ROOT ? ['--reuid=postgres', '--regid=postgres', '--init-groups'] : [];
  return ['setpriv', ['--pdeathsig=SIGQUIT', ...owner, '--', join(BIN!, bin), ...args]];
}

function initCluster(dir: string, user: string, password: string): string {
  const data = join(dir, 'data');
  const pwfile = join(dir, 'pwfile');
  writeFileSync(pwfile, password, { mode: 0o600 });
  if (AS_ROOT) {
    const { uid, gid } = postgresUser()!;
    for (const path of [dir, pwfile]) chownSync(path, uid, gid);
  }
  const [file, args] = command('initdb', ['-D', data, '-U', user, `--pwfile=${pwfile}`, '--auth=scram-sha-256', '--encoding=UTF8', '--locale=C', '--no-sync']);
  execFileSync(file, args, { cwd: dir, stdio: 'pipe', timeout: 60_000 });
  rmSync(pwfile);
  return data;
}

export interface PostgresOptions {
  /** fsync on, as in production (benchmarks); tests run with fsync off. */
  durable?: boolean;
}

export async function startPostgres(opts: PostgresOptions = {}): Promise<TestPostgres> {
  if (postgresSkip) throw new Error(postgresSkip);
  const dir = mkdtempSync(join(tmpdir(), 'xcp-pg-'));
  const user = 'sentinel';
  const password = randomBytes(12).toString('hex');
  let child: ChildProcess | undefined;
  let output = '';
  const cleanup = () => {
    child?.kill(SIGNALS.immediate);
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', cleanup);

  let data: string;
  try {
    data = initCluster(dir, user, password);
  } catch (err) {
    process.off('exit', cleanup);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const port = await freePort();
  const url = `postgres://${user}:${password}@127.0.0.1:${port}/postgres`;

  const startServer = async () => {
    // fsync off for tests: a test cluster needs no protection from power loss, and committed data still survives a
    // crashed (immediate) shutdown because every commit is written to the OS before it returns.
    const [file, args] = command('postgres', [
      '-D',
      data,
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-k',
      dir,
      '-c',
      `fsync=${opts.durable ? 'on' : 'off'}`,
      '-c',
      'max_connections=100',
    ]);
    const proc = spawn(file, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    const ready = new Promise<void>((resolve, reject) => {
      let startup = '';
      const onData = (d: Buffer) => {
        output = (output + d.toString()).slice(-20_000);
        startup += d.toString();
        if (startup.includes('database system is ready to accept connections')) resolve();
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('exit', (code) => reject(new Error(`postgres exited (${code}):\n${output}`)));
      setTimeout(() => reject(new Error(`postgres did not start in 30 s:\n${output}`)), 30_000).unref();
    });
    await ready;
  };

  const stopServer = async (mode: ShutdownMode = 'fast') => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(SIGNALS[mode]);
    const killer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(killer);
  };

  try {
    await startServer();
  } catch (err) {
    cleanup();
    process.off('exit', cleanup);
    throw err;
  }

  let databases = 0;
  return {
    url,
    async createDatabase() {
      const name = `test_${++databases}`;
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      return url.replace(/\/postgres$/, `/${name}`);
    },
    async stop() {
      await stopServer('fast');
      process.off('exit', cleanup);
      rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      await stopServer('fast');
      await startServer();
    },
    stopServer,
    startServer,
    log: () => output,
  };
}
