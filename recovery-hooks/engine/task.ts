// What a workflow is made of. A task checks the current state before acting (so running it again is harmless),
// reports progress, and may end the whole workflow early with Ignore or Finish. Like Masakari's taskflow tasks, each
// declares what it `requires` and what it `provides` (engine/wiring.ts checks a workflow's order when it is built).
import type { ActionMethod } from '../action-hooks/config.js';
import type { PoolMode } from '../config.js';
import type {
  FenceRecord,
  FenceReservation,
  MovePatch,
  Notification,
  NotificationType,
  OperatorWait,
  OperatorWaitKind,
  PlannedMove,
  VmMove,
} from '../store/types.js';

/** Nothing must be done, on purpose (no confirmed fence, VM paused by an operator…): the notification is `ignored`. */
export class Ignore extends Error {
  override name = 'Ignore';
}

/** The recovery is complete before the last task (nothing to do, toolstack already answers…): `finished`. */
export class Finish extends Error {
  override name = 'Finish';
}

/**
 * Proof is missing and a person must decide (the BMC cannot prove the fence, a blast-radius limit holds): the workflow
 * is parked — the notification stays `running`, no lease or timeout is held — until an operator's confirmation is
 * stored; the engine then resumes it at this task. In dry-run the notification is `ignored` with "would wait".
 */
export class WaitForOperator extends Error {
  override name = 'WaitForOperator';
  constructor(
    readonly kind: OperatorWaitKind,
    message: string,
  ) {
    super(message);
  }
}

/** The store's record of the fence of this notification's host, and of an operator's confirmation. */
export interface FenceLog {
  /** Record the power-off about to be sent, unless the pool's blast-radius limit is reached (store-wide). */
  reserve(limits: { windowMs: number; max: number }): Promise<FenceReservation>;
  /** The power-off recorded by an earlier run of this notification, if any. */
  recorded(): Promise<FenceRecord | undefined>;
  /** This notification's operator wait (open or confirmed). */
  operatorWait(): Promise<OperatorWait | undefined>;
}

/** The per-VM move records of a host recovery, bound to the notification. */
export interface MoveLog {
  plan(moves: PlannedMove[]): Promise<void>;
  list(): Promise<VmMove[]>;
  update(vmUuid: string, patch: MovePatch): Promise<void>;
}

/** An action as the progress log and the action hooks show it (params: identifiers only, never secrets). */
export interface ActionSpec {
  method: ActionMethod;
  params: Record<string, unknown>;
  description: string;
}

export interface TaskContext {
  readonly notification: Notification;
  readonly mode: PoolMode;
  /** When this task first started, across restarts and retries: "did my action already happen since then?". */
  readonly firstStartedAt: number;
  /** Aborted on timeout or shutdown. */
  readonly signal: AbortSignal;
  readonly moves: MoveLog;
  readonly fence: FenceLog;
  progress(message: string, fraction: number): Promise<void>;
  /**
   * Take an action on the pool: record it, run the action hooks around it, and run it — or, in dry-run mode, record
   * "would <description>" and return undefined. Every action goes through here (the hooks and leases rely on it).
   */
  act<T>(action: ActionSpec, run: () => Promise<T>): Promise<T | undefined>;
  /** Record a follow-up notification (e.g. a process failure escalated to a host failure). */
  escalate(type: NotificationType, payload: Record<string, unknown>): Promise<Notification>;
  now(): number;
  /** Sleep, rejecting when the signal aborts. */
  sleep(ms: number): Promise<void>;
}

/**
 * A value a task provides and later tasks require, by name and type (taskflow's `provides` / `requires`). A result is
 * stored under the name of the task that produced it (so it survives a restart); an input is the result of the latest
 * earlier task of the workflow that provides its output.
 */
export interface Output<T> {
  readonly name: string;
  /** What the value is, for the messages that refuse a task list: "the restart plan". */
  readonly about: string;
  /** The value's type (never set: it types `requires` and `run`). */
  readonly type?: T;
}

/** An input a task reads when an earlier task provides it, undefined otherwise. */
export interface OptionalInput<T> {
  readonly optional: Output<T>;
}

/** A task's inputs: the key `run` receives each under, and the output it is. */
export type Requires = Readonly<Record<string, Output<unknown> | OptionalInput<unknown>>>;

type InputValue<I> = I extends OptionalInput<infer T> ? T | undefined : I extends Output<infer T> ? T : never;

export type Inputs<R extends Requires> = { readonly [K in keyof R]: InputValue<R[K]> };

/** What a task reads and returns: checked when a workflow is built (and when the config lists its tasks). */
export interface Signature<R extends Requires = Requires, O = unknown> {
  readonly name: string;
  readonly requires?: R;
  /** What `run` returns, for the tasks after it. */
  readonly provides?: Output<O>;
}

export interface Task<R extends Requires = Requires, O = unknown> extends Signature<R, O> {
  /** `ignored`: when the task finally fails, the notification is ignored instead of error (e.g. fencing). */
  readonly failureMeans?: 'error' | 'ignored';
  run(ctx: TaskContext, input: Inputs<R>): Promise<O>;
}

/** A decision made before any task runs; undefined means "run the workflow". */
export type Precheck = (n: Notification) => { status: 'ignored' | 'finished'; reason: string } | undefined;

export interface Workflow {
  readonly type: NotificationType;
  readonly tasks: readonly Task[];
  readonly precheck?: Precheck;
  /** Whether starting this workflow puts the source host on maintenance (host and process failures). */
  readonly setsMaintenance: boolean;
  /** Another workflow for some notifications of this type (a COMPUTE_HOST marked as a pool master loss); decided from
   * the notification alone, so a resumed run takes the same one. */
  readonly routeTo?: (n: Notification) => Workflow | undefined;
}
