// Fencing: power a failed host off through its BMC before anything it ran is started elsewhere. The command line is
// configurable (ipmitool -I lanplus by default); the password goes to the command's environment only — never on its
// command line, never in a log line or an error message.
import { execFile } from 'node:child_process';
import type { FencingConfig } from '../config.js';

export interface FenceTarget {
  name: string;
  uuid: string;
}

export type PowerStatus = 'on' | 'off' | 'unknown';

export interface Fencer {
  powerOff(host: FenceTarget): Promise<void>;
  powerStatus(host: FenceTarget): Promise<PowerStatus>;
}

/** The fence command failed (exit code, timeout, no BMC configured for the host). */
export class FenceError extends Error {
  override name = 'FenceError';
  constructor(
    readonly host: string,
    message: string,
  ) {
    super(`fencing ${host}: ${message}`);
  }
}

export interface CommandOutput {
  code: number | null;
  stdout: string;
  stderr: string;
}

export type CommandRunner = (argv: string[], env: Record<string, string>, timeoutMs: number) => Promise<CommandOutput>;

/** Run a program without a shell, with only PATH and the given variables in its environment. */
export const runCommand: CommandRunner = (argv, env, timeoutMs) =>
  new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr: err && code === null ? `${stderr}${err.message}` : stderr });
    });
  });

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
    if (out.code !== 0) throw new FenceError(host.name, `power-off command exited with ${out.code ?? 'a signal or timeout'}: ${this.#clean(out.stderr || out.stdout)}`);
  }

  async powerStatus(host: FenceTarget): Promise<PowerStatus> {
    const out = await this.#exec(host, this.config.powerStatusCommand);
    if (out.code !== 0) throw new FenceError(host.name, `power-status command exited with ${out.code ?? 'a signal or timeout'}: ${this.#clean(out.stderr || out.stdout)}`);
    return parsePowerStatus(out.stdout);
  }

  #exec(host: FenceTarget, template: string[]): Promise<CommandOutput> {
    const bmc = this.config.bmc[host.name] ?? this.config.bmc[host.uuid];
    if (!bmc) throw new FenceError(host.name, 'no BMC address configured (fencing.bmc)');
    const values: Record<string, string> = { bmc, user: this.config.user, host: host.name };
    const argv = template.map((arg) => arg.replace(/\{(bmc|user|host)\}/g, (_m, k: string) => values[k]!));
    return this.run(argv, { [this.config.passwordEnv]: this.config.password.reveal() }, this.config.commandTimeoutMs);
  }

  /** Command output, shortened and with the password removed should a tool ever echo it. */
  #clean(text: string): string {
    return text.split(this.config.password.reveal()).join('[redacted]').trim().slice(0, 300);
  }
}
