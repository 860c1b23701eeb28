// What every benchmark shares: how many rounds, and the median and percentiles of them.
import { QUICK } from './options.js';

/** Rounds per figure: BENCH_ROUNDS, else 15 (3 with --quick). */
export const ROUNDS = rounds(process.env['BENCH_ROUNDS'], QUICK ? 3 : 15);

function rounds(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`BENCH_ROUNDS: expected a whole number of rounds, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return value;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] ?? Number.NaN;
  return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] ?? Number.NaN) + upper) / 2;
}

/** The nearest-rank percentile (0 < share ≤ 1) of the values; NaN for none. */
export function percentile(values: readonly number[], share: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(share * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1] ?? Number.NaN;
}
