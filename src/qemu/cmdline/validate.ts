// Parsers for single VM options: each takes what a user typed and returns the value the
// spec needs, or throws a LabvirtError naming the problem. Pure.
import { createHash } from 'node:crypto';
import { LabvirtError, phrase } from '../../domain/errors.js';
import {
  bootDevices,
  diskBuses,
  nicModels,
  type AccelRequest,
  type BootDevice,
  type DiskBus,
  type NetSpec,
  type NicModel,
  type PortForward,
} from './vm-spec.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;
const INTEGER = /^[0-9]{1,9}$/;

export const MEMORY_MIB = { min: 16, max: 1024 * 1024 } as const;
export const CPUS = { min: 1, max: 64 } as const;

export function parseVmName(name: string): string {
  if (!NAME.test(name) || name === '.' || name === '..') {
    throw new LabvirtError('VM_NAME_INVALID', { name }, { field: 'name' });
  }
  return name;
}

export function parseUuid(uuid: string): string {
  if (!UUID.test(uuid)) throw new LabvirtError('UUID_MALFORMED', { uuid }, { field: 'uuid' });
  return uuid.toLowerCase();
}

function parseInteger(value: string, option: string): number {
  if (!INTEGER.test(value.trim())) {
    throw new LabvirtError(
      'OPTION_INVALID',
      { option, reason: phrase('"{value}" is not a whole number', { value }) },
      { field: option },
    );
  }
  return Number(value.trim());
}

export function parseMemory(value: string): number {
  const mib = parseInteger(value, 'memory');
  if (mib < MEMORY_MIB.min || mib > MEMORY_MIB.max) {
    throw new LabvirtError(
      'MEMORY_OUT_OF_RANGE',
      { value: mib, ...MEMORY_MIB },
      { field: 'memory' },
    );
  }
  return mib;
}

export function parseCpus(value: string): number {
  const cpus = parseInteger(value, 'cpus');
  if (cpus < CPUS.min || cpus > CPUS.max) {
    throw new LabvirtError('CPUS_OUT_OF_RANGE', { value: cpus, ...CPUS }, { field: 'cpus' });
  }
  return cpus;
}

export function parseMac(mac: string): string {
  if (!MAC.test(mac)) throw new LabvirtError('MAC_MALFORMED', { mac }, { field: 'mac' });
  // The least significant bit of the first octet marks group (multicast) addresses.
  if (parseInt(mac.slice(0, 2), 16) & 1) {
    throw new LabvirtError('MAC_MULTICAST', { mac }, { field: 'mac' });
  }
  return mac.toLowerCase();
}

/** A stable MAC for a VM: QEMU's locally administered 52:54:00 prefix, the rest from its UUID. */
export function macFromUuid(uuid: string): string {
  const digest = createHash('sha256').update(uuid.toLowerCase()).digest();
  const tail = [...digest.subarray(0, 3)].map((byte) => byte.toString(16).padStart(2, '0'));
  return ['52', '54', '00', ...tail].join(':');
}

function oneOf<T extends string>(allowed: readonly T[], value: string): T | undefined {
  return (allowed as readonly string[]).includes(value) ? (value as T) : undefined;
}

export function parseNicModel(model: string): NicModel {
  const parsed = oneOf(nicModels, model);
  if (parsed === undefined) {
    throw new LabvirtError(
      'NIC_MODEL_UNKNOWN',
      { model, allowed: nicModels.join(', ') },
      { field: 'nic' },
    );
  }
  return parsed;
}

export function parseDiskBus(bus: string): DiskBus {
  const parsed = oneOf(diskBuses, bus);
  if (parsed === undefined)
    throw new LabvirtError('DISK_BUS_UNKNOWN', { bus }, { field: 'diskBus' });
  return parsed;
}

export function parseBootDevice(device: string): BootDevice {
  const parsed = oneOf(bootDevices, device);
  if (parsed === undefined) {
    throw new LabvirtError('BOOT_DEVICE_UNKNOWN', { device }, { field: 'boot' });
  }
  return parsed;
}

export function parseAccel(accel: string): AccelRequest {
  const parsed = oneOf(['kvm', 'tcg', 'auto'] as const, accel);
  if (parsed === undefined) throw new LabvirtError('ACCEL_UNKNOWN', { accel }, { field: 'accel' });
  return parsed;
}

export function parseIfname(name: string): string {
  if (!IFNAME.test(name)) throw new LabvirtError('IFNAME_INVALID', { name }, { field: 'net' });
  return name;
}

/** `user`, `none`, `bridge:BR` or `tap:IF`. */
export function parseNet(value: string, forwards: readonly PortForward[] = []): NetSpec {
  if (forwards.length > 0 && value !== 'user') {
    throw new LabvirtError(
      'OPTION_INVALID',
      { option: 'forward', reason: phrase('port forwards need --net user') },
      { field: 'forward' },
    );
  }
  if (value === 'user') return { mode: 'user', forwards };
  if (value === 'none') return { mode: 'none' };
  const colon = value.indexOf(':');
  const mode = value.slice(0, colon);
  const ifname = value.slice(colon + 1);
  if (colon > 0 && mode === 'bridge') return { mode, bridge: parseIfname(ifname) };
  if (colon > 0 && mode === 'tap') return { mode, ifname: parseIfname(ifname) };
  throw new LabvirtError('NET_MODE_INVALID', { value }, { field: 'net' });
}

function port(text: string): number | undefined {
  if (!/^[0-9]{1,5}$/.test(text)) return undefined;
  const value = Number(text);
  return value >= 1 && value <= 65535 ? value : undefined;
}

/** `HOSTPORT:GUESTPORT`, forwarded from 127.0.0.1 only. */
export function parseForward(value: string): PortForward {
  const [host, guest, ...rest] = value.split(':');
  const hostPort = port(host ?? '');
  const guestPort = port(guest ?? '');
  if (hostPort === undefined || guestPort === undefined || rest.length > 0) {
    throw new LabvirtError('FORWARD_INVALID', { value }, { field: 'forward' });
  }
  return { hostPort, guestPort };
}

/** Unix socket paths are limited by sockaddr_un.sun_path (108 bytes with the NUL). */
export const UNIX_SOCKET_PATH_MAX = 107;

export function checkSocketPath(path: string): string {
  if (Buffer.byteLength(path) > UNIX_SOCKET_PATH_MAX) {
    throw new LabvirtError('SOCKET_PATH_TOO_LONG', { path, max: UNIX_SOCKET_PATH_MAX });
  }
  return path;
}
