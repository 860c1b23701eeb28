// The agent API's one credential: the controller secret agent.json holds the sha256 of.
// Compared as hashes in constant time, so neither its length nor a prefix leaks.
import { createHash, timingSafeEqual } from 'node:crypto';
import { sha256Hex } from '../../system/sha256-hex.js';

export { sha256Hex };

/** The token of an `Authorization: Bearer <token>` header; undefined for anything else. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer ([\x21-\x7e]+)$/i.exec(header?.trim() ?? '');
  return match?.[1];
}

/**
 * True when the header carries the secret whose sha256 (hex) is `expectedHash`; always
 * false while there is none (an agent that has not joined yet serves nobody).
 */
export function bearerMatches(header: string | undefined, expectedHash: string | undefined) {
  const token = bearerToken(header);
  if (token === undefined || expectedHash === undefined) return false;
  const expected = Buffer.from(expectedHash.toLowerCase(), 'hex');
  const given = createHash('sha256').update(token, 'utf8').digest();
  return expected.length === given.length && timingSafeEqual(expected, given);
}
