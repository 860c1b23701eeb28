// What a failed image operation means for the store: a full file system and QEMU's image
// lock get codes of their own, so the API and the CLI can say what to do about them. Pure.
import { LabvirtError, isLabvirtError, paramText } from '../domain/errors.js';
import { noSpaceDetail } from '../qemu/image/no-space.js';

const LOCKED = /Failed to get [^:]*lock|Is another process using the image/i;

export interface FailureContext {
  readonly root: string;
  readonly operation: string;
  readonly path: string;
}

/** Maps `error` to IMAGE_STORE_FULL or IMAGE_IN_USE when that is what it is; else returns it. */
export function storeFailure(error: unknown, context: FailureContext): unknown {
  const detail = noSpaceDetail(error);
  if (detail !== undefined) {
    return new LabvirtError(
      'IMAGE_STORE_FULL',
      { root: context.root, operation: context.operation, detail },
      { cause: error },
    );
  }
  if (isLabvirtError(error) && error.code === 'QEMU_IMG_FAILED') {
    const detail = paramText(error.params['detail']);
    if (LOCKED.test(detail)) {
      return new LabvirtError('IMAGE_IN_USE', { path: context.path, detail }, { cause: error });
    }
  }
  return error;
}
