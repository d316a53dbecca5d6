// What the store keeps: notifications (Masakari's model), their task progress, per-VM moves, host maintenance flags
// and the outbox of messages for the notifiers. Times are epoch milliseconds.

export const NOTIFICATION_TYPES = ['COMPUTE_HOST', 'COMPUTE_INSTANCE', 'COMPUTE_PROCESS', 'XCP_EMERGENCY_SHUTDOWN'] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];
/** Masakari's three types (their task lists are configurable); XCP_EMERGENCY_SHUTDOWN is ours (workflows/emergency.ts). */
export type MasakariNotificationType = Exclude<NotificationType, 'XCP_EMERGENCY_SHUTDOWN'>;
export const EMERGENCY_TYPE = 'XCP_EMERGENCY_SHUTDOWN' satisfies NotificationType;

/** Upstream Masakari names accepted as aliases. */
export const TYPE_ALIASES: Record<string, NotificationType> = { VM: 'COMPUTE_INSTANCE', PROCESS: 'COMPUTE_PROCESS' };

export function canonicalType(value: string): NotificationType | undefined {
  if ((NOTIFICATION_TYPES as readonly string[]).includes(value)) return value as NotificationType;
  return TYPE_ALIASES[value];
}

export const NOTIFICATION_STATUSES = ['new', 'running', 'error', 'failed', 'ignored', 'finished'] as const;
export type NotificationStatus = (typeof NOTIFICATION_STATUSES)[number];
export const TERMINAL_STATUSES: readonly NotificationStatus[] = ['finished', 'ignored', 'failed'];

export type NotificationSource = 'api' | 'alertmanager' | 'engine';

export interface Notification {
  id: number;
  uuid: string;
  type: NotificationType;
  status: NotificationStatus;
  hostUuid: string;
  hostName: string;
  poolName: string;
  generatedAt: number;
  payload: Record<string, unknown>;
  /** Why the notification ended as it did (ignored/failed reason, escalation, …). */
  message: string | null;
  source: NotificationSource;
  createdAt: number;
  updatedAt: number | null;
  /** Workflow runs started so far (1 after the first run). */
  attempts: number;
  /** When an `error` notification may run again. */
  nextAttemptAt: number | null;
}

export interface NewNotification {
  type: NotificationType;
  hostUuid: string;
  hostName: string;
  poolName: string;
  generatedAt: number;
  payload: Record<string, unknown>;
  source: NotificationSource;
  /** Exact-replay key (Alertmanager: fingerprint, startsAt and event); a second create with it returns the first. */
  replayKey?: string;
  /** Record it as `ignored` at once with this reason (e.g. the pool is in notify-only mode): no recovery runs. */
  ignoreReason?: string;
}

export interface CreateOptions {
  now: number;
  /** Masakari's duplicate window on generated_time; 0 disables. */
  dedupWindowMs: number;
  /** What to do when the source host is on maintenance: refuse, record as `ignored`, or ignore the flag. */
  onMaintenance: 'refuse' | 'record-ignored' | 'proceed';
}

export type CreateResult =
  | { outcome: 'created'; notification: Notification }
  | { outcome: 'replay'; notification: Notification }
  | { outcome: 'duplicate'; notification: Notification }
  | { outcome: 'host-on-maintenance'; notification?: Notification };

export interface ListFilter {
  status?: NotificationStatus;
  type?: NotificationType;
  hostUuid?: string;
  generatedSince?: number;
}

