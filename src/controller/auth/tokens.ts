// Secrets handed to clients (session cookies, API tokens) are random 256-bit values;
// only their SHA-256 is stored, so a database leak gives no usable credential.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { sha256Hex } from '../../system/sha256-hex.js';

export const API_TOKEN_PREFIX = 'lvt_';

export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function newApiToken(): string {
  return `${API_TOKEN_PREFIX}${newSecret()}`;
}

/** How tokens and secrets are stored: their sha256 (the token itself is never kept). */
export const hashSecret = sha256Hex;

export function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
