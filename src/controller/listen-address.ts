// The server's --listen and --trust-proxy values, and what its listening address means.
import { isIP } from 'node:net';
import { LabvirtError } from '../domain/errors.js';
import { isHostName } from '../domain/host-name.js';

export interface ListenAddress {
  readonly host: string;
  /** 0 asks the system for a free port. */
  readonly port: number;
}

export const DEFAULT_LISTEN = '127.0.0.1:8080';

/** "127.0.0.1:8080", "[::1]:8080", "localhost:8080", "0.0.0.0:443". */
export function parseListen(value: string): ListenAddress {
  const invalid = () => new LabvirtError('LISTEN_INVALID', { value });
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):([0-9]{1,5})$/.exec(value);
  if (!match) throw invalid();
  const [, v6, other = '', portText = ''] = match;
  const port = Number(portText);
  if (port > 65535) throw invalid();
  if (v6 !== undefined) {
    if (isIP(v6) !== 6) throw invalid();
    return { host: v6, port };
  }
  if (isIP(other) !== 4 && !isHostName(other)) throw invalid();
  return { host: other, port };
}

/** The URL of a listening address: IPv6 in brackets. */
export function listenUrl(scheme: 'http' | 'https', host: string, port: number): string {
  return `${scheme}://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

const proxyNames = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * --trust-proxy: a number of proxy hops in front of LabVirt, or a comma-separated list of
 * proxy addresses, CIDR ranges or the names loopback, linklocal, uniquelocal. Trusting
 * everyone is not offered: any client could then claim any address.
 */
export function parseTrustProxy(value: string): number | string[] {
  const invalid = () => new LabvirtError('TRUST_PROXY_INVALID', { value });
  const text = value.trim();
  if (/^[0-9]{1,2}$/.test(text)) {
    const hops = Number(text);
    if (hops < 1) throw invalid();
    return hops;
  }
  const entries = text.split(',').map((entry) => entry.trim());
  for (const entry of entries) {
    if (proxyNames.has(entry)) continue;
    const [address = '', bits, ...rest] = entry.split('/');
    const family = isIP(address);
    if (family === 0 || rest.length > 0) throw invalid();
    if (bits !== undefined) {
      if (!/^[0-9]{1,3}$/.test(bits) || Number(bits) > (family === 4 ? 32 : 128)) throw invalid();
    }
  }
  return entries;
}
