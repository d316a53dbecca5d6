// Test helper: a real OpenSSH server (Debian `openssh-server`) on loopback, run as a child process with its own
// config, host key and client key in a temp dir. Commands named in `commands` are scripts in a folder put first
// on the sessions' PATH, so `ipmitool`, `smartctl` or `xe-toolstack-restart` print fixtures instead of touching
// the machine. The system sshd is never used or touched.
//
// Processes: the listener is our child; each connection forks a session process (its own session id, so not in
// our process group) and commands run under it. stop() — also called on process exit — kills the listener and
// every process that carries this server's marker in its environment (set by `SetEnv`), which catches
// sessions and commands even after the client went away.
//
// As root (CI): sshd needs its privilege-separation directory /run/sshd (Debian's service unit creates it; a
// bare container has none); it is created if missing, mode 0755, and left in place. Root login is allowed with
// keys only. As another user: sshd runs as that user, who is the only one who can log in.
//
// Sessions run the user's login shell, and Debian's bash sources ~/.bashrc for a command run by sshd unless it is
// nested (SHLVL ≥ 1 before it starts): the sessions get SHLVL=1 so the machine's dotfiles stay out of the tests.
// (This machine's root .bashrc runs `pyenv init`, whose rehash lock, left behind by a killed session, made every
// later command wait 60 s for it.)
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../core/net.js';

export const SSHD = '/usr/sbin/sshd';

