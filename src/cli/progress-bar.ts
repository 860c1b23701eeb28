// Progress of a long operation on stderr: a bar redrawn in place on a terminal, else a
// plain "LABEL: N%" line each time the whole percentage changes (for logs and pipes).
import type { CliIo } from './io.js';

export interface Progress {
  /** `percent` 0-100 (fractions allowed; never goes backwards on screen). */
  update(percent: number): void;
  /** Ends the line (a terminal's bar), once. */
  done(): void;
}

const WIDTH = 30;

/** "LABEL [##########--------------------]  33%": pure, for tests. */
export function renderBar(label: string, percent: number, width = WIDTH): string {
  const clamped = Math.min(100, Math.max(0, Number.isFinite(percent) ? percent : 0));
  const filled = Math.floor((clamped / 100) * width);
  const whole = Math.floor(clamped);
  return `${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(whole).padStart(3)}%`;
}

export function progressReporter(io: CliIo, tty: boolean, label: string): Progress {
  let last = -1;
  let open = false;
  return {
    update(percent) {
      const whole = Math.floor(Math.min(100, Math.max(0, percent)));
      if (whole <= last) return;
      last = whole;
      if (tty) {
        io.err(`\r${renderBar(label, percent)}`);
        open = true;
      } else {
        io.err(`${label}: ${whole}%\n`);
      }
    },
    done() {
      if (open) io.err('\n');
      open = false;
    },
  };
}
