// XCP_EMERGENCY_SHUTDOWN: what the shutdown (emergency-shutdown.ts, on POWER_LOST) and the resume
// (emergency-resume.ts, on POWER_RESTORED) share — the payload, the plan the shutdown records for the resume, and
// the store's history of a pool's emergency notifications (to tell a repeat of a trigger from a new one).
import type { EmergencyConfig } from '../emergency-config.js';
import type { Notification } from '../store/types.js';
import { TERMINAL_STATUSES } from '../store/types.js';

export type EmergencyEvent = 'POWER_LOST' | 'POWER_RESTORED';

export interface EmergencyPayload {
  event: EmergencyEvent;
  /** pool (default): every host of the notification's pool; host: the notification's host alone. */
  scope: 'pool' | 'host';
  /** The UPS's remaining runtime when the trigger knew it (seconds). */
  runtimeSeconds?: number;
}

export function emergencyPayload(n: Notification): EmergencyPayload {
  const p = n.payload;
  const runtime = typeof p.runtime_seconds === 'number' && p.runtime_seconds > 0 ? p.runtime_seconds : undefined;
  return { event: p.event === 'POWER_RESTORED' ? 'POWER_RESTORED' : 'POWER_LOST', scope: p.scope === 'host' ? 'host' : 'pool', runtimeSeconds: runtime };
}

/** A host as the shutdown found it; `master` halts last and boots first. */
export interface PlannedHost {
  uuid: string;
  name: string;
  address: string;
  master: boolean;
}

/** A VM the shutdown found running (or paused), with where and how it ran. */
export interface PlannedVm {
  uuid: string;
  name: string;
  order: number;
  hostUuid: string;
  hostName: string;
  /** Paused before the emergency: unpaused to be suspended, resumed paused. */
  paused: boolean;
}

/** The result of plan_emergency_shutdown, persisted with the task: the resume reads it back from the store. */
export interface EmergencyPlan {
  scope: 'pool' | 'host';
  hosts: PlannedHost[];
  vms: PlannedVm[];
  /** Epoch ms: everything must be off by then; VMs still running at hardShutdownAt are hard-shut-down. */
  deadline: number;
  vmDeadline: number;
  hardShutdownAt: number;
  budgetMs: number;
}

/** The store's view of a pool's emergency notifications. main.ts implements it over the Store. */
export interface EmergencyHistory {
  /** The pool's XCP_EMERGENCY_SHUTDOWN notifications, newest first (the most recent ones; a bounded list). */
  recent(pool: string): Promise<Notification[]>;
  /** A notification's task results by task name. */
  results(uuid: string): Promise<Record<string, unknown>>;
}

export interface EmergencyDeps {
  settings: EmergencyConfig;
  history: EmergencyHistory;
}

const isOpen = (n: Notification) => !TERMINAL_STATUSES.includes(n.status);

/**
 * The earlier notification `n` repeats, if any: one with the same event covering `n`'s scope (the pool, or that host), not
 * preceded by the opposite event, that is still open or was still open when `n` was recorded (it ran while `n`
 * waited for the pool's lease). Power lost twice without a restore in between is one power loss.
 */
export function repeatOf(n: Notification, earlier: Notification[]): Notification | undefined {
  const mine = emergencyPayload(n);
  for (const e of earlier) {
    const theirs = emergencyPayload(e);
    if (theirs.event !== mine.event) return undefined;
    if (theirs.scope === 'host' && (mine.scope === 'pool' || e.hostUuid !== n.hostUuid)) continue;
    if (e.status === 'ignored') continue;
    if (isOpen(e) || (e.updatedAt ?? e.createdAt) >= n.createdAt) return e;
  }
  return undefined;
}

/** The newest opposite event recorded after `n` (a restore after this shutdown), if any. */
export function supersededBy(n: Notification, later: Notification[]): Notification | undefined {
  const mine = emergencyPayload(n).event;
  return later.find((l) => l.id > n.id && emergencyPayload(l).event !== mine);
}

/** Groups of equal `order`, highest first for the shutdown (reverse start order), lowest first for the resume. */
export function orderGroups(vms: readonly PlannedVm[], direction: 'shutdown' | 'resume'): PlannedVm[][] {
  const sign = direction === 'shutdown' ? -1 : 1;
  const sorted = [...vms].sort((a, b) => sign * (a.order - b.order) || a.name.localeCompare(b.name));
  const groups: PlannedVm[][] = [];
  for (const vm of sorted) {
    const last = groups.at(-1);
    if (last && last[0]!.order === vm.order) last.push(vm);
    else groups.push([vm]);
  }
  return groups;
}

export const clock = (ms: number) => new Date(ms).toISOString().slice(11, 19);
