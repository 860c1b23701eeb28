// What a failed image operation means for the store: a full file system and QEMU's image
// lock get codes of their own, so the API and the CLI can say what to do about them. Pure.
import { LabvirtError, isLabvirtError, paramText } from '../domain/errors.js';

const NO_SPACE = /No space left on device|Disk quota exceeded/i;
const LOCKED = /Failed to get [^:]*lock|Is another process using the image/i;

export interface FailureContext {
  readonly root: string;
  readonly operation: string;
  readonly path: string;
}

function errnoCode(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Maps `error` to IMAGE_STORE_FULL or IMAGE_IN_USE when that is what it is; else returns it. */
export function storeFailure(error: unknown, context: FailureContext): unknown {
  if (isLabvirtError(error)) {
    if (error.code !== 'QEMU_IMG_FAILED') return error;
    const detail = paramText(error.params['detail']);
    if (NO_SPACE.test(detail)) {
      return new LabvirtError(
        'IMAGE_STORE_FULL',
        { root: context.root, operation: context.operation, detail },
        { cause: error },
      );
    }
    if (LOCKED.test(detail)) {
      return new LabvirtError('IMAGE_IN_USE', { path: context.path, detail }, { cause: error });
    }
    return error;
  }
  const code = errnoCode(error);
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new LabvirtError(
      'IMAGE_STORE_FULL',
      { root: context.root, operation: context.operation, detail: code },
      { cause: error },
    );
  }
  return error;
}
