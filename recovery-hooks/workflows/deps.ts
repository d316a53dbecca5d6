// What the workflows need from the outside world, per pool. main.ts wires the real clients; tests pass fakes.
import type { FencingConfig, RecoveryHookConfig } from '../config.js';
import type { EmergencyDeps } from './emergency.js';
import type { Xapi } from './xapi.js';
import type { Fencer } from '../../core/fencing.js';
import type { RemoteShell } from '../../core/ssh/shell.js';

export interface ToolstackRestart {
  shell: RemoteShell;
  command: string;
  timeoutMs: number;
}

/** A pool's fencing: the fencer, how long to wait for "off", the BMC map (by name or uuid) and the blast-radius limits. */
export interface PoolFencing {
  fencer: Fencer;
  confirmTimeoutMs: number;
  bmc: Record<string, string>;
  limits: Pick<FencingConfig, 'maxHostsFenced' | 'fenceWindowMs' | 'maxDownShare'>;
}

export interface WorkflowDeps {
  xapiFor(pool: string): Xapi;
  fencerFor(pool: string): PoolFencing | undefined;
  toolstackRestartFor(pool: string): ToolstackRestart | undefined;
  settings: Pick<RecoveryHookConfig, 'hostFailure' | 'instanceFailure' | 'processFailure'>;
  /** Interval of the state polls (power state, heartbeat, BMC status, toolstack). */
  pollIntervalMs: number;
  /** Bound of one "does the host's XAPI answer?" probe. */
  probeTimeoutMs: number;
  /** The emergency shutdown's settings and the store's history of it (without them it is ignored). */
  emergency?: EmergencyDeps;
}
