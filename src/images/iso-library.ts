// The ISO library: a directory of CD-ROM images that profiles name by file name only. The
// controller checks a name when a profile is set; the agent resolves it in its own library
// when a VM starts (the name travels, never a path), so nothing can lead outside it.
import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { LabvirtError } from '../domain/errors.js';

/** ISO names: a plain file name (no directory part, no leading dot). */
const ISO_NAME = /^[A-Za-z0-9][A-Za-z0-9 ._+-]{0,254}$/;

/**
 * The real path of `name`, a regular file directly inside the ISO library (after the
 * kernel resolves any symlink): ISO_NAME_INVALID or ISO_NOT_FOUND otherwise, with `field`.
 */
export async function resolveIso(
  isoDir: string | undefined,
  name: string,
  field: string | undefined = 'cdrom',
): Promise<string> {
  const options = field === undefined ? {} : { field };
  if (!ISO_NAME.test(name) || name.includes('..'))
    throw new LabvirtError('ISO_NAME_INVALID', { name }, options);
  const missing = () => new LabvirtError('ISO_NOT_FOUND', { name }, options);
  if (isoDir === undefined) throw missing();
  try {
    const dir = await realpath(isoDir);
    const real = await realpath(join(dir, name));
    const rel = relative(dir, real);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || rel.includes('/')) throw missing();
    if (!(await stat(real)).isFile()) throw missing();
    return real;
  } catch (error) {
    if (error instanceof LabvirtError) throw error;
    throw missing();
  }
}
