// A lab's address pool: the IPv4 addresses its terminals' VMs are given by DHCP, written as
// a range ('10.0.0.10-10.0.0.99') or a subnet ('10.0.0.0/24': its host addresses, without
// the network and broadcast addresses). Pure: parsing, overlap, and choosing addresses.
import { isIP } from 'node:net';
import { LabvirtError, phrase, type Phrase } from './errors.js';

/** The most addresses a pool may hold (a /16): enough for any lab, small enough to scan. */
export const MAX_POOL_SIZE = 65_536;

export interface AddressPool {
  /** The first and last address as unsigned 32-bit numbers. */
  readonly first: number;
  readonly last: number;
  readonly size: number;
  /** Normalised: 'FIRST-LAST'. */
  readonly text: string;
}

/** An IPv4 address (dotted quad) as a number, or undefined when the text is none. */
export function ipv4Number(text: string): number | undefined {
  if (isIP(text) !== 4) return undefined;
  return text.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);
}

export function ipv4Text(value: number): string {
  return [24, 16, 8, 0].map((shift) => String(Math.floor(value / 2 ** shift) % 256)).join('.');
}

/** The pool `text` writes, or POOL_INVALID naming `field` and saying why. */
export function parsePool(text: string, field = 'pool'): AddressPool {
  const bad = (reason: Phrase) =>
    new LabvirtError('POOL_INVALID', { pool: text, reason, max: MAX_POOL_SIZE }, { field });
  const trimmed = text.trim();
  let first: number | undefined;
  let last: number | undefined;
  const subnet = /^([^/]+)\/(\d{1,2})$/.exec(trimmed);
  const range = /^([^-\s]+)\s*-\s*([^-\s]+)$/.exec(trimmed);
  if (subnet?.[1] !== undefined && subnet[2] !== undefined) {
    const address = ipv4Number(subnet[1]);
    const prefix = Number(subnet[2]);
    if (address === undefined || prefix > 32) throw bad(phrase('not an IPv4 range or subnet'));
    const block = 2 ** (32 - prefix);
    const network = address - (address % block);
    // The network and broadcast addresses are no host's (except in /31 and /32).
    const ends = prefix <= 30 ? 1 : 0;
    first = network + ends;
    last = network + block - 1 - ends;
  } else if (range?.[1] !== undefined && range[2] !== undefined) {
    first = ipv4Number(range[1]);
    last = ipv4Number(range[2]);
    if (first === undefined || last === undefined) throw bad(phrase('not an IPv4 range or subnet'));
    if (first > last)
      throw bad(
        phrase('the range is reversed: {first} comes after {last}', {
          first: range[1],
          last: range[2],
        }),
      );
  } else throw bad(phrase('not an IPv4 range or subnet'));
  const size = last - first + 1;
  if (size > MAX_POOL_SIZE) throw bad(phrase('it holds {size} addresses', { size }));
  return { first, last, size, text: `${ipv4Text(first)}-${ipv4Text(last)}` };
}

export function poolsOverlap(a: AddressPool, b: AddressPool): boolean {
  return a.first <= b.last && b.first <= a.last;
}

export function poolContains(pool: AddressPool, ip: string): boolean {
  const value = ipv4Number(ip);
  return value !== undefined && value >= pool.first && value <= pool.last;
}

/**
 * The `count` lowest addresses of the pool not in `taken`, in order; undefined when the
 * pool has fewer free ones.
 */
export function lowestFree(
  pool: AddressPool,
  taken: Iterable<string>,
  count: number,
): string[] | undefined {
  const used = new Set<number>();
  for (const ip of taken) {
    const value = ipv4Number(ip);
    if (value !== undefined) used.add(value);
  }
  const chosen: string[] = [];
  for (let value = pool.first; value <= pool.last && chosen.length < count; value++) {
    if (!used.has(value)) chosen.push(ipv4Text(value));
  }
  return chosen.length === count ? chosen : undefined;
}
