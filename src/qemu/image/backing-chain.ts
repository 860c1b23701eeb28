// Walking an image's backing chain before QEMU opens it. An image file is data a guest or
// an uploader controls: its header can name any host file as backing file, external data
// file or vmdk extent, and QEMU would open it with our privileges. So each layer's real
// path must lie inside an allowed directory, and a backing path is checked BEFORE its own
// info is read. Paths are combined the way QEMU does (dirname of the layer as given + "/" +
// name, no lexical ".." folding) and only then resolved by the kernel (realpath), so
// symlinks and ".." cannot take us somewhere QEMU would not go, or the other way round.
import { realpath as fsRealpath } from 'node:fs/promises';
import { dirname, isAbsolute, resolve, sep } from 'node:path';
import { fileError } from '../../system/file-errors.js';
import { LabvirtError, phrase, type Phrase } from '../../domain/errors.js';
import { parseImageFormat, type ImageFormat } from './image-format.js';
import type { ImageInfo } from './qemu-img.js';

export const DEFAULT_MAX_CHAIN_DEPTH = 32;

export interface ChainLayer {
  /** The path QEMU will open (absolute, as combined from the layer above). */
  readonly path: string;
  /** Where that path really leads, after symlinks. */
  readonly realPath: string;
  readonly format: ImageFormat;
  readonly virtualSize: number;
  readonly actualSize: number | undefined;
}

export interface VerifyChainOptions {
  readonly allowedDirs: readonly string[];
  /** Info of one image, without its backing (QemuImg.info, or a fake in tests). */
  readonly info: (path: string, format: ImageFormat) => Promise<ImageInfo>;
  readonly realpath?: (path: string) => Promise<string>;
  /** Most layers accepted, the top included (also what stops a backing loop). */
  readonly maxDepth?: number;
}

/** QEMU's path_has_protocol: a colon before any slash ("nbd:...", "json:{...}"). */
function hasProtocol(name: string): boolean {
  const stop = name.search(/[:/]/);
  return stop !== -1 && name[stop] === ':';
}

/** QEMU's path_combine for a file name recorded in the image at `layerPath`. */
function combine(layerPath: string, name: string): string {
  if (isAbsolute(name)) return name;
  const dir = dirname(layerPath);
  return dir.endsWith(sep) ? `${dir}${name}` : `${dir}${sep}${name}`;
}

/** Whether real path `path` lies strictly inside one of the (real) `dirs`. */
export function isInsideDirs(path: string, dirs: readonly string[]): boolean {
  return dirs.some((dir) => {
    const prefix = dir.endsWith(sep) ? dir : `${dir}${sep}`;
    return path.startsWith(prefix) && path.length > prefix.length;
  });
}

/**
 * Verifies the chain of the image at `path` (format `format`) and returns its layers, top
 * first. Throws LabvirtError: PATH_INVALID (top outside the allowed dirs),
 * IMAGE_BACKING_OUTSIDE, IMAGE_BACKING_FORMAT_MISSING, IMAGE_FORMAT_UNKNOWN,
 * IMAGE_DATA_FILE, IMAGE_CHAIN_TOO_DEEP, FILE_NOT_FOUND, FILE_UNREADABLE.
 */
export async function verifyImageChain(
  path: string,
  format: ImageFormat,
  options: VerifyChainOptions,
): Promise<ChainLayer[]> {
  const realpath = options.realpath ?? ((p: string) => fsRealpath(p));
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_CHAIN_DEPTH;
  const dirs: string[] = [];
  for (const dir of options.allowedDirs) {
    // A missing allowed directory holds nothing: skip it rather than fail the whole check.
    const real = await realpath(dir).catch(() => undefined);
    if (real !== undefined) dirs.push(real);
  }
  const lexicalDirs = [...dirs, ...options.allowedDirs.map((dir) => resolve(dir))];

  const chain: ChainLayer[] = [];
  // A relative top is taken from the cwd, without folding "..", as qemu-img would open it.
  let current = isAbsolute(path) ? path : combine(`${process.cwd()}${sep}top`, path);
  let currentFormat = format;
  // The layer that named `current` as its backing file, and the name it used.
  let parent: { path: string; backing: string } | undefined;

  for (;;) {
    if (chain.length >= maxDepth) {
      throw new LabvirtError('IMAGE_CHAIN_TOO_DEEP', { path, max: maxDepth });
    }
    const outside = (): LabvirtError =>
      parent === undefined
        ? new LabvirtError('PATH_INVALID', {
            path: current,
            reason: phrase('it is outside the allowed directories'),
          })
        : new LabvirtError('IMAGE_BACKING_OUTSIDE', parent);
    const what = phrase(parent === undefined ? 'disk image' : 'backing file');
    const realPath = await resolveReal(current, realpath, what, lexicalDirs, outside);
    if (!isInsideDirs(realPath, dirs)) throw outside();

    const info = await options.info(current, currentFormat);
    if (info.dataFile !== undefined) throw new LabvirtError('IMAGE_DATA_FILE', { path: current });
    for (const extent of info.extents ?? []) {
      await checkExtent(current, extent, realpath, dirs, lexicalDirs);
    }
    chain.push({
      path: current,
      realPath,
      format: currentFormat,
      virtualSize: info.virtualSize,
      actualSize: info.actualSize,
    });

    const backing = info.backingFilename;
    if (backing === undefined) return chain;
    if (info.backingFormat === undefined) {
      throw new LabvirtError('IMAGE_BACKING_FORMAT_MISSING', { path: current, backing });
    }
    // A protocol (nbd:, http:, json:...) is no file of ours, whatever its name.
    if (hasProtocol(backing)) {
      throw new LabvirtError('IMAGE_BACKING_OUTSIDE', { path: current, backing });
    }
    currentFormat = parseImageFormat(info.backingFormat);
    parent = { path: current, backing };
    current = combine(current, backing);
  }
}

/** A vmdk extent is opened like a backing file: same rule. Its own header is not read. */
async function checkExtent(
  layer: string,
  extent: string,
  realpath: (path: string) => Promise<string>,
  dirs: readonly string[],
  lexicalDirs: readonly string[],
): Promise<void> {
  const outside = (): LabvirtError =>
    new LabvirtError('IMAGE_BACKING_OUTSIDE', { path: layer, backing: extent });
  if (hasProtocol(extent)) throw outside();
  const target = combine(layer, extent);
  const real = await resolveReal(target, realpath, phrase('vmdk extent'), lexicalDirs, outside);
  if (!isInsideDirs(real, dirs)) throw outside();
}

/**
 * realpath with errors mapped. When the path does not resolve, say "outside" unless it at
 * least looks inside (so probing for files outside the dirs learns nothing).
 */
async function resolveReal(
  path: string,
  realpath: (path: string) => Promise<string>,
  what: Phrase,
  lexicalDirs: readonly string[],
  outside: () => LabvirtError,
): Promise<string> {
  try {
    return await realpath(path);
  } catch (error) {
    if (!isInsideDirs(resolve(path), lexicalDirs)) throw outside();
    throw fileError(path, what, error);
  }
}
