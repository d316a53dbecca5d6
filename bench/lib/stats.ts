// Small statistics helpers for the benchmarks: medians and spread over repeated runs.

/**
 * Index of the q-quantile among `n` sorted values (nearest rank): for the median of an even number, the lower of the
 * middle two — with the two rounds of a quick run, the upper one would be the better run.
 */
export function quantileIndex(n: number, q: number): number {
  return Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1));
}

export function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return NaN;
  return sorted[quantileIndex(sorted.length, q)]!;
}

export function summary(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, min: s[0]!, p50: quantile(s, 0.5), p99: quantile(s, 0.99), max: s[s.length - 1]! };
}

export const ms = (v: number) => `${v.toFixed(v < 10 ? 2 : 1)} ms`;
export const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
