// Runs one workflow for one notification. Each task is marked RUNNING in the store before it acts and SUCCESS after,
// so a process killed at any moment resumes at the first unfinished task and never runs a finished one again.
import { TimeoutError } from '../../core/errors.js';
import { type ActionHooks, ActionVetoed, actionNotification } from '../action-hooks/index.js';
import type { Logger } from '../../core/log.js';
import type { PoolMode, TaskSettings } from '../config.js';
import type { NotificationStore } from '../store/store.js';
import type { Notification, NotificationType } from '../store/types.js';
import type { RecoveryMetrics } from './metrics.js';
import type { Notification as N, OperatorWait, OutboxInput } from '../store/types.js';
import { Finish, Ignore, type Task, type TaskContext, WaitForOperator, type Workflow } from './task.js';
import { inputsOf, wireWorkflow } from './wiring.js';

export type RunOutcome =
  | { kind: 'done'; status: 'finished' | 'ignored' | 'error'; message: string | null }
  /** Stopped between tasks (or a task was aborted) at shutdown: the notification stays `running` and resumes later. */
  | { kind: 'handed-back' }
  /** Waiting for an operator: stays `running`, resumed by the engine once the confirmation is stored. */
  | { kind: 'parked'; reason: string };

/**
 * `stopping`: start no further task; `abort`: abort the running one (shutdown grace elapsed, lease lost);
 * `confirmOwnership`: called right before each action, throws when this receiver may no longer act.
 */
export interface RunControl {
  stopping: AbortSignal;
  abort: AbortSignal;
  confirmOwnership?: () => Promise<void>;
}

export interface RunnerOptions {
  store: NotificationStore;
  metrics: RecoveryMetrics;
  logger: Logger;
  now: () => number;
  settingsFor(task: string): TaskSettings;
  escalate(from: Notification, type: NotificationType, payload: Record<string, unknown>): Promise<Notification>;
  /** Web hooks around each action (`recovery_hook.action_hooks`). */
  hooks?: Pick<ActionHooks, 'around'>;
  /** Messages telling the channels a notification waits for an operator (notifiers' recovery.waiting). */
  waitEvents?: (n: N, wait: OperatorWait) => OutboxInput[];
}

