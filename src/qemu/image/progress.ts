// Progress of `qemu-img convert -p`: it rewrites one status line, "    (12.34/100%)\r", on
// standard output. Chunks arrive cut anywhere, so a partial status is kept until its
// terminator comes. Pure: no I/O.

const STATUS = /\((\d+(?:\.\d+)?)\/100%\)/;

export class ProgressParser {
  #pending = '';
  #last = -1;

  /** Adds a chunk of output and returns the new percentages it completed, increasing. */
  push(chunk: string): number[] {
    const pieces = (this.#pending + chunk).split(/[\r\n]/);
    // The last piece has no terminator yet (or is empty): keep it for the next chunk.
    this.#pending = pieces.pop() ?? '';
    const updates: number[] = [];
    for (const piece of pieces) this.#take(piece, updates);
    return updates;
  }

  /** Call once the command has succeeded: flushes what is left and always ends at 100. */
  end(): number[] {
    const updates: number[] = [];
    this.#take(this.#pending, updates);
    this.#pending = '';
    if (this.#last < 100) {
      this.#last = 100;
      updates.push(100);
    }
    return updates;
  }

  /** The highest percentage seen so far, or undefined before the first one. */
  get last(): number | undefined {
    return this.#last < 0 ? undefined : this.#last;
  }

  #take(piece: string, updates: number[]): void {
    const match = STATUS.exec(piece);
    if (match?.[1] === undefined) return;
    const percent = Math.min(100, Number(match[1]));
    // qemu-img repeats a status (or may step back between phases): report only progress.
    if (percent > this.#last) {
      this.#last = percent;
      updates.push(percent);
    }
  }
}
