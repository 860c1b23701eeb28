// The gateway daemon's control protocol (pure): one JSON object per line over a Unix
// socket of the run directory, each request with an id its answer repeats. The daemon holds
// the VMs' gateway listeners and relayed connections, so they outlive the agent; the agent
// opens, closes and lists them. Every request is checked field by field: a malformed one
// gets an error answer, never a crash (the daemon runs as the agent's user, but still).
import net from 'node:net';
import { basename, join } from 'node:path';
import { parseVmName } from '../qemu/cmdline/validate.js';
import type { GatewayConnection, GatewayTarget } from './display-plan.js';
import type { DisplayProtocol } from './host-agent.js';

/** The compiled daemon's file name, next to this module. */
export const DAEMON_FILE = 'gateway-daemon.js';
/** Far above any real request (a range of every port is ~400 KB). */
export const MAX_LINE_LENGTH = 1024 * 1024;
/** A Unix socket path's limit (sun_path, with its terminating NUL). */
const MAX_SOCKET_PATH = 107;

export interface GatewayDaemonPaths {
  readonly socket: string;
  readonly pidfile: string;
  readonly log: string;
}

export function gatewayDaemonPaths(runDir: string): GatewayDaemonPaths {
  return {
    socket: join(runDir, 'gateway.sock'),
    pidfile: join(runDir, 'gateway.pid'),
    log: join(runDir, 'gateway.log'),
  };
}

/** The argv the daemon of runDir runs with: node, the daemon module, the run directory. */
export function isDaemonArgv(argv: readonly string[], runDir: string): boolean {
  return argv.length === 3 && basename(argv[1] ?? '') === DAEMON_FILE && argv[2] === runDir;
}

export interface OpenListener {
  readonly vm: string;
  readonly protocol: DisplayProtocol;
  readonly bind: string;
  /** Ports to try in order (0: any free port), as portCandidates gives them. */
  readonly ports: readonly number[];
  readonly target: GatewayTarget;
}

export type GatewayRequest =
  | ({ readonly id: number; readonly op: 'open' } & OpenListener)
  | { readonly id: number; readonly op: 'close'; readonly vm: string }
  | { readonly id: number; readonly op: 'list'; readonly vm?: string | undefined };

/** A listener as the daemon lists it. */
export interface ListenerInfo extends OpenListener {
  readonly port: number;
  readonly connections: readonly GatewayConnection[];
}

export interface GatewayFailure {
  /** GATEWAY_NO_PORT (params: bind, ports), BAD_REQUEST or FAILED. */
  readonly code: string;
  readonly message: string;
  readonly params?: Readonly<Record<string, string>> | undefined;
}

export type GatewayResponse =
  | { readonly id: number; readonly ok: true; readonly port: number }
  | { readonly id: number; readonly ok: true; readonly listeners: readonly ListenerInfo[] }
  | { readonly id: number; readonly ok: true }
  | { readonly id: number | null; readonly ok: false; readonly error: GatewayFailure };

export function encode(message: GatewayRequest | GatewayResponse): string {
  return `${JSON.stringify(message)}\n`;
}

export type Decoded<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly id: number | null; readonly message: string };

const PROTOCOLS: readonly string[] = ['vnc', 'spice', 'rdp'];
const FIELDS: Record<GatewayRequest['op'], readonly string[]> = {
  open: ['id', 'op', 'vm', 'protocol', 'bind', 'ports', 'target'],
  close: ['id', 'op', 'vm'],
  list: ['id', 'op', 'vm'],
};

class Malformed extends Error {}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Malformed(message);
}

