// Copies what is appended to a file (a VM's serial log) to a stream as it grows.
import { open, type FileHandle } from 'node:fs/promises';

export class FileFollower {
  #path: string;
  #out: NodeJS.WritableStream;
  #offset = 0;
  #timer: NodeJS.Timeout | undefined;
  #reading: Promise<void> = Promise.resolve();

  constructor(path: string, out: NodeJS.WritableStream) {
    this.#path = path;
    this.#out = out;
  }

  start(intervalMs = 200): void {
    this.#timer = setInterval(() => void this.#readMore(), intervalMs);
  }

  /** Stops polling after copying whatever is there now. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#readMore();
  }

  #readMore(): Promise<void> {
    this.#reading = this.#reading.then(async () => {
      let file: FileHandle | undefined;
      try {
        file = await open(this.#path, 'r');
        const buffer = Buffer.alloc(64 * 1024);
        for (;;) {
          const { bytesRead } = await file.read(buffer, 0, buffer.length, this.#offset);
          if (bytesRead === 0) break;
          this.#offset += bytesRead;
          this.#out.write(buffer.subarray(0, bytesRead));
        }
      } catch {
        // Not created yet, or gone: nothing to copy this time.
      } finally {
        await file?.close();
      }
    });
    return this.#reading;
  }
}
