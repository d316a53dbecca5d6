// One configured hook as an HTTP target: POST a JSON document with the hook's deadline, retrying transport errors,
// timeouts and 5xx (a 4xx is the receiver's answer and stands). Never throws: the outcome is a value.
import { sleep } from '../../core/concurrency.js';
import { HttpClient } from '../../core/http/client.js';
import type { ActionHookConfig, ActionMethod } from './config.js';
import { describeError } from '../../core/errors.js';

export type Phase = 'pre' | 'post';

export type DeliveryResult =
  /** `excerpt`: the start of the hook's answer (for the notification's activity). */
  | { ok: true; status: number; attempts: number; excerpt: string }
  /** `status` is absent when no answer came (timeout, refused…); `reason` is the answer's excerpt or the error. */
  | { ok: false; status?: number; reason: string; attempts: number };

const MAX_ANSWER_BYTES = 64 * 1024;
const EXCERPT_CHARS = 200;

export function describeFailure(r: { status?: number; reason: string }): string {
  if (r.status === undefined) return r.reason;
  return `HTTP ${r.status}${r.reason ? ` (${r.reason})` : ''}`;
}

function retryable(status: number | undefined): boolean {
  return status === undefined || status >= 500 || status === 408 || status === 429;
}

export class HookTarget {
  /** The URL for logs and errors: no query string (config refuses credentials in it). */
  readonly where: string;
  readonly #url: URL;
  readonly #client: HttpClient;
  readonly #headers: Record<string, string>;

  constructor(readonly config: ActionHookConfig) {
    this.#url = new URL(config.url);
    this.where = `${this.#url.origin}${this.#url.pathname}`;
    this.#client = new HttpClient(config.tls);
    this.#headers = { 'content-type': 'application/json', 'user-agent': 'xcp-sentinel' };
    if (config.token) this.#headers.authorization = `Bearer ${config.token.reveal()}`;
  }

  matches(method: ActionMethod, phase: Phase): boolean {
    return this.config.type.split('/').includes(phase) && this.config.methods.some((m) => m === '*' || m === method);
  }

  async send(body: string, signal?: AbortSignal): Promise<DeliveryResult> {
    for (let attempt = 1; ; attempt++) {
      const r = await this.#attempt(body, signal);
      if (r.ok || attempt > this.config.retries || !retryable(r.status) || signal?.aborted) return { ...r, attempts: attempt };
      await sleep(this.config.retryDelayMs, signal);
    }
  }

  async #attempt(body: string, signal?: AbortSignal): Promise<{ ok: true; status: number; excerpt: string } | { ok: false; status?: number; reason: string }> {
    try {
      const res = await this.#client.request(this.#url, {
        method: 'POST',
        headers: this.#headers,
        body,
        timeoutMs: this.config.timeoutMs,
        maxBodyBytes: MAX_ANSWER_BYTES,
        signal,
      });
      const excerpt = res.body.toString('utf8', 0, EXCERPT_CHARS).replace(/\s+/g, ' ').trim();
      if (res.status >= 200 && res.status <= 299) return { ok: true, status: res.status, excerpt };
      return { ok: false, status: res.status, reason: excerpt };
    } catch (err) {
      return { ok: false, reason: describeError(err) };
    }
  }

  close(): void {
    this.#client.close();
  }
}
