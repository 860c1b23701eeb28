// What every benchmark shares: how many rounds, and the median of them.

/** Rounds per figure: BENCH_ROUNDS, 15 by default. */
export const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 15);

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] ?? Number.NaN;
  return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] ?? Number.NaN) + upper) / 2;
}
