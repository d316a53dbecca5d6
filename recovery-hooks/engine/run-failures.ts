// Workflow runs that failed outside the workflow's own error handling (a store write refused, a bug): such a failure
// usually repeats, so the notification is not picked again at the next tick (a hot loop that also holds its host's
// turn) but after a growing delay, and goes through Masakari's `error` → retry → `failed` like any failed run.
import type { Notification, Transition } from '../store/types.js';

export interface RetryPolicy {
  attempts: number;
  intervalMs: number;
}

/** The status changes that end a failed run: `error` (with its next attempt), then `failed` when no retry is left. */
export function failedRunTransitions(n: Notification, message: string, retry: RetryPolicy, now: number): { error: Transition; failed?: Transition } {
  const retriesLeft = n.attempts <= retry.attempts;
  return {
    error: { from: ['running'], to: 'error', message, nextAttemptAt: retriesLeft ? now + retry.intervalMs : null },
    ...(retriesLeft ? {} : { failed: { from: ['error'], to: 'failed', message: `${message} (after ${n.attempts} run(s))` } }),
  };
}

/**
 * Per notification, when it may run again after a failed run: base × 2^(failures−1), at most maxMs. Bounded: at most
 * maxEntries notifications are remembered (the oldest is forgotten first; forgetting only allows an earlier retry).
 */
export class RunBackoff {
  readonly #entries = new Map<string, { failures: number; until: number }>();
  constructor(private readonly opts: { baseMs: number; maxMs: number; maxEntries?: number }) {}

  /** Record a failed run of `uuid`; returns the delay before it may run again. */
  failed(uuid: string, now: number): number {
    const failures = (this.#entries.get(uuid)?.failures ?? 0) + 1;
    const delay = Math.min(this.opts.baseMs * 2 ** Math.min(failures - 1, 30), this.opts.maxMs);
    this.#entries.delete(uuid);
    this.#entries.set(uuid, { failures, until: now + delay });
    const max = this.opts.maxEntries ?? 10_000;
    for (const key of this.#entries.keys()) {
      if (this.#entries.size <= max) break;
      this.#entries.delete(key);
    }
    return delay;
  }

  waiting(uuid: string, now: number): boolean {
    return (this.#entries.get(uuid)?.until ?? 0) > now;
  }

  succeeded(uuid: string): void {
    this.#entries.delete(uuid);
  }
}

/** An error's message for a notification's `message`: one line, bounded. */
export function failureMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const line = text.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return `workflow run failed: ${line.length > 500 ? `${line.slice(0, 500)}…` : line}`;
}
