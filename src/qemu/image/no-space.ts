// Whether a failed image write ran out of space (a full file system or quota), from
// qemu-img's message or a Node errno: the store and the overlay directory each answer it
// with a code of their own (IMAGE_STORE_FULL, OVERLAY_DIR_FULL). Pure.
import { isLabvirtError, paramText } from '../../domain/errors.js';

const NO_SPACE = /No space left on device|Disk quota exceeded/i;

/** What a full disk's failure said (qemu-img's detail, or the errno); undefined for others. */
export function noSpaceDetail(error: unknown): string | undefined {
  if (isLabvirtError(error)) {
    if (error.code !== 'QEMU_IMG_FAILED') return undefined;
    const detail = paramText(error.params['detail']);
    return NO_SPACE.test(detail) ? detail : undefined;
  }
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' ? code : undefined;
}
