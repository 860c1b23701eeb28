// What a user types (CLI flags, later API fields) to what a VM needs, checked option by
// option. Pure: files are looked at later, by the preflight.
import { randomUUID } from 'node:crypto';
import { LabvirtError, phrase } from '../../domain/errors.js';
import { assignIdeSlots } from './ide-slots.js';
import {
  macFromUuid,
  parseAccel,
  parseBootDevice,
  parseCpus,
  parseDiskBus,
  parseForward,
  parseMac,
  parseMemory,
  parseNet,
  parseNicModel,
  parseUuid,
  parseVmName,
} from './validate.js';
import type { AccelRequest, BootDevice, DiskBus, NetSpec, NicModel } from './vm-spec.js';

export interface RawVmOptions {
  readonly name?: string | undefined;
  readonly uuid?: string | undefined;
  readonly disk?: readonly string[] | undefined;
  readonly cdrom?: string | undefined;
  readonly boot?: string | undefined;
  readonly memory?: string | undefined;
  readonly cpus?: string | undefined;
  readonly nic?: string | undefined;
  readonly mac?: string | undefined;
  readonly net?: string | undefined;
  readonly forward?: readonly string[] | undefined;
  readonly diskBus?: string | undefined;
  readonly snapshot?: boolean | undefined;
  readonly serial?: string | undefined;
  readonly vnc?: string | undefined;
  readonly accel?: string | undefined;
}

export interface DiskRequest {
  readonly path: string;
  /** Given by the user as FORMAT:PATH; otherwise detected safely by the preflight. */
  readonly format: string | undefined;
}

export interface VmRequest {
  readonly name: string;
  readonly uuid: string;
  readonly memoryMiB: number;
  readonly cpus: number;
  readonly disks: readonly DiskRequest[];
  readonly diskBus: DiskBus;
  readonly cdrom: string | undefined;
  readonly boot: BootDevice;
  readonly nic: { readonly model: NicModel; readonly mac: string };
  readonly net: NetSpec;
  readonly accel: AccelRequest;
  readonly snapshot: boolean;
  readonly serialLog: string | undefined;
  readonly vncSocket: string | undefined;
}

export const VM_DEFAULTS = {
  memory: '1024',
  cpus: '1',
  nic: 'virtio',
  net: 'user',
  diskBus: 'ide',
  boot: 'disk',
  accel: 'auto',
} as const;

export const explicitFormats = ['qcow2', 'raw', 'vmdk', 'vdi', 'vhdx'] as const;

/** `qcow2:disk.img` names the format; anything else is a plain path. */
export function parseDiskArgument(argument: string): DiskRequest {
  const colon = argument.indexOf(':');
  const prefix = argument.slice(0, colon);
  if (colon > 0 && (explicitFormats as readonly string[]).includes(prefix)) {
    return { path: argument.slice(colon + 1), format: prefix };
  }
  return { path: argument, format: undefined };
}

function nonEmptyPath(path: string, option: string): string {
  if (path.length === 0 || path.includes('\0')) {
    throw new LabvirtError(
      'PATH_INVALID',
      { path, reason: phrase('empty or contains NUL') },
      { field: option },
    );
  }
  return path;
}

export function parseVmOptions(raw: RawVmOptions, newUuid: () => string = randomUUID): VmRequest {
  const uuid = raw.uuid === undefined ? newUuid() : parseUuid(raw.uuid);
  const disks = (raw.disk ?? []).map(parseDiskArgument);
  disks.forEach((disk) => nonEmptyPath(disk.path, 'disk'));
  const cdrom = raw.cdrom === undefined ? undefined : nonEmptyPath(raw.cdrom, 'cdrom');
  const boot = parseBootDevice(raw.boot ?? VM_DEFAULTS.boot);
  if (disks.length === 0 && cdrom === undefined) {
    throw new LabvirtError('DISK_REQUIRED', {}, { field: 'disk' });
  }
  if (boot === 'cdrom' && cdrom === undefined) {
    throw new LabvirtError('BOOT_DEVICE_MISSING', { device: 'cdrom' }, { field: 'boot' });
  }
  if (boot === 'disk' && disks.length === 0) {
    throw new LabvirtError('BOOT_DEVICE_MISSING', { device: 'disk' }, { field: 'boot' });
  }
  const forwards = (raw.forward ?? []).map(parseForward);
  const diskBus = parseDiskBus(raw.diskBus ?? VM_DEFAULTS.diskBus);
  // Checked now, before any file is looked at: too many IDE devices is an input error.
  assignIdeSlots(diskBus === 'ide' ? disks.length : 0, cdrom !== undefined);
  return {
    name: parseVmName(raw.name ?? `vm-${uuid.slice(0, 8)}`),
    uuid,
    memoryMiB: parseMemory(raw.memory ?? VM_DEFAULTS.memory),
    cpus: parseCpus(raw.cpus ?? VM_DEFAULTS.cpus),
    disks,
    diskBus,
    cdrom,
    boot,
    nic: {
      model: parseNicModel(raw.nic ?? VM_DEFAULTS.nic),
      mac: raw.mac === undefined ? macFromUuid(uuid) : parseMac(raw.mac),
    },
    net: parseNet(raw.net ?? VM_DEFAULTS.net, forwards),
    accel: parseAccel(raw.accel ?? VM_DEFAULTS.accel),
    snapshot: raw.snapshot ?? false,
    serialLog: raw.serial === undefined ? undefined : nonEmptyPath(raw.serial, 'serial'),
    vncSocket: raw.vnc === undefined ? undefined : nonEmptyPath(raw.vnc, 'vnc'),
  };
}
