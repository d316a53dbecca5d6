// Reading the exporter's text exposition in tests, and waiting for a condition.
import { waitFor } from '../../core/concurrency.js';

/** The sample lines of `metric` (with or without labels). */
export const lines = (text: string, metric: string) => text.split('\n').filter((l) => l.startsWith(metric + '{') || l.startsWith(metric + ' '));

/** The value of one sample line. */
export const value = (line: string) => Number(line.slice(line.lastIndexOf(' ') + 1));

/** The one sample of `metric` whose labels contain every `k="v"` of `labels`. */
export function sample(text: string, metric: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const found = lines(text, metric).filter((l) => want.every((w) => l.includes(w)));
  if (found.length > 1) throw new Error(`${metric} ${JSON.stringify(labels)}: ${found.length} samples`);
  return found[0] === undefined ? undefined : value(found[0]);
}

/** Wait until `check()` holds, polling every 50 ms; fails after `ms`. */
export async function until(what: string, check: () => boolean, ms = 15_000): Promise<void> {
  await waitFor(what, check, { timeoutMs: ms, everyMs: 50 });
}
