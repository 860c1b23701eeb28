// Disk image formats. LabVirt always tells qemu-img and QEMU the format of every image:
// letting QEMU probe means a guest that writes a qcow2 header into its raw disk could make
// the next boot read any host file as its backing. The image store records each image's
// format; the header detection below exists only for manual command-line use (say,
// `labvirt run --disk installer.img`), and it is deliberately conservative.
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { LabvirtError, phrase } from '../../domain/errors.js';
import { fileError } from '../../system/file-errors.js';

export const imageFormats = ['qcow2', 'raw', 'vmdk', 'vdi', 'vhdx'] as const;
export type ImageFormat = (typeof imageFormats)[number];

/** How many leading bytes detection needs (every signature we look at lies within them). */
export const HEADER_BYTES = 512;
const SECTOR_BYTES = 512;

const QCOW2_MAGIC = Buffer.from([0x51, 0x46, 0x49, 0xfb]); // "QFI\xfb"
const VMDK_MAGIC = Buffer.from('KDMV', 'latin1'); // hosted sparse extent
const VHDX_MAGIC = Buffer.from('vhdxfile', 'latin1');
const VDI_SIGNATURE_OFFSET = 0x40;
const VDI_SIGNATURE = 0xbeda107f;

export function isImageFormat(value: string): value is ImageFormat {
  return (imageFormats as readonly string[]).includes(value);
}

export function parseImageFormat(value: string): ImageFormat {
  const format = value.trim().toLowerCase();
  if (!isImageFormat(format)) {
    throw new LabvirtError(
      'IMAGE_FORMAT_UNKNOWN',
      { format: value, allowed: imageFormats.join(', ') },
      { field: 'format' },
    );
  }
  return format;
}

function startsWith(header: Buffer, magic: Buffer): boolean {
  return header.length >= magic.length && header.subarray(0, magic.length).equals(magic);
}

/**
 * The format of an image from its first bytes (`header`, up to HEADER_BYTES) and its size.
 * Only unambiguous signatures count; anything else is raw when it is a whole number of
 * sectors, and otherwise not a disk image at all (a text file, a truncated download...).
 * Note that a raw disk whose guest wrote a qcow2 header is reported as qcow2: this is why
 * stored images are never re-detected, their recorded format is used.
 */
export function detectFormatFromHeader(
  header: Buffer,
  size: number,
  path = '(header)',
): ImageFormat {
  if (startsWith(header, QCOW2_MAGIC)) return 'qcow2';
  if (startsWith(header, VMDK_MAGIC)) return 'vmdk';
  if (startsWith(header, VHDX_MAGIC)) return 'vhdx';
  if (
    header.length >= VDI_SIGNATURE_OFFSET + 4 &&
    header.readUInt32LE(VDI_SIGNATURE_OFFSET) === VDI_SIGNATURE
  ) {
    return 'vdi';
  }
  if (size === 0)
    throw new LabvirtError('IMAGE_NOT_AN_IMAGE', { path, reason: phrase('it is empty') });
  if (size % SECTOR_BYTES !== 0) {
    throw new LabvirtError('IMAGE_NOT_AN_IMAGE', {
      path,
      reason: phrase('its size {size} bytes is not a whole number of {sector}-byte sectors', {
        size,
        sector: SECTOR_BYTES,
      }),
    });
  }
  return 'raw';
}

const WHAT = phrase('disk image');

/** Reads the header of the file at `path` and detects its format (manual CLI use only). */
export async function detectImageFormat(path: string): Promise<ImageFormat> {
  let handle: FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO must not hang; fstat then rejects it as not regular.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw fileError(path, WHAT, error);
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new LabvirtError('FILE_NOT_REGULAR', { what: WHAT, path });
    const header = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await handle.read(header, 0, HEADER_BYTES, 0);
    return detectFormatFromHeader(header.subarray(0, bytesRead), stats.size, path);
  } catch (error) {
    throw error instanceof LabvirtError ? error : fileError(path, WHAT, error);
  } finally {
    await handle.close();
  }
}
