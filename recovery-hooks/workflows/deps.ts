// What the workflows need from the outside world, per pool. main.ts wires the real clients; tests pass fakes.
import type { ProbeResult } from '../../core/xapi/client.js';
import type { FencingConfig, MasterFailoverConfig, RecoveryHookConfig } from '../config.js';
import type { EmergencyDeps } from './emergency.js';
import type { Xapi } from './xapi.js';
import type { LastResidents } from '../xapi-hosts.js';
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

/** A host of the pool with the address its XAPI answers at (from XAPI's host records, or configured). */
export interface PoolHost {
  uuid: string;
  name: string;
  address: string;
}

/** What a master failover needs besides the pool's XAPI session: each host's XAPI reached directly. */
export interface MasterFailoverAccess {
  /** `recovery_hook.pools.<pool>.master_failover`; undefined when not configured (then a person promotes). */
  config: MasterFailoverConfig | undefined;
  /** The pool's hosts with their addresses, as last read from XAPI while the master answered (plus the configured ones). */
  hosts(): PoolHost[];
  /** Who the XAPI at `address` says it is (core/xapi XapiClient.probe). Never throws. */
  probe(address: string, timeoutMs: number): Promise<ProbeResult>;
  /** One call on the XAPI at `address`, outside the pool session (local logins, emergency calls). */
  callAt<T = unknown>(address: string, method: string, params: unknown[], timeoutMs: number): Promise<T>;
  /** The pool's XAPI session moves to the master at `address` (xapiFor(pool) talks to it from now on). */
  follow(address: string): void;
  /** Does the pool's XAPI session talk to the host at `address`? */
  follows(address: string): boolean;
  /** Deadline of one direct call. */
  callTimeoutMs: number;
  /** The VMs the receiver's last read of the pool's host records (from the master, every minute) placed on host `uuid`. */
  lastResidents?(uuid: string): LastResidents | undefined;
}

export interface WorkflowDeps {
  /** Direct access to the pool's hosts for a master failover; undefined when the pool's XAPI client cannot give it. */
  masterFailoverFor?(pool: string): MasterFailoverAccess | undefined;
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
