// Fencing: power a failed host off through its BMC before anything it ran is started elsewhere. The command line is
// configurable (ipmitool -I lanplus by default); the password goes to the command's environment only — never on its
// command line, never in a log line or an error message. Each command runs in a process group of its own: on timeout
// the whole group is killed, so a wrapper script's child cannot power a host off later, unseen.
import { spawn } from 'node:child_process';
import { FenceError, type FenceTarget, type Fencer, type PowerStatus } from '../../core/fencing.js';
import type { FencingConfig } from '../config.js';

export interface CommandOutput {
  code: number | null;
  stdout: string;
  stderr: string;
}

export type CommandRunner = (argv: string[], env: Record<string, string>, timeoutMs: number) => Promise<CommandOutput>;

/** Output kept per stream: a BMC tool that floods its output cannot fill the receiver's memory. */
const MAX_OUTPUT = 64 * 1024;

/**
 * Run a program without a shell, with only PATH and the given variables in its environment, as the leader of a new
 * process group. On timeout the whole group gets SIGKILL (its children too) and the result has code null.
 */
export const runCommand: CommandRunner = (argv, env, timeoutMs) =>
  new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let done = false;
    const finish = (out: CommandOutput) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(out);
    };
    const child = spawn(argv[0]!, argv.slice(1), {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout = (stdout + d).slice(0, MAX_OUTPUT)));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(0, MAX_OUTPUT)));
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
      // The group is gone; do not wait for pipes a stray grandchild might still hold.
      finish({ code: null, stdout, stderr: `${stderr}command timed out after ${timeoutMs} ms: process group killed` });
    }, timeoutMs);
    child.on('error', (err) => finish({ code: null, stdout, stderr: `${stderr}${err.message}` }));
    child.on('close', (code, signal) => {
      if (timedOut) return;
      // Whatever the command left running in its group (a wrapper's background child) has no business going on.
      killGroup(child.pid);
      finish({ code, stdout, stderr: code === null ? `${stderr}killed by ${signal}` : stderr });
    });
  });

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** "Chassis Power is off" → off (ipmitool; other tools print "power is off"/"Power: off"). */
export function parsePowerStatus(output: string): PowerStatus {
  const m = /power(?:\s+is|:)\s*(on|off)\b/i.exec(output);
  return m ? (m[1]!.toLowerCase() as PowerStatus) : 'unknown';
}

export class CommandFencer implements Fencer {
  constructor(
    private readonly config: FencingConfig,
    private readonly run: CommandRunner = runCommand,
  ) {}

  async powerOff(host: FenceTarget): Promise<void> {
    const out = await this.#exec(host, this.config.powerOffCommand);
    if (out.code !== 0)
      throw new FenceError(host.name, `power-off command exited with ${out.code ?? 'a signal or timeout'}: ${this.#clean(out.stderr || out.stdout)}`);
  }

  async powerOn(host: FenceTarget): Promise<void> {
    if (!this.config.powerOnCommand) throw new FenceError(host.name, 'no power_on_command configured');
    const out = await this.#exec(host, this.config.powerOnCommand);
    if (out.code !== 0)
      throw new FenceError(host.name, `power-on command exited with ${out.code ?? 'a signal or timeout'}: ${this.#clean(out.stderr || out.stdout)}`);
  }

  async powerStatus(host: FenceTarget): Promise<PowerStatus> {
    const out = await this.#exec(host, this.config.powerStatusCommand);
    if (out.code !== 0)
      throw new FenceError(host.name, `power-status command exited with ${out.code ?? 'a signal or timeout'}: ${this.#clean(out.stderr || out.stdout)}`);
    return parsePowerStatus(out.stdout);
  }

  #exec(host: FenceTarget, template: string[]): Promise<CommandOutput> {
    const bmc = host.bmc ?? this.config.bmc[host.uuid] ?? this.config.bmc[host.name];
    if (!bmc) throw new FenceError(host.name, `no BMC address configured (fencing.bmc) for host ${host.name} (${host.uuid})`);
    const values: Record<string, string> = { bmc, user: this.config.user, host: host.name };
    const argv = template.map((arg) => arg.replace(/\{(bmc|user|host)\}/g, (_m, k: string) => values[k]!));
    return this.run(argv, { [this.config.passwordEnv]: this.config.password.reveal() }, this.config.commandTimeoutMs);
  }

  /** Command output, shortened and with the password removed should a tool ever echo it. */
  #clean(text: string): string {
    return text.split(this.config.password.reveal()).join('[redacted]').trim().slice(0, 300);
  }
}

/**
 * fencing.bmc, keyed by host name or uuid, resolved to host uuids against XAPI's host records. A key that names one
 * host and is another's uuid, a name shared by several hosts, or two keys giving one host different addresses is a
 * problem, never a guess. Keys that name no host of the pool are left out.
 */
export function resolveBmcMap(bmc: Record<string, string>, hosts: { uuid: string; name_label: string }[]): { byUuid: Map<string, string>; problems: string[] } {
  const byUuid = new Map<string, string>();
  const problems: string[] = [];
  for (const [key, address] of Object.entries(bmc)) {
    const byName = hosts.filter((h) => h.name_label === key);
    const byId = hosts.filter((h) => h.uuid.toLowerCase() === key.toLowerCase());
    const matched = [...new Set([...byName, ...byId])];
    if (matched.length === 0) continue;
    if (matched.length > 1) {
      problems.push(`fencing.bmc key "${key}" is ambiguous: it matches ${matched.map((h) => `${h.name_label} (${h.uuid})`).join(' and ')}`);
      continue;
    }
    const uuid = matched[0]!.uuid;
    const known = byUuid.get(uuid);
    if (known !== undefined && known !== address)
      problems.push(`fencing.bmc gives host ${matched[0]!.name_label} (${uuid}) two addresses: ${known} and ${address}`);
    else byUuid.set(uuid, address);
  }
  return { byUuid, problems };
}
