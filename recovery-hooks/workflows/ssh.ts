// The narrow shell interface the process workflow uses. core/ssh's SshClient implements it (key authentication,
// host key pinned by fingerprint or known_hosts, a timeout on every command); tests pass fakes.
import type { SshResult, SshTarget } from '../../core/ssh/index.js';

export type ShellTarget = SshTarget;
export type ShellResult = Pick<SshResult, 'code' | 'stdout' | 'stderr'>;

export interface RemoteShell {
  /** Run `command` on the host; a non-zero exit status is a result, a transport failure or timeout rejects. */
  run(host: ShellTarget, command: string, timeoutMs: number): Promise<ShellResult>;
}
