import type { RemoteShell, ShellResult, ShellTarget } from '../core/ssh/shell.js';
// The simulated hosts' answer to the receiver's toolstack restart: a RemoteShell whose `xe-toolstack-restart` is the
// control API's restart-toolstack for that host. It is not SSH: the demo uses it because simulated hosts have no
// sshd; the end-to-end test runs a real sshd whose xe-toolstack-restart script calls the same control API.

export class SimulatorToolstackShell implements RemoteShell {
  readonly calls: { host: ShellTarget; command: string }[] = [];

  /** `broken`: the script runs and exits 0 but xapi does not come back (what escalation is for). */
  constructor(
    private readonly controlUrl: string,
    private readonly opts: { broken?: boolean } = {},
  ) {}

  async run(host: ShellTarget, command: string, timeoutMs: number): Promise<ShellResult> {
    this.calls.push({ host, command });
    if (command.trim() !== 'xe-toolstack-restart') return { code: 127, stdout: '', stderr: `bash: ${command.split(/\s+/)[0]}: command not found` };
    if (!this.opts.broken) {
      // The receiver addresses the host as it would over SSH: by host.address from XAPI.
      const res = await fetch(`${this.controlUrl}/sim/hosts/${encodeURIComponent(host.address)}/restart-toolstack`, {
        method: 'POST',
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!res.ok) return { code: 1, stdout: '', stderr: `restart failed: ${await res.text()}` };
    }
    return { code: 0, stdout: 'Stopping xapi: [  OK  ]\nStarting xapi: [  OK  ]\ndone.', stderr: '' };
  }
}
