// One overall percentage for an operation made of phases (convert, then check and hash),
// each given a share of the whole: what a progress bar or an API job shows. It only ever
// goes up, and ends at exactly 100 once finish() is called. Pure.

export type ProgressListener = (percent: number) => void;

export class PhasedProgress<Phase extends string> {
  readonly #starts = new Map<Phase, { start: number; share: number }>();
  readonly #listener: ProgressListener | undefined;
  #last = -1;

  /** `shares`: each phase's weight, in order; they need not add up to anything. */
  constructor(shares: readonly (readonly [Phase, number])[], listener?: ProgressListener) {
    const total = shares.reduce((sum, [, share]) => sum + share, 0);
    let start = 0;
    for (const [phase, share] of shares) {
      const part = total > 0 ? (share / total) * 100 : 0;
      this.#starts.set(phase, { start, share: part });
      start += part;
    }
    this.#listener = listener;
  }

  /** `percent` (0-100) of `phase` is done. */
  report(phase: Phase, percent: number): void {
    const entry = this.#starts.get(phase);
    if (entry === undefined) return;
    const clamped = Math.min(100, Math.max(0, Number.isFinite(percent) ? percent : 0));
    // Two decimals, and never 100 before finish(): the last phase may still fail.
    this.#emit(
      Math.min(99.99, Math.round((entry.start + (entry.share * clamped) / 100) * 100) / 100),
    );
  }

  finish(): void {
    this.#emit(100);
  }

  #emit(percent: number): void {
    if (percent <= this.#last) return;
    this.#last = percent;
    this.#listener?.(percent);
  }
}
