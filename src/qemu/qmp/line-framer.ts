// Newline framing for QMP: QEMU writes one JSON object per line, but a socket hands us
// arbitrary chunks (a message split in two, several messages at once, a multi-byte UTF-8
// character cut between chunks). The framer turns chunks back into whole lines. Pure: no
// I/O, so the edge cases are unit-tested directly.
import { StringDecoder } from 'node:string_decoder';
import { LabvirtError } from '../../domain/errors.js';

/** Far above any real QMP reply; only a broken or hostile peer sends more without a newline. */
export const DEFAULT_MAX_LINE_LENGTH = 16 * 1024 * 1024;

export interface LineFramerOptions {
  /** Longest line accepted, in UTF-16 code units, not counting the terminator. */
  readonly maxLineLength?: number;
}

export class LineFramer {
  // StringDecoder holds back the bytes of an incomplete UTF-8 character until the next chunk.
  readonly #decoder = new StringDecoder('utf8');
  readonly #maxLineLength: number;
  #buffer = '';
  #failed = false;

  constructor(options: LineFramerOptions = {}) {
    this.#maxLineLength = options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH;
  }

  /**
   * Adds a chunk and returns the lines it completed, without their "\n" or "\r\n".
   * Blank lines carry no message and are skipped. Throws LabvirtError('QMP_PROTOCOL') when
   * a line grows beyond the maximum; the framer then stays failed (the stream is lost).
   */
  push(chunk: string | Uint8Array): string[] {
    if (this.#failed) throw this.#tooLong();
    const text = typeof chunk === 'string' ? chunk : this.#decoder.write(Buffer.from(chunk));
    const lines: string[] = [];
    // Only the new text can hold a newline: the buffer had none left after the last push.
    let start = 0;
    let newline = text.indexOf('\n');
    while (newline !== -1) {
      const piece = this.#buffer + text.slice(start, newline);
      this.#buffer = '';
      this.#accept(piece, lines);
      start = newline + 1;
      newline = text.indexOf('\n', start);
    }
    this.#buffer += text.slice(start);
    if (this.#buffer.length > this.#maxLineLength) {
      this.#buffer = '';
      this.#failed = true;
      throw this.#tooLong();
    }
    return lines;
  }

  /** Text received after the last newline (an incomplete line), e.g. for error reports. */
  get pending(): string {
    return this.#buffer;
  }

  #accept(piece: string, lines: string[]): void {
    const line = piece.endsWith('\r') ? piece.slice(0, -1) : piece;
    if (line.length > this.#maxLineLength) {
      this.#failed = true;
      throw this.#tooLong();
    }
    if (line.trim() !== '') lines.push(line);
  }

  #tooLong(): LabvirtError {
    return new LabvirtError('QMP_PROTOCOL', {
      detail: `a line is longer than ${this.#maxLineLength} characters`,
    });
  }
}
