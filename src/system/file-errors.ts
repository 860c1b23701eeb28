// One mapping from what the file system says (errno) to LabVirt's errors about a file.
import { LabvirtError, phrase, type Phrase } from '../domain/errors.js';

const reasons: Readonly<Record<string, Phrase>> = {
  EACCES: phrase('permission denied'),
  EPERM: phrase('permission denied'),
  EROFS: phrase('read-only file system'),
  ETXTBSY: phrase('file busy'),
  EIO: phrase('input/output error'),
};

/** `what` names the file for the user ("disk image", "backing file"...). */
export function fileError(path: string, what: string | Phrase, error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case undefined:
      return error;
    case 'ENOENT':
    case 'ENOTDIR':
    case 'ELOOP':
      return new LabvirtError('FILE_NOT_FOUND', { what, path }, { cause: error });
    case 'EISDIR':
      return new LabvirtError('FILE_NOT_REGULAR', { what, path }, { cause: error });
    default:
      return new LabvirtError(
        'FILE_UNREADABLE',
        { what, path, reason: reasons[code] ?? code },
        { cause: error },
      );
  }
}
