// A small tmpfs mounted by a test (root only), and a way to make it full without putting a
// foreign file into it: a remount shrinks its size to what is used now, plus `leave`
// bytes, so the store or overlay directory on it holds only its own files. A failed
// operation may then use up to `leave` bytes before it hits ENOSPC, and statfs shows
// whether it gave them back.
import { execFile } from 'node:child_process';
import { mkdir, statfs } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const MIB = 1024 * 1024;
export const isRoot = process.getuid?.() === 0;

export interface SmallDisk {
  readonly path: string;
  /** Bytes an unprivileged writer may still use. */
  free(): Promise<number>;
  /** Shrinks the file system to what is used now plus `leave` bytes (page-rounded). */
  squeeze(leave?: number): Promise<void>;
  /** Back to the size it was mounted with. */
  release(): Promise<void>;
  unmount(): Promise<void>;
}

async function remount(path: string, bytes: number): Promise<void> {
  await run('mount', ['-o', `remount,size=${bytes}`, path]);
}

export async function mountSmallDisk(path: string, sizeMib: number): Promise<SmallDisk> {
  await mkdir(path, { recursive: true });
  await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeMib}m,mode=0755`, 'tmpfs', path]);
  let mounted = true;
  return {
    path,
    free: async () => {
      const stats = await statfs(path);
      return stats.bavail * stats.bsize;
    },
    squeeze: async (leave = 0) => {
      const stats = await statfs(path);
      const used = (stats.blocks - stats.bfree) * stats.bsize;
      const page = stats.bsize;
      await remount(path, Math.max(page, used + Math.ceil(leave / page) * page));
    },
    release: () => remount(path, sizeMib * MIB),
    unmount: async () => {
      if (!mounted) return;
      // Lazy: a QEMU a failed test left behind may still hold a file open.
      await run('umount', ['-l', path]);
      mounted = false;
    },
  };
}