export const SORT_KEYS = ['created_at', 'type', 'generated_time', 'updated_at', 'uuid', 'payload', 'status', 'source_host_uuid', 'id'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export interface ListPage {
  limit: number;
  /** id of the last notification the client saw. */
  markerId?: number;
  sort: { key: SortKey; dir: 'asc' | 'desc' }[];
}

export interface Transition {
  from: readonly NotificationStatus[];
  to: NotificationStatus;
  message?: string | null;
  nextAttemptAt?: number | null;
  /** Count this as a new workflow run (attempts + 1). */
  startsRun?: boolean;
}

export type TaskState = 'PENDING' | 'RUNNING' | 'SUCCESS' | 'FAILURE';

export interface ProgressDetail {
  timestamp: number;
  message: string;
  progress: number;
}

export interface TaskRecord {
  seq: number;
  name: string;
  state: TaskState;
  progress: number;
  details: ProgressDetail[];
  /** First time the task was started (kept across re-runs: "did this action already happen since then?"). */
  firstStartedAt: number | null;
  finishedAt: number | null;
  /** JSON result a finished task hands to the tasks after it. */
  result: unknown;
}

export type VmMoveStatus = 'pending' | 'ongoing' | 'succeeded' | 'failed' | 'ignored';

export interface VmMove {
  id: number;
  notificationUuid: string;
  vmUuid: string;
  vmName: string;
  sourceHost: string;
  destHost: string | null;
  status: VmMoveStatus;
  message: string | null;
  /** Restart order: ha_restart_priority rank, then VM.order. */
  rank: number;
  startTime: number | null;
  endTime: number | null;
  createdAt: number;
  updatedAt: number | null;
}

export interface PlannedMove {
  vmUuid: string;
  vmName: string;
  sourceHost: string;
  rank: number;
  status: 'pending' | 'ignored';
  message?: string;
}

export interface MovePatch {
  status: VmMoveStatus;
  destHost?: string | null;
  message?: string | null;
  startTime?: number;
  endTime?: number;
}

export interface HostState {
  hostUuid: string;
  hostName: string;
  poolName: string;
  onMaintenance: boolean;
  /** The notification whose recovery put the host on maintenance. */
  maintenanceBy: string | null;
  reason: string | null;
  updatedAt: number;
}

/** Statuses that end a workflow run: their status-change messages carry the run's tasks and VM moves. */
export const RUN_END_STATUSES: readonly NotificationStatus[] = ['finished', 'ignored', 'error', 'failed'];

/** The tasks and VM moves of the run that just ended (empty for other status changes). */
export interface RunHistory {
  tasks: TaskRecord[];
  moves: VmMove[];
}

/**
 * Called by the store inside a create or status-change transaction for the outbox messages announcing it, so no
 * change is ever lost or announced without having happened.
 */
export type OutboxBuilder = (n: Notification, history: RunHistory) => OutboxInput[];

export interface OutboxInput {
  channel: string;
  payload: Record<string, unknown>;
  /** The notification the message is about (its activity lists the message); absent for alert messages. */
  notificationUuid?: string;
}

export interface OutboxMessage extends OutboxInput {
  id: number;
  attempts: number;
  createdAt: number;
  lastError: string | null;
}

/**
 * A notification forwarded to a remote Instance-HA (Masakari) API: `queued` until the remote answers, then `accepted`
 * (2xx, with its uuid), `rejected` (400), `conflict` (409: duplicate, host on maintenance…) or `gave-up`.
 */
export type ForwardOutcome = 'queued' | 'accepted' | 'rejected' | 'conflict' | 'gave-up';

export interface ForwardState {
  notificationUuid: string;
  endpoint: string;
  outcome: ForwardOutcome;
  remoteUuid: string | null;
  /** The remote notification's status as last polled (new, running, finished…). */
  remoteStatus: string | null;
  /** The remote's reason (a 400/409 body, the last transport error) or null. */
  reason: string | null;
  /** The remote's recovery_workflow_details as last polled. */
  remoteDetails: unknown;
  updatedAt: number;
}

/** Fields to set (undefined = leave as is); `endpoint` and `outcome` are required when the record is created. */
export type ForwardPatch = Partial<Omit<ForwardState, 'notificationUuid' | 'updatedAt'>>;

/**
 * Why a notification waits for a person: the fence cannot be proven, a blast-radius limit holds it back, or a pool
 * master failover cannot go on by itself (no member answers, no credentials, the promotion did not come up).
 */
export const OPERATOR_WAIT_KINDS = ['fence_confirmation', 'blast_radius', 'master_failover'] as const;
/** The waits a confirmation of which means "the host is off" (confirm-fenced); any other is "re-check now". */
export const FENCE_WAIT_KINDS: readonly OperatorWaitKind[] = ['fence_confirmation', 'blast_radius'];
export type OperatorWaitKind = (typeof OPERATOR_WAIT_KINDS)[number];

/**
 * A host recovery parked until an operator confirms the host is off (`confirm-fenced`). The row stays after the
 * confirmation (confirmedAt set): the fence task reads it as its proof when the workflow resumes.
 */
export interface OperatorWait {
  notificationUuid: string;
  kind: OperatorWaitKind;
  reason: string;
  since: number;
  poolName: string;
  hostUuid: string;
  hostName: string;
  confirmedAt: number | null;
  /** The name of the token that confirmed. */
  confirmedBy: string | null;
}

/** A power-off this receiver (or another sharing the store) sent, counted against the pool's blast-radius limit. */
export interface FenceRecord {
  poolName: string;
  hostUuid: string;
  notificationUuid: string;
  at: number;
}

/** Atomically: record the fence unless `max` fences of the pool already happened within `windowMs` before `now`. */
export type FenceReservation = { granted: true } | { granted: false; recent: FenceRecord[] };

/** Other leases that keep `acquireLease` from granting: exact names, and/or every name under a prefix. */
export interface LeaseConflicts {
  names?: string[];
  prefix?: string;
}

/** What became of an outbox message so far: `queued` (pending, maybe retried), `sent` (the peer took it), `failed` (given up). */
export type MessageStatus = 'queued' | 'sent' | 'failed';

/** An outbox message about a notification, as its activity shows it. */
export interface MessageRecord {
  id: number;
  channel: string;
  /** The notifier event (`recovery.started`…) from the payload; null when it has none (a forward message). */
  event: string | null;
  status: MessageStatus;
  /** Send attempts so far. */
  attempts: number;
  createdAt: number;
  /** When the peer took it (status `sent`), else null. */
  sentAt: number | null;
  /** When it was given up (status `failed`), else null. */
  failedAt: number | null;
  /** When the next attempt is due (status `queued`), else null. */
  nextAttemptAt: number | null;
  /** The last delivery error, secrets masked, at most ACTIVITY_TEXT_MAX characters. */
  lastError: string | null;
}

export type HookPhase = 'pre' | 'post';
/** `ok`: 2xx; `failed`: no 2xx (a post hook, or a pre hook that does not wait); `vetoed`: a waiting pre hook refused; `dropped`: too many in flight. */
export type HookCallOutcome = 'ok' | 'failed' | 'vetoed' | 'dropped';

/** One call of an action hook (recovery-hooks/action-hooks), as the hooks record it. */
export interface HookCallInput {
  notificationUuid: string;
  /** The hook's URL without query string. */
  hook: string;
  phase: HookPhase;
  /** The workflow task whose action the hook surrounds. */
  taskName: string | null;
  /** The action (`vm.start`, `host.power_off`…). */
  method: string;
  /** The call id the pre and post payloads share. */
  callId: string;
  outcome: HookCallOutcome;
  /** The hook's HTTP status; null when it did not answer (timeout, refused) or was dropped. Hooks are HTTP only: no exit status. */
  httpStatus: number | null;
  attempts: number;
  startedAt: number;
  finishedAt: number;
  /** The start of the hook's answer or the delivery error; the store masks secrets and keeps ACTIVITY_TEXT_MAX characters. */
  output: string | null;
}

export interface HookCallRecord extends Omit<HookCallInput, 'notificationUuid'> {
  id: number;
}

/** Everything sent on behalf of a notification: its outbox messages and its action-hook calls, oldest first. */
export interface NotificationActivity {
  messages: MessageRecord[];
  hookCalls: HookCallRecord[];
}
