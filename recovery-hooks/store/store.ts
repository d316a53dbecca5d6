// The store the intake writes and the engine reads. Narrow on purpose: each method is one transaction, with the same
// semantics in the embedded SQLite store and the shared PostgreSQL one (several receivers on one database). Every
// method rejects with StoreError when the backend fails.
import type {
  CreateOptions,
  ForwardPatch,
  ForwardState,
  CreateResult,
  FenceRecord,
  FenceReservation,
  HookCallInput,
  HostState,
  LeaseConflicts,
  ListFilter,
  ListPage,
  MovePatch,
  NewNotification,
  Notification,
  NotificationActivity,
  NotificationStatus,
  OperatorWait,
  OperatorWaitKind,
  OutboxBuilder,
  OutboxInput,
  OutboxMessage,
  PlannedMove,
  TaskRecord,
  TaskState,
  Transition,
  VmMove,
} from './types.js';
import type { PurgeCounts } from './rows.js';

export type { PurgeCounts } from './rows.js';

/**
 * The backend failed (disk full, locked, corrupt, closed). The HTTP layer answers 5xx so that senders retry, unless
 * `refusedInput`: the backend refused the data itself (PostgreSQL's data exceptions, SQLSTATE class 22; SQLite's
 * "too big"), which fails again however often it is sent, so it is answered 400.
 */
