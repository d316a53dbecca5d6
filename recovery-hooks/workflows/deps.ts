// What the workflows need from the outside world, per pool. main.ts wires the real clients; tests pass fakes.
import type { RecoveryHookConfig } from '../config.js';
import type { Fencer } from './fence.js';
import type { RemoteShell } from './ssh.js';
import type { Xapi } from './xapi.js';

export interface ToolstackRestart {
  shell: RemoteShell;
  command: string;
  timeoutMs: number;
}

export interface WorkflowDeps {
  xapiFor(pool: string): Xapi;
  fencerFor(pool: string): { fencer: Fencer; confirmTimeoutMs: number } | undefined;
  toolstackRestartFor(pool: string): ToolstackRestart | undefined;
  settings: Pick<RecoveryHookConfig, 'hostFailure' | 'instanceFailure' | 'processFailure'>;
  /** Interval of the state polls (power state, heartbeat, BMC status, toolstack). */
  pollIntervalMs: number;
  /** Bound of one "does the host's XAPI answer?" probe. */
  probeTimeoutMs: number;
}
