// The few file system steps of the store that must be done just so: a version is made
// read-only and flushed before it appears under its final name, it appears there in one
// step (a hard link: unlike rename, it never replaces a file already there), and a draft
// is told from a sealed version by its mode bits.
import { chmod, link, open, rm, stat, unlink } from 'node:fs/promises';
import { LabvirtError } from '../domain/errors.js';
import type { VersionRef } from './store-layout.js';

export const SEALED_MODE = 0o444;
export const DRAFT_MODE = 0o644;

async function fsync(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Flushes a file's data, then its directory's entry. */
export async function flushFile(path: string): Promise<void> {
  await fsync(path);
}

export async function flushDir(dir: string): Promise<void> {
  await fsync(dir);
}

export async function makeSealed(path: string): Promise<void> {
  await chmod(path, SEALED_MODE);
}

/** No write bit for anyone: a sealed version (drafts are made DRAFT_MODE). */
export async function isSealed(path: string): Promise<boolean> {
  return ((await stat(path)).mode & 0o222) === 0;
}

/** Gives `temp` its final name `dest` (same file system), never replacing a file. */
export async function moveIntoPlace(temp: string, dest: string, ref: VersionRef): Promise<void> {
  try {
    await link(temp, dest);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new LabvirtError('IMAGE_VERSION_EXISTS', {
        profile: ref.profileId,
        version: ref.versionId,
      });
    }
    throw error;
  }
  await unlink(temp);
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

export async function removeQuietly(path: string): Promise<void> {
  await rm(path, { force: true });
}