export class StoreError extends Error {
  override name = 'StoreError';
  constructor(
    readonly operation: string,
    override readonly cause: unknown,
    readonly refusedInput = false,
  ) {
    super(`store ${operation} failed: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

/** A marker id that names no notification (Masakari answers 400). */
export class MarkerNotFoundError extends Error {
  override name = 'MarkerNotFoundError';
  constructor(readonly marker: number) {
    super(`Marker ${marker} could not be found.`);
  }
}

/** Notifications (Masakari's model): recorded once (replays and duplicates decided by decide.ts), listed, moved from status to status. */
export interface StoreNotifications {
  /**
   * Record a notification, in one transaction: exact replays return the first record; Masakari duplicates (same
   * type, host and payload within the window) and hosts on maintenance are refused or recorded per `opts`.
   * `outbox` messages are enqueued in the same transaction when a notification is created.
   */
  create(input: NewNotification, opts: CreateOptions, outbox?: OutboxBuilder): Promise<CreateResult>;
  /**
   * Several at once, in one transaction (one webhook's alerts: one commit, one fsync), with `extra` messages
   * (announcements of the alerts themselves) queued in the same commit.
   */
  createMany(inputs: NewNotification[], opts: CreateOptions, outbox?: OutboxBuilder, extra?: OutboxInput[]): Promise<CreateResult[]>;
  get(uuid: string): Promise<Notification | undefined>;
  list(filter: ListFilter, page: ListPage): Promise<Notification[]>;
  countByStatus(): Promise<Record<NotificationStatus, number>>;
  /**
   * Notifications the engine may have to act on: new, running and error ones, oldest first, at most `limit`; with
   * `generatedBefore` (ms), only those generated before it (the expired ones).
   */
  unfinished(limit?: number, generatedBefore?: number): Promise<Notification[]>;
  /** Compare-and-set status change; undefined when the status was not in `t.from` (someone else moved it). */
  transition(uuid: string, t: Transition, now: number, outbox?: OutboxBuilder): Promise<Notification | undefined>;
}

/** The task log of a notification's workflow: each task's state, progress and result. */
export interface StoreTasks {
  /** Create the PENDING task rows of a workflow (idempotent: existing rows are kept). */
  planTasks(uuid: string, names: readonly string[]): Promise<void>;
  tasks(uuid: string): Promise<TaskRecord[]>;
  /** Mark a task RUNNING before it acts. */
  startTask(uuid: string, name: string, now: number): Promise<void>;
  addProgress(uuid: string, name: string, message: string, progress: number, now: number): Promise<void>;
  /** Mark a task finished after it acted; a SUCCESS result is handed to the following tasks. */
  finishTask(uuid: string, name: string, state: Extract<TaskState, 'SUCCESS' | 'FAILURE'>, result: unknown, now: number): Promise<void>;
}

/** The VMs a host recovery restarts elsewhere, one row per VM. */
export interface StoreMoves {
  /** Record the VMs of a host recovery (idempotent per VM). */
  planMoves(uuid: string, moves: PlannedMove[], now: number): Promise<void>;
  moves(uuid: string): Promise<VmMove[]>;
  updateMove(uuid: string, vmUuid: string, patch: MovePatch, now: number): Promise<void>;
}

/** The hosts notifications name, and their maintenance flag. */
export interface StoreHosts {
  /** Hosts seen in notifications, with their maintenance flag. */
  hosts(): Promise<HostState[]>;
  /** Put the host on maintenance for the recovery `by` (with a reason), or take it off (`by` null). */
  setMaintenance(host: { uuid: string; name: string; pool: string }, by: { notification: string; reason: string } | null, now: number): Promise<void>;
}

/** Messages for the notifiers and forwarders, queued in the commits that cause them and drained by workers. */
export interface StoreOutbox {
  /** Call `listener` after each commit that queued outbox messages (so workers need not wait for their next poll). */
  onMessagesQueued(listener: () => void): void;
  /** Messages ready on `channel`, claimed for `leaseMs` (another claim skips them until then). */
  claimMessages(channel: string, limit: number, now: number, leaseMs: number): Promise<OutboxMessage[]>;
  ackMessage(id: number, now: number): Promise<void>;
  retryMessageAt(id: number, at: number, error: string): Promise<void>;
  giveUpMessage(id: number, error: string, now: number): Promise<void>;
}

/** Leases: one receiver at a time runs a workflow or drains a channel. */
export interface StoreLeases {
  /**
   * Take, or renew, the lease `name` for `owner` until `now + ttlMs`: false while another owner holds it unexpired.
   * Leases make one receiver at a time run a host's workflow or drain a channel of the outbox. With `conflicts`, the
   * lease is also refused while another owner holds an unexpired lease named there (checked in the same transaction).
   */
  acquireLease(name: string, owner: string, now: number, ttlMs: number, conflicts?: LeaseConflicts): Promise<boolean>;
  /** Give the lease up, if `owner` holds it. */
  releaseLease(name: string, owner: string): Promise<void>;
}

/** Recoveries parked until a person confirms (the fence cannot be proven, a limit holds, a master failover is stuck). */
export interface StoreOperatorWaits {
  /**
   * Park the notification for an operator (a new wait, or a new reason for one not yet confirmed), queueing
   * `messages(n, wait)` in the same transaction when the wait is new. Undefined when the notification does not exist.
   */
  waitForOperator(
    uuid: string,
    wait: { kind: OperatorWaitKind; reason: string },
    now: number,
    messages?: (n: Notification, wait: OperatorWait) => OutboxInput[],
  ): Promise<OperatorWait | undefined>;
  /** The notification's wait, open or confirmed. */
  operatorWait(uuid: string): Promise<OperatorWait | undefined>;
  /** Waits not confirmed yet, of notifications not ended. */
  openOperatorWaits(): Promise<OperatorWait[]>;
  /** An operator confirms the host is off: the open wait, now confirmed; undefined when the notification is not waiting. */
  confirmFenced(uuid: string, by: string, now: number): Promise<OperatorWait | undefined>;
}

/** The power-offs sent, counted against the blast-radius limits of each pool. */
export interface StoreFences {
  /**
   * Record a fence of `fence.hostUuid` by `fence.notificationUuid` unless the pool already had `max` fences in the
   * `windowMs` before now (one transaction, serialized per store, so receivers sharing it cannot both pass the limit).
   * A notification that already recorded its fence is granted again (a resumed workflow).
   */
  reserveFence(fence: Omit<FenceRecord, 'at'>, limits: { windowMs: number; max: number }, now: number): Promise<FenceReservation>;
  /** Whether this notification recorded a fence (it sent, or was about to send, the power-off). */
  fenceOf(uuid: string): Promise<FenceRecord | undefined>;
}

/** Notifications forwarded to a remote Instance-HA (Masakari) API. */
export interface StoreForwards {
  /** What became of a notification forwarded to a remote Instance-HA API. */
  getForward(uuid: string): Promise<ForwardState | undefined>;
  /** Create or update the forward record of a notification. */
  saveForward(uuid: string, patch: ForwardPatch, now: number): Promise<void>;
}

/** Deleting what has ended long enough ago. */
export interface StoreRetention {
  /**
   * Retention, one transaction: delete at most `limit` notifications that ended (finished, ignored, failed) before
   * `before` (updated_at, else created_at) with their tasks, progress, moves and forwards; at most `limit` outbox
   * messages sent or given up before `before`; the leases that expired before it; and at most `limit` hosts no
   * notification names any more (a host on maintenance stays).
   */
  purge(before: number, limit: number): Promise<PurgeCounts>;
}

/** What was sent on behalf of a notification (outbox messages, action-hook calls), for the UI. */
export interface StoreActivity {
  /** Record one call of an action hook about a notification (output masked for secrets and cut; see activity.ts). */
  recordHookCall(call: HookCallInput): Promise<void>;
  /** What was sent on behalf of a notification: its outbox messages and hook calls, oldest first (empty when unknown). */
  activityOf(notificationUuid: string): Promise<NotificationActivity>;
}

/**
 * The whole store, one interface per concern (each dialect implements them in this order). Callers name what they
 * need with Pick<NotificationStore, …> or a concern's interface.
 */
export interface NotificationStore
  extends StoreNotifications,
    StoreTasks,
    StoreMoves,
    StoreHosts,
    StoreOutbox,
    StoreLeases,
    StoreOperatorWaits,
    StoreFences,
    StoreForwards,
    StoreRetention,
    StoreActivity {
  close(): Promise<void>;
}
