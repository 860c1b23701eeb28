// Where an image may be imported from: a file inside one of the configured import
// directories (an upload area, a share the administrators fill). The path is resolved by
// the kernel (symlinks, "..") before it is compared, and the real path is what is used
// from then on, so "../" games and symlinks to host files lead nowhere.
import { realpath } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { LabvirtError } from '../domain/errors.js';
import { isInsideDirs } from '../qemu/image/backing-chain.js';
import { fileError } from '../system/file-errors.js';

/** The real paths of the import directories that exist. */
export async function realImportDirs(dirs: readonly string[]): Promise<string[]> {
  const real: string[] = [];
  for (const dir of dirs) {
    const path = await realpath(resolve(dir)).catch(() => undefined);
    if (path !== undefined) real.push(path);
  }
  return real;
}

/**
 * The real path of `source`, which must lie inside one of `importDirs` (already real).
 * A relative source is taken from the first import directory, never from the cwd.
 * A missing file is reported as missing only if it would have been inside; otherwise as
 * outside, so probing for host files learns nothing.
 */
export async function resolveImportSource(
  source: string,
  importDirs: readonly string[],
): Promise<string> {
  const outside = () => new LabvirtError('IMPORT_SOURCE_OUTSIDE', { path: source });
  if (source === '' || source.includes('\0') || importDirs.length === 0) throw outside();
  const first = importDirs[0] ?? '/';
  const given = isAbsolute(source) ? source : resolve(first, source);
  let real: string;
  try {
    real = await realpath(given);
  } catch (error) {
    if (!isInsideDirs(resolve(given), importDirs)) throw outside();
    throw fileError(source, 'import source', error);
  }
  if (!isInsideDirs(real, importDirs)) throw outside();
  return real;
}
