// The pure parts of exposing a VM's display to terminals: where the gateway relays to,
// which ports it tries, what a ticket looks like and the QMP commands that set or burn it,
// and how the gateway's connections and QEMU's own client list make one list.
import type { AgentDisplaySpec, DisplayConnection, DisplayProtocol } from './host-agent.js';

export const DEFAULT_RDP_PORT = 3389;

/**
 * Where a gateway connection goes: a display's Unix socket, or a TCP port at an IPv4
 * address (QEMU's loopback forward of a guest's port, or a bridged guest's own address).
 */
export type GatewayTarget =
  { readonly path: string } | { readonly host: string; readonly port: number };

/** What the agent notes in the VM's run directory to re-open its gateway after a restart. */
export interface GatewayRecord {
  readonly display: AgentDisplaySpec;
  /** The gateway's TCP port (tried again first on re-adoption). */
  readonly port: number;
  /** rdp: the loopback port QEMU forwards to the guest's port. */
  readonly hostPort?: number | undefined;
  /**
   * rdp on a bridged host: the guest's own address (its DHCP address), relayed to at the
   * display's guest port instead of a QEMU forward; connection tracking watches it too.
   */
  readonly guestAddress?: string | undefined;
}

export interface PortRange {
  readonly from: number;
  readonly to: number;
}

export function gatewayTarget(
  protocol: DisplayProtocol,
  sockets: { readonly vnc: string; readonly spice: string },
  hostPort: number | undefined,
  guestAddress?: string,
  guestPort: number = DEFAULT_RDP_PORT,
): GatewayTarget {
  switch (protocol) {
    case 'vnc':
      return { path: sockets.vnc };
    case 'spice':
      return { path: sockets.spice };
    case 'rdp':
      if (guestAddress !== undefined) return { host: guestAddress, port: guestPort };
      if (hostPort === undefined) throw new Error('an rdp gateway needs its forwarded port');
      return { host: '127.0.0.1', port: hostPort };
  }
}

/**
 * The ports a gateway tries, in order: the one it had (after an agent restart, so
 * terminals told of it still reach it), then the range, or any free port (0).
 */
export function portCandidates(range: PortRange | undefined, preferred?: number): number[] {
  const rest: number[] = [];
  if (range === undefined) rest.push(0);
  else for (let port = range.from; port <= range.to; port++) rest.push(port);
  if (preferred === undefined || preferred === 0) return rest;
  return [preferred, ...rest.filter((port) => port !== preferred)];
}

/** 64 characters, so each random byte's low 6 bits pick one without bias; no quoting needed. */
export const TICKET_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** VNC authentication only uses a password's first 8 characters; SPICE takes up to 60. */
export const TICKET_LENGTH: Record<'vnc' | 'spice', number> = { vnc: 8, spice: 24 };

export function ticketFromBytes(bytes: Uint8Array): string {
  return [...bytes].map((byte) => TICKET_ALPHABET[byte & 63]).join('');
}

export interface QmpCall {
  readonly command: string;
  readonly args: Record<string, unknown>;
}

/** Sets the password, valid for ttlSeconds (QEMU's relative time "+N"). */
export function ticketCalls(
  protocol: 'vnc' | 'spice',
  password: string,
  ttlSeconds: number,
): QmpCall[] {
  // Never "+0" (QEMU reads 0 as "never expires"); a nonsense TTL gets the shortest.
  const seconds = Number.isFinite(ttlSeconds) ? Math.max(1, Math.floor(ttlSeconds)) : 1;
  return [
    { command: 'set_password', args: { protocol, password } },
    { command: 'expire_password', args: { protocol, time: `+${seconds}` } },
  ];
}

/**
 * Ends a used ticket. QEMU checks expiry with one-second resolution, so "now" alone
 * would let a second client in within the same second: the password is replaced by one
 * nobody knows first.
 */
export function burnCalls(protocol: 'vnc' | 'spice', unknownPassword: string): QmpCall[] {
  return [
    { command: 'set_password', args: { protocol, password: unknownPassword } },
    { command: 'expire_password', args: { protocol, time: 'now' } },
  ];
}

/** One connection the gateway relays: who, since when, whether it reached QEMU, bytes. */
export interface GatewayConnection {
  readonly peer: string;
  readonly since: string;
  readonly relayed: boolean;
  /** Bytes from the terminal to the VM, and back. */
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/** What the gateway relays now, per display socket it relays to. */
export interface GatewayView {
  readonly protocol: DisplayProtocol;
  readonly connections: readonly GatewayConnection[];
}

/** QEMU's own view (query-vnc, query-spice): how many clients each display socket has. */
export interface QemuClients {
  /** Clients of the VNC socket (the console's, and the gateway's for a vnc display). */
  readonly vnc: number;
  /** SPICE sessions (distinct connection ids; one client opens several channels). */
  readonly spice: number;
}

/**
 * How many of QEMU's clients the gateway does not account for (the web console on the
 * Unix socket, say). A gateway connection already relayed to QEMU shows there too (as a
 * Unix socket peer), so it is counted off: each client is listed once, under the
 * gateway's peer address.
 */
export function unaccounted(gateway: GatewayView | undefined, qemu: QemuClients): QemuClients {
  const relayed = gateway?.connections.filter((c) => c.relayed) ?? [];
  const through = {
    vnc: gateway?.protocol === 'vnc' ? relayed.length : 0,
    // One SPICE client = several channels, each its own TCP connection from one host.
    spice: gateway?.protocol === 'spice' ? new Set(relayed.map((c) => hostOf(c.peer))).size : 0,
  };
  return {
    vnc: Math.max(0, qemu.vnc - through.vnc),
    spice: Math.max(0, qemu.spice - through.spice),
  };
}

/**
 * The gateway's connections, then one entry per client only QEMU knows of, by the time
 * it was first seen (`since`, one per unaccounted client, kept by trackSince).
 */
export function mergeConnections(
  gateway: GatewayView | undefined,
  since: { readonly vnc: readonly string[]; readonly spice: readonly string[] },
): DisplayConnection[] {
  const list: DisplayConnection[] = (gateway?.connections ?? []).map((c) => ({
    peer: c.peer,
    since: c.since,
    via: 'gateway',
    bytesIn: c.bytesIn,
    bytesOut: c.bytesOut,
  }));
  for (const kind of ['vnc', 'spice'] as const) {
    for (const at of since[kind]) list.push({ peer: `unix:${kind}`, since: at, via: 'display' });
  }
  return list;
}

/** 'a.b.c.d:port' or '[v6]:port' without the port. */
function hostOf(peer: string): string {
  return peer.slice(0, peer.lastIndexOf(':'));
}

export function formatPeer(address: string | undefined, port: number | undefined): string {
  const host = address ?? '?';
  return `${host.includes(':') ? `[${host}]` : host}:${port ?? 0}`;
}

/** Keeps first-seen times for clients known only by count: grows and shrinks at the end. */
export function trackSince(previous: readonly string[], count: number, now: string): string[] {
  const kept = previous.slice(0, count);
  while (kept.length < count) kept.push(now);
  return kept;
}
