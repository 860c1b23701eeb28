// Subnets in CIDR notation (IPv4 and IPv6): parsed and normalised (host bits cleared,
// IPv6 in its RFC 5952 form), and the most specific of a set of rules that matches an
// address (an IPv4-mapped IPv6 address, '::ffff:10.1.2.3', is the IPv4 address it maps).
import { isIP } from 'node:net';
import { LabvirtError } from './errors.js';

export interface Cidr {
  readonly family: 4 | 6;
  /** The network address (host bits cleared). */
  readonly network: bigint;
  readonly prefix: number;
  /** Normalised text, e.g. '10.1.2.0/24', 'fd00::/64'. */
  readonly text: string;
}

export interface Address {
  readonly family: 4 | 6;
  readonly value: bigint;
}

const bits = (family: 4 | 6) => (family === 4 ? 32 : 128);

function ipv4Value(text: string): bigint {
  return text.split('.').reduce((value, octet) => (value << 8n) | BigInt(Number(octet)), 0n);
}

function ipv6Value(text: string): bigint {
  let groups: string[];
  // An IPv4 tail ('::ffff:10.1.2.3') is two groups.
  const tail = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let source = text;
  if (tail?.[1] !== undefined && tail[2] !== undefined) {
    const v4 = ipv4Value(tail[2]);
    source = `${tail[1]}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, rest] = source.split('::') as [string, string | undefined];
  if (rest === undefined) groups = head.split(':');
  else {
    const left = head === '' ? [] : head.split(':');
    const right = rest === '' ? [] : rest.split(':');
    groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  }
  return groups.reduce((value, group) => (value << 16n) | BigInt(parseInt(group, 16)), 0n);
}

function formatIpv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}

/** RFC 5952: lowercase, no leading zeros, the longest run of two or more zero groups as '::'. */
function formatIpv6(value: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) =>
    Number((value >> BigInt((7 - i) * 16)) & 0xffffn),
  );
  let best = { start: -1, length: 0 };
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < 8 && groups[end] === 0) end++;
    if (end - i > best.length && end - i >= 2) best = { start: i, length: end - i };
    i = end;
  }
  const hex = groups.map((group) => group.toString(16));
  if (best.start < 0) return hex.join(':');
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.length).join(':')}`;
}

/** An address as text in its normal form (IPv4-mapped IPv6 as IPv4). */
export function formatAddress(address: Address): string {
  return address.family === 4 ? formatIpv4(address.value) : formatIpv6(address.value);
}

/** An IP address, or undefined when the text is none; IPv4-mapped IPv6 becomes IPv4. */
export function parseAddress(text: string): Address | undefined {
  // A zone ('fe80::1%eth0') names an interface of the machine that wrote it: not ours.
  if (text.includes('%')) return undefined;
  const family = isIP(text);
  if (family === 4) return { family: 4, value: ipv4Value(text) };
  if (family !== 6) return undefined;
  const value = ipv6Value(text);
  if (value >> 32n === 0xffffn) return { family: 4, value: value & 0xffffffffn };
  return { family: 6, value };
}

/** The normal form of an IP address, or IP_INVALID naming `field`. */
export function normalizeAddress(text: string, field = 'ip'): string {
  const address = parseAddress(text);
  if (address === undefined) throw new LabvirtError('IP_INVALID', { ip: text }, { field });
  return formatAddress(address);
}

/**
 * 'ADDRESS/PREFIX' → the subnet, host bits cleared ('10.1.2.3/24' is 10.1.2.0/24); an
 * address alone is a single-host subnet. SUBNET_INVALID naming `field` otherwise.
 */
export function parseCidr(text: string, field = 'subnets'): Cidr {
  const bad = () => new LabvirtError('SUBNET_INVALID', { cidr: text }, { field });
  const match = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(text.trim());
  const host = match?.[1];
  if (match === null || host === undefined) throw bad();
  const family = isIP(host);
  if ((family !== 4 && family !== 6) || host.includes('%')) throw bad();
  const size = bits(family);
  const prefix = match[2] === undefined ? size : Number(match[2]);
  if (prefix > size) throw bad();
  const value = family === 4 ? ipv4Value(host) : ipv6Value(host);
  const hostBits = BigInt(size - prefix);
  const network = (value >> hostBits) << hostBits;
  const address = formatAddress({ family, value: network });
  return { family, network, prefix, text: `${address}/${prefix}` };
}

/** Whether the subnet holds the address (IPv4-mapped IPv6 addresses as IPv4). */
export function cidrContains(cidr: Cidr, address: Address): boolean {
  if (cidr.family !== address.family) return false;
  const hostBits = BigInt(bits(cidr.family) - cidr.prefix);
  return (address.value >> hostBits) << hostBits === cidr.network;
}

/**
 * The most specific rule (longest prefix) whose subnet holds `ip`; undefined when none
 * does or `ip` is not an address. Rules whose CIDR does not parse are ignored.
 */
export function labForAddress<R extends { readonly cidr: string }>(
  rules: readonly R[],
  ip: string,
): R | undefined {
  const address = parseAddress(ip);
  if (address === undefined) return undefined;
  let best: { rule: R; prefix: number } | undefined;
  for (const rule of rules) {
    let cidr: Cidr;
    try {
      cidr = parseCidr(rule.cidr);
    } catch {
      continue;
    }
    if (cidrContains(cidr, address) && (best === undefined || cidr.prefix > best.prefix))
      best = { rule, prefix: cidr.prefix };
  }
  return best?.rule;
}
