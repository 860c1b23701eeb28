// Where an image may be imported from: a file inside one of the configured import
// directories (an upload area, a share the administrators fill). The path is resolved by
// the kernel (symlinks, "..") before it is compared, and the real path is what is used
// from then on, so "../" games and symlinks to host files lead nowhere. Then the image
// itself is checked before qemu-img reads any of its data: its backing chain, data file
// and extents stay inside the import directories, and each layer passes its check.
import { realpath } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { LabvirtError, isLabvirtError, phrase } from '../domain/errors.js';
import { isInsideDirs, verifyImageChain } from '../qemu/image/backing-chain.js';
import type { ImageFormat } from '../qemu/image/image-format.js';
import type { ImageCheckResult, QemuImg } from '../qemu/image/qemu-img.js';
import { fileError } from '../system/file-errors.js';

const GIB = 1024 ** 3;
/** The largest disk an image may declare: 16 TiB, as for a profile's data disks. */
export const MAX_VIRTUAL_SIZE = 16 * 1024 * GIB;

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
    throw fileError(source, phrase('import source'), error);
  }
  if (!isInsideDirs(real, importDirs)) throw outside();
  return real;
}

export function checkDetail(result: ImageCheckResult): string {
  return `${result.corruptions} corruptions, ${result.checkErrors} check errors`;
}

/** qemu-img could not make sense of the source: the user's file is not such an image. */
function notAnImage(path: string, error: unknown): unknown {
  return isLabvirtError(error) && error.code === 'QEMU_IMG_FAILED'
    ? new LabvirtError(
        'IMAGE_NOT_AN_IMAGE',
        { path, reason: error.params['detail'] ?? '' },
        { cause: error },
      )
    : error;
}

/**
 * Refuses a hostile or broken source (real path `path`, format `format`): a backing file,
 * data file or vmdk extent outside the import directories, an unrecorded backing format,
 * a file that is not an image of that format, a layer that fails its check. A truncated
 * qcow2 would convert without complaint (reads past its end give zeros): hence the check.
 */
export async function checkImportSource(
  path: string,
  format: ImageFormat,
  options: { importDirs: readonly string[]; qemuImg: QemuImg; maxDepth: number },
): Promise<void> {
  const { qemuImg } = options;
  const chain = await verifyImageChain(path, format, {
    allowedDirs: options.importDirs,
    info: (layer, layerFormat) => qemuImg.info(layer, layerFormat),
    maxDepth: options.maxDepth,
  }).catch((error: unknown) => {
    throw notAnImage(path, error);
  });
  // A few bytes of header can declare a disk of petabytes: qemu-img would spend its time
  // on an L1 table nobody needs, and every VM of it would get a disk no host can hold.
  const virtualSize = chain[0]?.virtualSize ?? 0;
  if (virtualSize > MAX_VIRTUAL_SIZE) {
    throw new LabvirtError('IMAGE_TOO_LARGE', {
      path,
      sizeGiB: Math.ceil(virtualSize / GIB),
      limitGiB: MAX_VIRTUAL_SIZE / GIB,
    });
  }
  for (const layer of chain) {
    const result = await qemuImg.check(layer.path, layer.format).catch((error: unknown) => {
      throw notAnImage(layer.path, error);
    });
    if (!result.ok || result.checkErrors > 0) {
      throw new LabvirtError('IMAGE_CORRUPT', { path: layer.path, detail: checkDetail(result) });
    }
  }
}
