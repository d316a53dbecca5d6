// Small statistics helpers for the benchmarks: medians and spread over repeated runs.
export function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

/**
 * Index of the median of `n` sorted values; of an even number, the lower of the middle two: with the two rounds of a
 * quick run, the upper one was the better run, a median leaning on the side of the target.
 */
export function lowerMiddle(n: number): number {
  return Math.floor((n - 1) / 2);
}

export function summary(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, min: s[0]!, p50: quantile(s, 0.5), p99: quantile(s, 0.99), max: s[s.length - 1]! };
}

export const ms = (v: number) => `${v.toFixed(v < 10 ? 2 : 1)} ms`;
export const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
