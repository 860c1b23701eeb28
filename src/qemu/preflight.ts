// Checks a VM request against the files it names before anything is started, so bad
// input fails with one clear line and leaves nothing behind: each disk exists, is a
// regular readable (and, unless writes are discarded, writable) file, is an image of a
// known format whose backing chain stays inside the allowed directories; the CD-ROM and
// the serial log's directory exist.
import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LabvirtError, isLabvirtError, phrase, type Phrase } from '../domain/errors.js';
import { fileError } from '../system/file-errors.js';
import type { DiskSpec } from './cmdline/vm-spec.js';
import type { VmRequest } from './cmdline/vm-options.js';
import { verifyImageChain } from './image/backing-chain.js';
import { detectImageFormat, parseImageFormat } from './image/image-format.js';
import type { QemuImg } from './image/qemu-img.js';

export interface PreflightOptions {
  readonly qemuImg: QemuImg;
  /** Where backing files may live, besides each disk's own directory. */
  readonly allowedDirs?: readonly string[];
}

export interface PreflightResult {
  readonly disks: DiskSpec[];
  readonly cdrom: string | undefined;
  readonly serialLog: string | undefined;
  readonly vncSocket: string | undefined;
}

/**
 * Opens the file the way QEMU will (read, and write unless writes are discarded), so the
 * answer is the effective user's; O_NONBLOCK keeps a FIFO from hanging the check.
 */
async function checkFile(path: string, what: Phrase, writable: boolean): Promise<void> {
  const info = await stat(path).catch((error: unknown) => {
    throw fileError(path, what, error);
  });
  if (!info.isFile()) throw new LabvirtError('FILE_NOT_REGULAR', { what, path });
  const flags = (writable ? constants.O_RDWR : constants.O_RDONLY) | constants.O_NONBLOCK;
  try {
    await (await open(path, flags)).close();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (writable && (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')) {
      // Readable but not writable is worth its own hint (--snapshot).
      const readable = await open(path, constants.O_RDONLY | constants.O_NONBLOCK).then(
        (handle) => handle.close().then(() => true),
        () => false,
      );
      if (readable) throw new LabvirtError('FILE_NOT_WRITABLE', { what, path });
    }
    throw fileError(path, what, error);
  }
}

/** `what` names the directory ("directory of the serial log"). */
async function checkDirectory(path: string, what: Phrase): Promise<void> {
  const dir = dirname(path);
  const info = await stat(dir).catch(() => undefined);
  if (info === undefined || !info.isDirectory()) {
    throw new LabvirtError('FILE_NOT_FOUND', {
      what,
      path: dir,
    });
  }
}

async function checkDisk(
  request: VmRequest['disks'][number],
  writable: boolean,
  options: PreflightOptions,
): Promise<DiskSpec> {
  const path = resolve(request.path);
  await checkFile(path, phrase('disk image'), writable);
  const format =
    request.format === undefined ? await detectImageFormat(path) : parseImageFormat(request.format);
  try {
    await verifyImageChain(path, format, {
      allowedDirs: [dirname(path), ...(options.allowedDirs ?? []).map((dir) => resolve(dir))],
      info: (layer, layerFormat) => options.qemuImg.info(layer, layerFormat, { forceShare: true }),
    });
  } catch (error) {
    // qemu-img could not make sense of the top image: the user's file is not an image.
    if (isLabvirtError(error) && error.code === 'QEMU_IMG_FAILED') {
      throw new LabvirtError('IMAGE_NOT_AN_IMAGE', {
        path,
        reason: error.params['detail'] ?? '',
      });
    }
    throw error;
  }
  return { path, format };
}

export async function preflight(
  request: VmRequest,
  options: PreflightOptions,
): Promise<PreflightResult> {
  const disks: DiskSpec[] = [];
  for (const disk of request.disks) disks.push(await checkDisk(disk, !request.snapshot, options));
  const cdrom = request.cdrom === undefined ? undefined : resolve(request.cdrom);
  if (cdrom !== undefined) await checkFile(cdrom, phrase('CD-ROM image'), false);
  const serialLog = request.serialLog === undefined ? undefined : resolve(request.serialLog);
  if (serialLog !== undefined)
    await checkDirectory(serialLog, phrase('directory of the serial log'));
  const vncSocket = request.vncSocket === undefined ? undefined : resolve(request.vncSocket);
  if (vncSocket !== undefined)
    await checkDirectory(vncSocket, phrase('directory of the VNC socket'));
  return { disks, cdrom, serialLog, vncSocket };
}
