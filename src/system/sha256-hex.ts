// sha256 of a text, lowercase hex: how secrets and tokens are kept (never the secret itself).
import { createHash } from 'node:crypto';

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
