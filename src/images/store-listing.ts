// What the store holds, read from its directory: its files, and which are layered on which.
// (The database knows this too; the store can tell for itself before removing a file.)
import { readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { QemuImg } from '../qemu/image/qemu-img.js';
import type { StoreLayout, VersionRef } from './store-layout.js';

/** Every version and draft file in the store (names of any other shape are ignored). */
export async function listStore(layout: StoreLayout): Promise<VersionRef[]> {
  const refs: VersionRef[] = [];
  for (const profile of await readdir(layout.versionsDir).catch(() => [])) {
    const files = await readdir(join(layout.versionsDir, profile)).catch(() => []);
    for (const name of files) {
      try {
        refs.push(layout.refOf(`versions/${profile}/${name}`));
      } catch {
        // Not a name the store makes: not one of its files.
      }
    }
  }
  return refs;
}

/** The files of the store whose backing file is `target` (headers only, shared lock). */
export async function layeredOn(
  layout: StoreLayout,
  qemuImg: QemuImg,
  target: VersionRef,
): Promise<VersionRef[]> {
  const path = layout.path(target);
  const found: VersionRef[] = [];
  for (const ref of await listStore(layout)) {
    const file = layout.path(ref);
    if (file === path) continue;
    const info = await qemuImg.info(file, 'qcow2', { forceShare: true });
    if (info.backingFilename === undefined) continue;
    if (resolve(dirname(file), info.backingFilename) === path) found.push(ref);
  }
  return found;
}
