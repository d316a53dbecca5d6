// Background work for the hardware collectors: a job that runs on its own interval and never overlaps itself,
// and a semaphore that bounds how many hosts are worked on at once across collectors.

/** Runs `job` now, then `intervalMs` after each start (at once if a run took longer); one run at a time.
 * A job that returns false did not run (nothing to do yet) and is retried after `retryMs`. */
export class Every {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private stopped = false;

  constructor(
    private readonly intervalMs: number,
    private readonly job: () => Promise<boolean>,
    private readonly retryMs = 1000,
  ) {}

  start(): void {
    this.schedule(0);
  }

  /** No new run starts; the running one, if any, goes on (see `idle`). */
  halt(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Resolves when no run is in progress, or after `maxWaitMs`. */
  async idle(maxWaitMs: number): Promise<void> {
    if (!this.running) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.running.catch(() => undefined), new Promise((r) => (timer = setTimeout(r, maxWaitMs)))]);
    clearTimeout(timer);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    const started = Date.now();
    const run = this.job().catch(() => true);
    this.running = run;
    const ran = await run;
    this.running = undefined;
    this.schedule(ran ? Math.max(0, this.intervalMs - (Date.now() - started)) : this.retryMs);
  }
}

export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await fn();
    } finally {
      // Hand the slot straight to the next waiter, or free it.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}
