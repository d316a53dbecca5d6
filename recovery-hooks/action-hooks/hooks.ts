// Web hooks around recovery actions (issue #12). A pre hook is told before the action and, when it waits for the
// response, can veto it: no 2xx after its retries and the action does not run. A post hook is told the outcome and
// never blocks recovery: its delivery is not awaited, and beyond a fixed number in flight new ones are dropped (and
// counted) rather than queued without bound.
import { randomUUID } from 'node:crypto';
import { Counter, type Registry } from 'prom-client';
import { sleep } from '../../core/concurrency.js';
import { describeError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { NotificationStore } from '../store/store.js';
import type { HookCallOutcome } from '../store/types.js';
import type { ActionHookConfig, ActionMethod } from './config.js';
import { type DeliveryResult, HookTarget, type Phase, describeFailure } from './delivery.js';
import { type ActionCall, type ActionOutcome, type PrePayload, postPayload, prePayload } from './payload.js';

/** A waiting pre hook did not answer 2xx: the action was not run. */
export class ActionVetoed extends Error {
  override name = 'ActionVetoed';
  constructor(
    readonly method: ActionMethod,
    /** The hook's URL without query string. */
    readonly hook: string,
    /** The hook's HTTP status; absent when it did not answer (timeout, connection refused…). */
    readonly status: number | undefined,
    /** An excerpt of the hook's answer, or the delivery error. */
    readonly reason: string,
  ) {
    super(`${method} vetoed by pre hook ${hook}: ${describeFailure({ status, reason })}`);
  }
}

const OUTCOMES = ['ok', 'failed', 'vetoed', 'dropped'] as const satisfies readonly HookCallOutcome[];
type Outcome = (typeof OUTCOMES)[number];
/** What a hook call is recorded under: the call, its notification, and the workflow task acting. */
type CallRef = Pick<PrePayload, 'callId' | 'method' | 'notification'> & { task?: string };
export type ActionHookCounter = Counter<'type' | 'outcome'>;

export function createActionHookCounter(registers: Registry[]): ActionHookCounter {
  const counter = new Counter({
    name: 'xcp_recovery_action_hook_calls_total',
    help: 'Action hook deliveries by type (pre, post) and outcome (ok, failed, vetoed, dropped).',
    labelNames: ['type', 'outcome'],
    registers,
  });
  for (const type of ['pre', 'post']) for (const outcome of OUTCOMES) counter.inc({ type, outcome }, 0);
  return counter;
}

export interface ActionHooksOptions {
  logger: Logger;
  now?: () => number;
  /** Defaults to a counter registered nowhere. */
  counter?: ActionHookCounter;
  /** Unawaited deliveries (post hooks, pre hooks that do not wait) in flight at once; more are dropped. */
  maxInFlight?: number;
  /** Where each call is recorded (the notification's activity); a failure to record is logged, never thrown. */
  activity?: Pick<NotificationStore, 'recordHookCall'>;
}

const DEFAULT_MAX_IN_FLIGHT = 64;

export class ActionHooks {
  readonly #targets: HookTarget[];
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #counter: ActionHookCounter;
  readonly #maxInFlight: number;
  readonly #activity: ActionHooksOptions['activity'];
  readonly #inFlight = new Set<Promise<void>>();
  readonly #shutdown = new AbortController();

  constructor(configs: readonly ActionHookConfig[], opts: ActionHooksOptions) {
    this.#targets = configs.map((c) => new HookTarget(c));
    this.#log = opts.logger;
    this.#now = opts.now ?? Date.now;
    this.#counter = opts.counter ?? createActionHookCounter([]);
    this.#maxInFlight = opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    this.#activity = opts.activity;
  }

  /**
   * Run `action` between its hooks. Throws ActionVetoed (action not run) when a waiting pre hook refuses, the
   * signal's reason when `signal` aborts while waiting, and otherwise whatever the action throws.
   */
  async around<T>(call: ActionCall, action: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    const pre = this.#targets.filter((t) => t.matches(call.method, 'pre'));
    const post = this.#targets.filter((t) => t.matches(call.method, 'post'));
    if (pre.length === 0 && post.length === 0) return action();
    const payload = prePayload(randomUUID(), call, this.#now());
    const body = JSON.stringify(payload);
    const ref: CallRef = { ...payload, task: call.task };
    for (const target of pre) if (!target.config.waitForResponse) this.#spawn(target, 'pre', ref, body);
    await this.#awaitPre(
      pre.filter((t) => t.config.waitForResponse),
      ref,
      body,
      signal,
    );
    const startedAt = this.#now();
    let outcome: ActionOutcome<T>;
    try {
      outcome = { ok: true, result: await action() };
    } catch (error) {
      outcome = { ok: false, error };
    }
    this.#post(post, payload, ref, startedAt, outcome);
    if (!outcome.ok) throw outcome.error;
    return outcome.result;
  }

  /** Wait up to `timeoutMs` for unawaited deliveries, then abort the rest and close connections. Returns how many were cut. */
  async drain(timeoutMs: number): Promise<number> {
    const timer = new AbortController();
    await Promise.race([Promise.allSettled([...this.#inFlight]), sleep(timeoutMs, timer.signal)]);
    timer.abort();
    const cut = this.#inFlight.size;
    this.#shutdown.abort();
    await Promise.allSettled([...this.#inFlight]);
    for (const target of this.#targets) target.close();
    return cut;
  }

  async #awaitPre(targets: HookTarget[], payload: CallRef, body: string, signal?: AbortSignal): Promise<void> {
    const startedAt = this.#now();
    const results = await Promise.all(targets.map((t) => t.send(body, signal)));
    let veto: ActionVetoed | undefined;
    await Promise.all(
      targets.map((target, i) => {
        const r = results[i]!;
        if (!r.ok) veto ??= new ActionVetoed(payload.method, target.where, r.status, r.reason);
        return this.#record(target, 'pre', payload, r, r.ok ? 'ok' : signal?.aborted ? 'failed' : 'vetoed', startedAt);
      }),
    );
    signal?.throwIfAborted();
    if (veto) throw veto;
  }

  #post(targets: HookTarget[], pre: PrePayload, ref: CallRef, startedAt: number, outcome: ActionOutcome<unknown>): void {
    if (targets.length === 0) return;
    const payload = postPayload(pre, startedAt, this.#now(), outcome);
    const body = JSON.stringify(payload);
    for (const target of targets) this.#spawn(target, 'post', ref, body);
  }

  #spawn(target: HookTarget, phase: Phase, payload: CallRef, body: string): void {
    const startedAt = this.#now();
    if (this.#inFlight.size >= this.#maxInFlight) {
      this.#counter.inc({ type: phase, outcome: 'dropped' });
      this.#log.warn('action hook dropped: too many deliveries in flight', { ...fields(target, phase, payload), maxInFlight: this.#maxInFlight });
      void this.#remember(target, phase, payload, { ok: false, reason: 'dropped: too many deliveries in flight', attempts: 0 }, 'dropped', startedAt);
      return;
    }
    const delivery: Promise<void> = target
      .send(body, this.#shutdown.signal)
      .then((r) => this.#record(target, phase, payload, r, r.ok ? 'ok' : 'failed', startedAt))
      .finally(() => this.#inFlight.delete(delivery));
    this.#inFlight.add(delivery);
  }

  #record(target: HookTarget, phase: Phase, payload: CallRef, r: DeliveryResult, outcome: Outcome, startedAt: number): Promise<void> {
    this.#counter.inc({ type: phase, outcome });
    const f = { ...fields(target, phase, payload), attempts: r.attempts };
    if (r.ok) this.#log.debug('action hook delivered', { ...f, status: r.status });
    else this.#log.warn(outcome === 'vetoed' ? 'action vetoed by pre hook' : 'action hook failed', { ...f, status: r.status, reason: r.reason });
    return this.#remember(target, phase, payload, r, outcome, startedAt);
  }

  /** The call in its notification's activity; the hook's own token is masked in what its answer echoes. */
  async #remember(target: HookTarget, phase: Phase, payload: CallRef, r: DeliveryResult, outcome: Outcome, startedAt: number): Promise<void> {
    if (!this.#activity) return;
    const output = r.ok ? r.excerpt : r.reason;
    try {
      await this.#activity.recordHookCall({
        notificationUuid: payload.notification.uuid,
        hook: target.where,
        phase,
        taskName: payload.task ?? null,
        method: payload.method,
        callId: payload.callId,
        outcome,
        httpStatus: r.status ?? null,
        attempts: r.attempts,
        startedAt,
        finishedAt: this.#now(),
        output: target.config.token ? output.replaceAll(target.config.token.reveal(), '[secret]') : output,
      });
    } catch (err) {
      this.#log.warn('action hook call not recorded in the activity', { ...fields(target, phase, payload), error: describeError(err) });
    }
  }
}

function fields(target: HookTarget, phase: Phase, payload: CallRef) {
  return { hook: target.where, type: phase, method: payload.method, callId: payload.callId };
}