function validId(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPort(value: unknown, min: number): value is number {
  return Number.isInteger(value) && (value as number) >= min && (value as number) <= 65535;
}

function vmName(value: unknown): string {
  check(typeof value === 'string', 'vm must be a string');
  try {
    return parseVmName(value);
  } catch {
    throw new Malformed(`vm is not a VM name: ${JSON.stringify(value.slice(0, 80))}`);
  }
}

function target(value: unknown): GatewayTarget {
  check(isRecord(value), 'target must be an object');
  const keys = Object.keys(value).sort().join(',');
  if (keys === 'path') {
    const path = value['path'];
    check(
      typeof path === 'string' &&
        path.startsWith('/') &&
        !path.includes('\0') &&
        Buffer.byteLength(path) <= MAX_SOCKET_PATH,
      'target.path must be an absolute Unix socket path',
    );
    return { path };
  }
  check(keys === 'host,port', 'target must be {path} or {host, port}');
  check(
    net.isIPv4(String(value['host'])) && typeof value['host'] === 'string',
    'target.host must be an IPv4 address',
  );
  check(isPort(value['port'], 1), 'target.port must be a port (1-65535)');
  return { host: value['host'], port: value['port'] };
}

function request(value: unknown): GatewayRequest {
  check(isRecord(value), 'a request is a JSON object');
  const id = value['id'];
  check(validId(id), 'id must be a non-negative integer');
  const op = value['op'];
  check(typeof op === 'string' && Object.hasOwn(FIELDS, op), 'op must be open, close or list');
  const allowed = FIELDS[op as GatewayRequest['op']];
  const extra = Object.keys(value).filter((key) => !allowed.includes(key));
  check(extra.length === 0, `unknown field ${extra[0]}`);
  const base = { id: id as number };
  switch (op as GatewayRequest['op']) {
    case 'close':
      return { ...base, op: 'close', vm: vmName(value['vm']) };
    case 'list':
      return value['vm'] === undefined
        ? { ...base, op: 'list' }
        : { ...base, op: 'list', vm: vmName(value['vm']) };
    case 'open': {
      const protocol = value['protocol'];
      check(
        typeof protocol === 'string' && PROTOCOLS.includes(protocol),
        'protocol must be vnc, spice or rdp',
      );
      const bind = value['bind'];
      check(typeof bind === 'string' && net.isIP(bind) !== 0, 'bind must be an IP address');
      const ports = value['ports'];
      check(
        Array.isArray(ports) &&
          ports.length > 0 &&
          ports.length <= 65536 &&
          ports.every((port) => isPort(port, 0)),
        'ports must be a non-empty list of ports (0-65535)',
      );
      return {
        ...base,
        op: 'open',
        vm: vmName(value['vm']),
        protocol: protocol as DisplayProtocol,
        bind,
        ports: ports as number[],
        target: target(value['target']),
      };
    }
  }
}

/** A request line, checked; or why not (with its id when one could be read). */
export function decodeRequest(line: string): Decoded<GatewayRequest> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, id: null, message: 'not JSON' };
  }
  try {
    return { ok: true, value: request(value) };
  } catch (error) {
    // Anything else is a bug here, still answered rather than taking the daemon down.
    const message = error instanceof Malformed ? error.message : 'invalid request';
    const id = isRecord(value) && validId(value['id']) ? value['id'] : null;
    return { ok: false, id, message };
  }
}

/**
 * An answer line as the agent reads it: only its frame is checked (the daemon is the
 * agent's own program); the fields of a result are the daemon's.
 */
export function decodeResponse(line: string): Decoded<GatewayResponse> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, id: null, message: 'not JSON' };
  }
  if (!isRecord(value) || typeof value['ok'] !== 'boolean') {
    return { ok: false, id: null, message: 'not an answer' };
  }
  const id = value['id'];
  if (value['ok'] === false) {
    const error = value['error'];
    if (!isRecord(error) || typeof error['code'] !== 'string') {
      return { ok: false, id: null, message: 'an error answer without a code' };
    }
  } else if (!Number.isSafeInteger(id)) {
    return { ok: false, id: null, message: 'an answer without an id' };
  }
  return { ok: true, value: value as unknown as GatewayResponse };
}

/** Whether an open request asks for the listener that is already there (it is kept). */
export function sameListener(a: OpenListener, b: OpenListener): boolean {
  return (
    a.vm === b.vm &&
    a.protocol === b.protocol &&
    a.bind === b.bind &&
    JSON.stringify(targetKey(a.target)) === JSON.stringify(targetKey(b.target))
  );
}

function targetKey(target: GatewayTarget): [string, number] {
  return 'path' in target ? [target.path, 0] : [target.host, target.port];
}

/**
 * The daemon's listeners the agent closes after re-adopting its VMs: those of VMs that no
 * longer run (or no longer have a gateway). The others are kept as they are, connections
 * and all; a missing one is opened by the VM's attach.
 */
export function staleListeners(
  listed: readonly { readonly vm: string }[],
  running: readonly string[],
): string[] {
  const keep = new Set(running);
  return listed.map((listener) => listener.vm).filter((vm) => !keep.has(vm));
}
