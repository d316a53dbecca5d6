// The narrow shell interface the recovery hook's process workflow uses. SshClient implements it (key authentication,
// host key pinned by fingerprint or known_hosts, a timeout on every command); the simulator's toolstack shell and the
// tests implement it too, which is why it lives in core/.
import type { SshResult } from './client.js';
import type { SshTarget } from './hostkey.js';

export type ShellTarget = SshTarget;
export type ShellResult = Pick<SshResult, 'code' | 'stdout' | 'stderr'>;

export interface RemoteShell {
  /** Run `command` on the host; a non-zero exit status is a result, a transport failure or timeout rejects. */
  run(host: ShellTarget, command: string, timeoutMs: number): Promise<ShellResult>;
}
