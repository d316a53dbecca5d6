// The store the intake writes and the engine reads. Narrow on purpose: each method is one transaction, so a
// PostgreSQL implementation can follow with the same semantics. Every method throws StoreError when the backend fails.
import type {
  CreateOptions,
  CreateResult,
  HostState,
  ListFilter,
  ListPage,
  MovePatch,
  NewNotification,
  Notification,
  NotificationStatus,
  OutboxInput,
  OutboxMessage,
  PlannedMove,
  TaskRecord,
  TaskState,
  Transition,
  VmMove,
} from './types.js';

/** The backend failed (disk full, locked, corrupt, closed). The HTTP layer answers 5xx so that senders retry. */
export class StoreError extends Error {
  override name = 'StoreError';
  constructor(
    readonly operation: string,
    override readonly cause: unknown,
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

export interface NotificationStore {
  /**
   * Record a notification, in one transaction: exact replays return the first record; Masakari duplicates (same
   * type, host and payload within the window) and hosts on maintenance are refused or recorded per `opts`.
   * `outbox` messages are enqueued in the same transaction when a notification is created.
   */
  create(input: NewNotification, opts: CreateOptions, outbox?: (n: Notification) => OutboxInput[]): CreateResult;
  /**
   * Several at once, in one transaction (one webhook's alerts: one commit, one fsync), with `extra` messages
   * (announcements of the alerts themselves) queued in the same commit.
   */
  createMany(inputs: NewNotification[], opts: CreateOptions, outbox?: (n: Notification) => OutboxInput[], extra?: OutboxInput[]): CreateResult[];
  get(uuid: string): Notification | undefined;
  list(filter: ListFilter, page: ListPage): Notification[];
  countByStatus(): Record<NotificationStatus, number>;
  /** Notifications the engine may have to act on: new, running and error ones, oldest first, at most `limit`. */
  unfinished(limit?: number): Notification[];
  /** Compare-and-set status change; undefined when the status was not in `t.from` (someone else moved it). */
  transition(uuid: string, t: Transition, now: number, outbox?: (n: Notification) => OutboxInput[]): Notification | undefined;

  /** Create the PENDING task rows of a workflow (idempotent: existing rows are kept). */
  planTasks(uuid: string, names: readonly string[]): void;
  tasks(uuid: string): TaskRecord[];
  /** Mark a task RUNNING before it acts. */
  startTask(uuid: string, name: string, now: number): void;
  addProgress(uuid: string, name: string, message: string, progress: number, now: number): void;
  /** Mark a task finished after it acted; a SUCCESS result is handed to the following tasks. */
  finishTask(uuid: string, name: string, state: Extract<TaskState, 'SUCCESS' | 'FAILURE'>, result: unknown, now: number): void;

  /** Record the VMs of a host recovery (idempotent per VM). */
  planMoves(uuid: string, moves: PlannedMove[], now: number): void;
  moves(uuid: string): VmMove[];
  updateMove(uuid: string, vmUuid: string, patch: MovePatch, now: number): void;

  /** Hosts seen in notifications, with their maintenance flag. */
  hosts(): HostState[];
  /** Put the host on maintenance for the recovery `by` (with a reason), or take it off (`by` null). */
  setMaintenance(host: { uuid: string; name: string; pool: string }, by: { notification: string; reason: string } | null, now: number): void;

  /** Messages ready on `channel`, claimed for `leaseMs` (another claim skips them until then). */
  claimMessages(channel: string, limit: number, now: number, leaseMs: number): OutboxMessage[];
  ackMessage(id: number, now: number): void;
  retryMessageAt(id: number, at: number, error: string): void;
  giveUpMessage(id: number, error: string, now: number): void;

  close(): void;
}
