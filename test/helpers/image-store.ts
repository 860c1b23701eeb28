// Shared set-up for the image store tests: a store and an import directory in a fresh
// temporary directory, and what a test asserts about the store afterwards.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageStore } from '../../src/images/image-store.js';
import type { VersionRef } from '../../src/images/store-layout.js';
import { tempDir } from './env.js';

export { qemuImgCli } from './hostile-images.js';

export function newRef(profileId: string = randomUUID()): VersionRef {
  return { profileId, versionId: randomUUID() };
}

export interface StoreFixture {
  readonly dir: string;
  readonly storeRoot: string;
  readonly importDir: string;
  readonly store: ImageStore;
  readonly cleanup: () => Promise<void>;
}

export async function storeFixture(storeRoot?: string): Promise<StoreFixture> {
  const { path, cleanup } = await tempDir('lv-img-');
  const dir = await realpath(path);
  const importDir = join(dir, 'import');
  await mkdir(importDir);
  const root = storeRoot ?? join(dir, 'store');
  return {
    dir,
    storeRoot: root,
    importDir,
    store: new ImageStore({ root, importDirs: [importDir] }),
    cleanup,
  };
}

/** Every file under the store's root, relative to it (empty directories not listed). */
export async function storeFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => !entry.isDirectory())
    .map((entry) => join(entry.parentPath, entry.name).slice(root.length + 1))
    .sort();
}

export function assertIncreasingTo100(seen: readonly number[]): void {
  assert.ok(seen.length >= 2, `progress reported: ${seen.join(', ')}`);
  assert.equal(seen.at(-1), 100);
  for (let i = 1; i < seen.length; i++) {
    assert.ok(seen[i]! > seen[i - 1]!, `progress goes up: ${seen.join(', ')}`);
  }
}
