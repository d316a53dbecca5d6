// Web hooks around recovery actions (issue #12). A pre hook is told before the action and, when it waits for the
// response, can veto it: no 2xx after its retries and the action does not run. A post hook is told the outcome and
// never blocks recovery: its delivery is not awaited, and beyond a fixed number in flight new ones are dropped (and
// counted) rather than queued without bound.
import { randomUUID } from 'node:crypto';
import { Counter, type Registry } from 'prom-client';
import { sleep } from '../../core/concurrency.js';
import type { Logger } from '../../core/log.js';
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

const OUTCOMES = ['ok', 'failed', 'vetoed', 'dropped'] as const;
type Outcome = (typeof OUTCOMES)[number];
type CallRef = Pick<PrePayload, 'callId' | 'method'>;
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
}

const DEFAULT_MAX_IN_FLIGHT = 64;

export class ActionHooks {
  readonly #targets: HookTarget[];
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #counter: ActionHookCounter;
  readonly #maxInFlight: number;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #shutdown = new AbortController();

  constructor(configs: readonly ActionHookConfig[], opts: ActionHooksOptions) {
    this.#targets = configs.map((c) => new HookTarget(c));
    this.#log = opts.logger;
    this.#now = opts.now ?? Date.now;
    this.#counter = opts.counter ?? createActionHookCounter([]);
    this.#maxInFlight = opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
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
    for (const target of pre) if (!target.config.waitForResponse) this.#spawn(target, 'pre', payload, body);
    await this.#awaitPre(
      pre.filter((t) => t.config.waitForResponse),
      payload,
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
    this.#post(post, payload, startedAt, outcome);
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

  async #awaitPre(targets: HookTarget[], payload: PrePayload, body: string, signal?: AbortSignal): Promise<void> {
    const results = await Promise.all(targets.map((t) => t.send(body, signal)));
    let veto: ActionVetoed | undefined;
    targets.forEach((target, i) => {
      const r = results[i]!;
      this.#record(target, 'pre', payload, r, r.ok ? 'ok' : signal?.aborted ? 'failed' : 'vetoed');
      if (!r.ok) veto ??= new ActionVetoed(payload.method, target.where, r.status, r.reason);
    });
    signal?.throwIfAborted();
    if (veto) throw veto;
  }

  #post(targets: HookTarget[], pre: PrePayload, startedAt: number, outcome: ActionOutcome<unknown>): void {
    if (targets.length === 0) return;
    const payload = postPayload(pre, startedAt, this.#now(), outcome);
    const body = JSON.stringify(payload);
    for (const target of targets) this.#spawn(target, 'post', payload, body);
  }

  #spawn(target: HookTarget, phase: Phase, payload: CallRef, body: string): void {
    if (this.#inFlight.size >= this.#maxInFlight) {
      this.#counter.inc({ type: phase, outcome: 'dropped' });
      this.#log.warn('action hook dropped: too many deliveries in flight', { ...fields(target, phase, payload), maxInFlight: this.#maxInFlight });
      return;
    }
    const delivery: Promise<void> = target
      .send(body, this.#shutdown.signal)
      .then((r) => this.#record(target, phase, payload, r, r.ok ? 'ok' : 'failed'))
      .finally(() => this.#inFlight.delete(delivery));
    this.#inFlight.add(delivery);
  }

  #record(target: HookTarget, phase: Phase, payload: CallRef, r: DeliveryResult, outcome: Outcome): void {
    this.#counter.inc({ type: phase, outcome });
    const f = { ...fields(target, phase, payload), attempts: r.attempts };
    if (r.ok) this.#log.debug('action hook delivered', { ...f, status: r.status });
    else this.#log.warn(outcome === 'vetoed' ? 'action vetoed by pre hook' : 'action hook failed', { ...f, status: r.status, reason: r.reason });
  }
}

function fields(target: HookTarget, phase: Phase, payload: CallRef) {
  return { hook: target.where, type: phase, method: payload.method, callId: payload.callId };
}
