// The DHCP host entries of terminals' VMs, and the files DHCP servers read them from:
// dnsmasq's --dhcp-hostsfile ('MAC,IP,NAME' a line) and ISC dhcpd's host declarations.
// Pure: the names are made valid host names here, and unique.
import { ipv4Number } from './address-pool.js';

export interface DhcpHostInput {
  readonly lab: string;
  /** The terminal's own MAC (it names the terminal). */
  readonly terminal: string;
  readonly terminalName: string;
  /** The MAC of the terminal's VM (terminalVmMac). */
  readonly mac: string;
  readonly ip: string;
}

export interface DhcpHostEntry {
  readonly lab: string;
  readonly terminal: string;
  readonly mac: string;
  readonly ip: string;
  /** A valid host name (RFC 1123 label), unique among the entries. */
  readonly name: string;
}

export const dhcpFormats = ['json', 'dnsmasq', 'dhcpd'] as const;
export type DhcpFormat = (typeof dhcpFormats)[number];

const MAX_LABEL = 63;

/**
 * A host name for the terminal: its name as one DNS label (lowercase letters, digits and
 * '-', accents dropped, other characters as '-'), or t-MAC (without colons) when it has
 * no name of its own (it is named by its MAC) or nothing of the name is left.
 */
export function hostName(name: string, terminalMac: string): string {
  const fallback = `t-${terminalMac.toLowerCase().replaceAll(':', '')}`;
  if (name.toLowerCase() === terminalMac.toLowerCase()) return fallback;
  const label = name
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, MAX_LABEL)
    .replace(/-+$/, '');
  return label === '' ? fallback : label;
}

/**
 * The entries, ordered by address; a name already given to an entry before gets the VM's
 * MAC (without colons) appended, so every name is unique.
 */
export function dhcpHostEntries(inputs: readonly DhcpHostInput[]): DhcpHostEntry[] {
  const sorted = [...inputs].sort(
    (a, b) => ipOrder(a.ip) - ipOrder(b.ip) || (a.mac < b.mac ? -1 : 1),
  );
  const used = new Set<string>();
  return sorted.map((input) => {
    let name = hostName(input.terminalName, input.terminal);
    if (used.has(name)) {
      const suffix = `-${input.mac.replaceAll(':', '')}`;
      name = `${name.slice(0, MAX_LABEL - suffix.length).replace(/-+$/, '')}${suffix}`;
    }
    used.add(name);
    return { lab: input.lab, terminal: input.terminal, mac: input.mac, ip: input.ip, name };
  });
}

/** Entries come from pools, so their addresses are IPv4; anything else sorts first. */
function ipOrder(ip: string): number {
  return ipv4Number(ip) ?? -1;
}

/** dnsmasq's --dhcp-hostsfile: one 'MAC,IP,NAME' a line. */
export function formatDnsmasq(entries: readonly DhcpHostEntry[]): string {
  return entries.map((entry) => `${entry.mac},${entry.ip},${entry.name}\n`).join('');
}

/** ISC dhcpd: one host declaration a line, to include in dhcpd.conf. */
export function formatDhcpd(entries: readonly DhcpHostEntry[]): string {
  return entries
    .map(
      (entry) =>
        `host ${entry.name} { hardware ethernet ${entry.mac}; fixed-address ${entry.ip}; }\n`,
    )
    .join('');
}
