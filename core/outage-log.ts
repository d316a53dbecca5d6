// Logs of something that stays down (a host, a pool master): one warning when it fails, a reminder now and then
// while it stays down, one line when it is back — not a line every poll.
import type { Logger } from './log.js';

/** How often a reminder is logged while the same thing stays down. */
export const OUTAGE_REMINDER_MS = 15 * 60_000;

interface Outage {
  since: number;
  lastLogged: number;
  failures: number;
}

export class OutageLog {
  private readonly outages = new Map<string, Outage>();

  constructor(
    private readonly logger: Logger,
    private readonly remindEveryMs = OUTAGE_REMINDER_MS,
  ) {}

  /** `key` failed again: a warning the first time and once per reminder interval. */
  failed(key: string, message: string, fields: Record<string, unknown> = {}, now = Date.now()): void {
    const o = this.outages.get(key);
    if (!o) {
      this.outages.set(key, { since: now, lastLogged: now, failures: 1 });
      this.logger.warn(message, fields);
      return;
    }
    o.failures++;
    if (now - o.lastLogged < this.remindEveryMs) return;
    o.lastLogged = now;
    this.logger.warn(`${message} (still)`, {
      ...fields,
      down_since: new Date(o.since).toISOString(),
      down_seconds: Math.round((now - o.since) / 1000),
      failures: o.failures,
    });
  }

  /** `key` works: one line if it was down, nothing otherwise. */
  recovered(key: string, message: string, fields: Record<string, unknown> = {}, now = Date.now()): void {
    const o = this.outages.get(key);
    if (!o) return;
    this.outages.delete(key);
    this.logger.info(message, { ...fields, down_seconds: Math.round((now - o.since) / 1000), failures: o.failures });
  }

  isDown(key: string): boolean {
    return this.outages.has(key);
  }

  /** Forget outages of keys that no longer exist (a host that left the pool), so the map stays bounded. */
  retain(keep: (key: string) => boolean): void {
    for (const key of this.outages.keys()) if (!keep(key)) this.outages.delete(key);
  }
}
