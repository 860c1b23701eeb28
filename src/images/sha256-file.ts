// The sha256 of a file, read as a stream (a golden image may be tens of GiB), with the
// share of it read so far for a progress bar.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';

export interface FileDigest {
  readonly sha256: string;
  /** Bytes read (the file's size on disk as a byte stream, not its allocation). */
  readonly size: number;
}

export async function sha256File(
  path: string,
  onProgress?: (percent: number) => void,
): Promise<FileDigest> {
  const { size: expected } = await stat(path);
  const hash = createHash('sha256');
  let size = 0;
  let reported = -1;
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    const buffer = chunk as Buffer;
    hash.update(buffer);
    size += buffer.length;
    const percent = expected > 0 ? Math.floor((size / expected) * 100) : 100;
    if (onProgress !== undefined && percent > reported) {
      reported = percent;
      onProgress(Math.min(100, percent));
    }
  }
  if (reported < 100) onProgress?.(100);
  return { sha256: hash.digest('hex'), size };
}