/** Sleep `ms`, rejecting with the signal's reason when it aborts. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export class WorkflowRunner {
  constructor(private readonly opts: RunnerOptions) {}

  async run(n: Notification, workflow: Workflow, mode: PoolMode, control: RunControl): Promise<RunOutcome> {
    const { store } = this.opts;
    const wiring = wireWorkflow(workflow);
    await store.planTasks(
      n.uuid,
      workflow.tasks.map((t) => t.name),
    );
    const records = new Map((await store.tasks(n.uuid)).map((r) => [r.name, r]));
    const results: Record<string, unknown> = {};
    for (const task of workflow.tasks) {
      const record = records.get(task.name)!;
      if (record.state === 'SUCCESS') {
        results[task.name] = record.result;
        continue;
      }
      if (control.stopping.aborted) return { kind: 'handed-back' };
      const started = this.opts.now();
      await store.startTask(n.uuid, task.name, started);
      const outcome = await this.#runTask(n, task, mode, inputsOf(task, wiring, results), record.firstStartedAt ?? started, control);
      if (outcome.kind === 'handed-back' || outcome.kind === 'parked') return outcome;
      if (outcome.kind === 'stop') return { kind: 'done', status: outcome.status, message: outcome.message };
      results[task.name] = outcome.result;
    }
    return { kind: 'done', status: 'finished', message: mode === 'dry-run' ? 'dry-run: no action taken' : null };
  }

  async #runTask(
    n: Notification,
    task: Task,
    mode: PoolMode,
    input: Record<string, unknown>,
    firstStartedAt: number,
    control: RunControl,
  ): Promise<
    | { kind: 'ok'; result: unknown }
    | { kind: 'stop'; status: 'finished' | 'ignored' | 'error'; message: string }
    | { kind: 'handed-back' }
    | { kind: 'parked'; reason: string }
  > {
    const { store, metrics, now } = this.opts;
    const settings = this.opts.settingsFor(task.name);
    const log = this.opts.logger.child({ notification: n.uuid, task: task.name });
    for (let attempt = 0; ; attempt++) {
      const controller = new AbortController();
      const onAbort = () => controller.abort(control.abort.reason);
      control.abort.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => controller.abort(new TimeoutError(`task ${task.name}`, settings.timeoutMs)), settings.timeoutMs);
      const ctx = this.#context(n, task, mode, firstStartedAt, controller.signal, control);
      try {
        const result = await Promise.race([task.run(ctx, input), rejectOnAbort(controller.signal)]);
        await store.finishTask(n.uuid, task.name, 'SUCCESS', result ?? null, now());
        metrics.taskRuns.inc({ task: task.name, outcome: 'success' });
        return { kind: 'ok', result: result ?? null };
      } catch (err) {
        if (control.abort.aborted) {
          log.warn('task interrupted (shutdown or lost lease); it runs again when its workflow resumes');
          return { kind: 'handed-back' };
        }
        if (err instanceof Finish) {
          await ctx.progress(err.message, 1);
          await store.finishTask(n.uuid, task.name, 'SUCCESS', null, now());
          metrics.taskRuns.inc({ task: task.name, outcome: 'finish' });
          return { kind: 'stop', status: 'finished', message: err.message };
        }
        if (err instanceof WaitForOperator) {
          if (mode === 'dry-run') {
            const message = `dry-run: would wait for an operator (${err.kind}): ${err.message}`;
            await ctx.progress(message, 1);
            await store.finishTask(n.uuid, task.name, 'FAILURE', null, now());
            return { kind: 'stop', status: 'ignored', message };
          }
          // The task stays RUNNING: the workflow resumes here once an operator's confirmation is stored.
          await store.waitForOperator(n.uuid, { kind: err.kind, reason: err.message }, now(), this.opts.waitEvents);
          await ctx.progress(`waiting for an operator (${err.kind}): ${err.message}`, 0.5);
          metrics.taskRuns.inc({ task: task.name, outcome: 'wait' });
          log.warn('workflow waits for an operator', { kind: err.kind, reason: err.message });
          return { kind: 'parked', reason: err.message };
        }
        if (err instanceof Ignore) {
          await ctx.progress(err.message, 1);
          await store.finishTask(n.uuid, task.name, 'FAILURE', null, now());
          metrics.taskRuns.inc({ task: task.name, outcome: 'ignore' });
          return { kind: 'stop', status: 'ignored', message: err.message };
        }
        const message = err instanceof Error ? err.message : String(err);
        // A veto is the site's answer, not a glitch: the task fails now (the notification's own retry may follow).
        if (attempt < settings.retries && !(err instanceof ActionVetoed)) {
          metrics.taskRuns.inc({ task: task.name, outcome: 'retry' });
          await ctx.progress(`attempt ${attempt + 1} failed: ${message}; retrying in ${settings.retryDelayMs / 1000} s`, 0);
          try {
            await abortableSleep(settings.retryDelayMs, control.stopping);
          } catch {
            return { kind: 'handed-back' };
          }
          continue;
        }
        metrics.taskRuns.inc({ task: task.name, outcome: 'failure' });
        await ctx.progress(`failed: ${message}`, 1);
        await store.finishTask(n.uuid, task.name, 'FAILURE', null, now());
        log.warn('task failed', { error: err, attempts: attempt + 1 });
        const status = task.failureMeans === 'ignored' ? 'ignored' : 'error';
        return { kind: 'stop', status, message: `${task.name} failed: ${message}` };
      } finally {
        clearTimeout(timer);
        control.abort.removeEventListener('abort', onAbort);
      }
    }
  }

  #context(n: Notification, task: Task, mode: PoolMode, firstStartedAt: number, signal: AbortSignal, control: RunControl): TaskContext {
    const { store, now } = this.opts;
    const progress = (message: string, fraction: number) => store.addProgress(n.uuid, task.name, message, fraction, now());
    return {
      notification: n,
      mode,
      firstStartedAt,
      signal,
      moves: {
        plan: (moves) => store.planMoves(n.uuid, moves, now()),
        list: () => store.moves(n.uuid),
        update: (vmUuid, patch) => store.updateMove(n.uuid, vmUuid, patch, now()),
      },
      fence: {
        reserve: (limits) => store.reserveFence({ poolName: n.poolName, hostUuid: n.hostUuid, notificationUuid: n.uuid }, limits, now()),
        recorded: () => store.fenceOf(n.uuid),
        operatorWait: () => store.operatorWait(n.uuid),
      },
      progress,
      act: async (action, run) => {
        if (mode === 'dry-run') {
          await progress(`dry-run: would ${action.description}`, 0.5);
          return undefined;
        }
        // A task the engine gave up on (timed out, interrupted) may still be running: it starts no new action, so a
        // retry of it never races its abandoned attempt. An action already in flight finishes on its own deadline.
        signal.throwIfAborted();
        await control.confirmOwnership?.();
        signal.throwIfAborted();
        await progress(action.description, 0.5);
        const hooks = this.opts.hooks;
        if (!hooks) return run();
        return hooks.around({ method: action.method, params: action.params, notification: actionNotification(n), task: task.name }, run, signal);
      },
      escalate: (type, payload) => this.opts.escalate(n, type, payload),
      now,
      sleep: (ms) => abortableSleep(ms, signal),
    };
  }
}

function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}