/** Why a real sshd cannot run here (for `{ skip }`), or false. CI installs both packages, so there it never skips. */
export function sshdMissing(): string | false {
  if (!existsSync(SSHD)) return `${SSHD} not found (Debian package openssh-server)`;
  try {
    execFileSync('ssh-keygen', ['-V'], { stdio: 'ignore' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'ssh-keygen not found (Debian package openssh-client)';
  }
  if (process.platform !== 'linux') return 'the sshd harness reads /proc (Linux only)';
  return false;
}

export interface SshdOptions {
  /** Loopback addresses to listen on (default 127.0.0.1); the simulator's hosts each have their own. */
  addresses?: string[];
  /** Scripts placed first on PATH: command name → script text (with its `#!`). */
  commands?: Record<string, string>;
  /** More sshd_config lines. */
  extraConfig?: string[];
}

export interface Sshd {
  port: number;
  addresses: string[];
  /** Temp dir holding everything; removed by stop(). */
  dir: string;
  /** The folder first on the sessions' PATH. */
  binDir: string;
  /** Who may log in (root on CI). */
  user: string;
  clientKeyFile: string;
  /** `ssh-ed25519 AAAA…` */
  hostPublicKey: string;
  /** `SHA256:…` as ssh-keygen -lf prints it. */
  hostKeyFingerprint: string;
  /** A known_hosts line for `address` on this port (`[addr]:port ssh-ed25519 AAAA…`). */
  knownHostsLine(address: string): string;
  /** Write a known_hosts file for these addresses (default all) and return its path. */
  writeKnownHosts(addresses?: string[], file?: string): string;
  /** Replace or add a command script while the server runs. */
  setCommand(name: string, script: string): void;
  /** What sshd printed (with -e: its log), for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

const MARKER = 'XCP_SENTINEL_TEST_SSHD';

function keygen(file: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'xcp-sentinel-test', '-f', file], { stdio: 'ignore' });
}

/** Pids of processes whose environment carries the marker of the server in `dir` (Linux /proc): its sessions'
 * commands, for checking that none is left behind. */
export function markedPids(dir: string): number[] {
  const needle = Buffer.from(`${MARKER}=${dir}\0`);
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`).includes(needle)) out.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

/** Pids of every descendant of `root` (Linux /proc: the ppid is the 4th field of /proc/PID/stat). */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone
    }
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    for (const c of children.get(pid) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(root);
  return out;
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

export async function startSshd(o: SshdOptions = {}): Promise<Sshd> {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} not found: install the Debian package openssh-server (and openssh-client for ssh-keygen)`);
  const root = process.getuid?.() === 0;
  if (root && !existsSync('/run/sshd')) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const user = userInfo().username;
  const dir = mkdtempSync(join(tmpdir(), 'xcp-sentinel-sshd-'));
  chmodSync(dir, 0o755);
  const binDir = join(dir, 'bin');
  mkdirSync(binDir);
  const hostKey = join(dir, 'host_ed25519');
  const clientKeyFile = join(dir, 'client_ed25519');
  keygen(hostKey);
  keygen(clientKeyFile);
  const hostPublicKey = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  const hostKeyFingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${hostKey}.pub`], { encoding: 'utf8' }).split(/\s+/)[1]!;
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${clientKeyFile}.pub`, 'utf8'), { mode: 0o600 });
  const setCommand = (name: string, script: string) => writeFileSync(join(binDir, name), script, { mode: 0o755 });
  for (const [name, script] of Object.entries(o.commands ?? {})) setCommand(name, script);
  const addresses = o.addresses ?? ['127.0.0.1'];
  const path = `${binDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;

  let child: ChildProcess | undefined;
  let output = '';
  let port = 0;
  /** Sessions and their commands first (so the listener reaps them), then the listener. */
  const killSessions = () => {
    for (const pid of [...(child?.pid ? descendants(child.pid) : []), ...markedPids(dir)]) killQuietly(pid, 'SIGKILL');
  };
  const cleanup = () => {
    killSessions();
    if (child?.pid) killQuietly(child.pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', cleanup);

  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    const config = [
      `Port ${port}`,
      ...addresses.map((a) => `ListenAddress ${a}`),
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'UsePAM no',
      'StrictModes no',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      `PermitRootLogin ${root ? 'prohibit-password' : 'no'}`,
      `AllowUsers ${user}`,
      'UseDNS no',
      'PrintMotd no',
      'MaxStartups 50',
      'MaxSessions 20',
      'LoginGraceTime 30',
      `SetEnv PATH=${path} ${MARKER}=${dir} SHLVL=1`,
      ...(o.extraConfig ?? []),
    ];
    writeFileSync(join(dir, 'sshd_config'), config.join('\n') + '\n');
    output = '';
    const proc = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    const started = await new Promise<boolean>((resolve) => {
      const listening = new Set<string>();
      const onData = (d: Buffer) => {
        output += d.toString();
        for (const m of output.matchAll(/Server listening on (\S+) port (\d+)/g)) listening.add(m[1]!);
        if (addresses.every((a) => listening.has(a))) resolve(true);
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('exit', () => resolve(false));
      setTimeout(() => resolve(false), 10_000).unref();
    });
    if (started) break;
    killQuietly(proc.pid!, 'SIGKILL');
    // Another process took the port between freePort() and sshd's bind: try another.
    if (attempt >= 3 || !/Address already in use|Bind to port/.test(output)) {
      process.off('exit', cleanup);
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`sshd did not start:\n${output}`);
    }
  }

  const knownHostsLine = (address: string) => `[${address}]:${port} ${hostPublicKey}`;
  let stopped = false;
  return {
    port,
    addresses,
    dir,
    binDir,
    user,
    clientKeyFile,
    hostPublicKey,
    hostKeyFingerprint,
    knownHostsLine,
    writeKnownHosts(list = addresses, file = join(dir, 'known_hosts')) {
      writeFileSync(file, list.map(knownHostsLine).join('\n') + '\n');
      return file;
    },
    setCommand,
    log: () => output,
    async stop() {
      if (stopped) return;
      stopped = true;
      const proc = child!;
      killSessions();
      // Let the listener reap its session processes before it goes: orphaned zombies would wait for init.
      for (let i = 0; i < 40 && proc.pid && proc.exitCode === null && descendants(proc.pid).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
        proc.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      }
      for (const pid of markedPids(dir)) killQuietly(pid, 'SIGKILL');
      process.off('exit', cleanup);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One canned answer of a fake command. */
export interface FakeAnswer {
  /** A file printed on stdout (fixtures). */
  stdoutFile?: string;
  stdout?: string;
  stderr?: string;
  exit?: number;
  /** Never answer (until killed): for timeouts. */
  hang?: boolean;
}

const shQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * A /bin/sh script that answers by server address (the sshd ListenAddress the client connected to, from
 * $SSH_CONNECTION) and by its exact arguments: `answers[address][args joined by spaces]`; `answers['*']` holds
 * answers for any address. Anything else prints `fallback` (default: "unexpected arguments", exit 2).
 */
export function fakeCommandScript(
  name: string,
  answers: Record<string, Record<string, FakeAnswer>>,
  fallback: FakeAnswer = { stderr: `${name}: unexpected arguments\n`, exit: 2 },
): string {
  const body = (a: FakeAnswer) => {
    const lines: string[] = [];
    if (a.stdoutFile) lines.push(`cat ${shQuote(a.stdoutFile)}`);
    if (a.stdout !== undefined) lines.push(`printf '%s' ${shQuote(a.stdout)}`);
    if (a.stderr !== undefined) lines.push(`printf '%s' ${shQuote(a.stderr)} >&2`);
    if (a.hang) lines.push('exec sleep 3600');
    lines.push(`exit ${a.exit ?? 0}`);
    return lines.map((l) => `    ${l}`).join('\n');
  };
  const cases: string[] = [];
  // Specific addresses first: `case` takes the first match.
  const ordered = Object.entries(answers).sort(([a], [b]) => Number(a === '*') - Number(b === '*'));
  for (const [address, byArgs] of ordered) {
    for (const [args, answer] of Object.entries(byArgs)) {
      const pattern = address === '*' ? `*${shQuote(` ${args}`)}` : shQuote(`${address} ${args}`);
      cases.push(`  ${pattern})\n${body(answer)}\n    ;;`);
    }
  }
  return `#!/bin/sh
# Fake ${name} for tests: prints fixtures chosen by server address and arguments.
server=$(printf '%s' "$SSH_CONNECTION" | cut -d' ' -f3)
case "$server $*" in
${cases.join('\n')}
  *)
${body(fallback)}
    ;;
esac
`;
}
