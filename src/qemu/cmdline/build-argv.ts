// VmSpec in, QEMU argv out: pure, so every rule is pinned by golden tests.
// Every device is explicit (-nodefaults); nothing listens on TCP except user-mode port
// forwards, which are bound to 127.0.0.1. Displays (VNC, SPICE) listen on Unix sockets.
import { assignIdeSlots, type IdeSlot } from './ide-slots.js';
import { escapeOptValue, qemuOpts } from './qemu-opts.js';
import type { Accel, DiskSpec, NetSpec, NicModel, VmSpec } from './vm-spec.js';

export const QEMU_BINARY = 'qemu-system-x86_64';

const nicDevice: Record<NicModel, string> = {
  virtio: 'virtio-net-pci',
  rtl8139: 'rtl8139',
  e1000: 'e1000',
};

// "host" is the fastest model under KVM; arch-capabilities is masked because some
// (nested) hosts list the MSR but refuse to set it, and masking it only makes guests
// assume they need every mitigation. TCG emulates everything it knows with "max".
const cpuModel: Record<Accel, string> = {
  kvm: 'host,-arch-capabilities',
  tcg: 'max',
};

/** A block node as JSON, so file names never go through QEMU's comma-separated syntax. */
function blockdev(node: string, path: string, format: string, readOnly: boolean): string {
  return JSON.stringify({
    'node-name': node,
    driver: format,
    'read-only': readOnly,
    file: { driver: 'file', filename: path, 'read-only': readOnly },
  });
}

function bootindex(spec: VmSpec, device: 'disk' | 'cdrom', diskIndex = 0): number | undefined {
  if (device === 'cdrom') return spec.boot === 'cdrom' ? 1 : undefined;
  if (diskIndex !== 0) return undefined;
  return spec.boot === 'disk' ? 1 : 2;
}

function diskArgs(spec: VmSpec, disk: DiskSpec, index: number, slot: IdeSlot | undefined) {
  const node = `disk${index}`;
  const device =
    slot === undefined
      ? qemuOpts('virtio-blk-pci', {
          id: node,
          drive: node,
          bootindex: bootindex(spec, 'disk', index),
        })
      : qemuOpts('ide-hd', {
          id: node,
          bus: slot.bus,
          unit: slot.unit,
          drive: node,
          bootindex: bootindex(spec, 'disk', index),
        });
  return ['-blockdev', blockdev(node, disk.path, disk.format, false), '-device', device];
}

function netArgs(spec: VmSpec): string[] {
  const net: NetSpec = spec.net;
  let netdev: string;
  switch (net.mode) {
    case 'none':
      return [];
    case 'user':
      netdev = [
        qemuOpts('user', { id: 'net0' }),
        ...net.forwards.map((f) => `hostfwd=tcp:127.0.0.1:${f.hostPort}-:${f.guestPort}`),
      ].join(',');
      break;
    case 'bridge':
      netdev = qemuOpts('bridge', { id: 'net0', br: net.bridge });
      break;
    case 'tap':
      netdev = qemuOpts('tap', { id: 'net0', ifname: net.ifname, script: 'no', downscript: 'no' });
      break;
  }
  // romfile= (empty) leaves out the NIC's PXE ROM: VMs boot from disk or CD-ROM only.
  const device = qemuOpts(nicDevice[spec.nic.model], {
    id: 'nic0',
    netdev: 'net0',
    mac: spec.nic.mac,
    romfile: '',
  });
  return ['-netdev', netdev, '-device', device];
}

function vncArg(spec: VmSpec): string {
  const socket = `unix:${escapeOptValue(spec.vncSocket)}`;
  // password=on: nobody gets in until set_password gives a (one-time) ticket.
  const ticketed = spec.display?.protocol === 'vnc' && spec.display.ticketed;
  return ticketed ? `${socket},password=on` : socket;
}

/** The web console's own VNC server beside a ticketed one (see DisplaySpec). */
function consoleVncArgs(spec: VmSpec): string[] {
  const display = spec.display;
  if (display?.protocol !== 'vnc' || !display.ticketed || display.consoleSocket === undefined) {
    return [];
  }
  return ['-vnc', `unix:${escapeOptValue(display.consoleSocket)},id=console`];
}

/**
 * SPICE on a Unix socket (the gateway relays TCP to it), on the plain VGA device: enough
 * for a remote desktop without guest drivers (no QXL, no vdagent channel). Ticketing stays
 * on unless the display is explicitly unticketed.
 */
function spiceArgs(spec: VmSpec): string[] {
  const display = spec.display;
  if (display?.protocol !== 'spice') return [];
  return [
    '-spice',
    qemuOpts(undefined, {
      unix: true,
      addr: display.socket,
      'disable-ticketing': display.ticketed ? undefined : true,
    }),
  ];
}

export function buildArgv(spec: VmSpec, binary: string = QEMU_BINARY): string[] {
  const ideDisks = spec.diskBus === 'ide' ? spec.disks.length : 0;
  const slots = assignIdeSlots(ideDisks, spec.cdrom !== undefined);

  const argv = [
    binary,
    '-name',
    qemuOpts(undefined, { guest: spec.name, 'debug-threads': true }),
    '-uuid',
    spec.uuid,
    '-nodefaults',
    '-no-user-config',
    '-machine',
    'pc',
    '-accel',
    spec.accel,
    '-cpu',
    cpuModel[spec.accel],
    '-m',
    String(spec.memoryMiB),
    '-smp',
    String(spec.cpus),
    '-boot',
    'strict=on',
    '-display',
    'none',
    '-vnc',
    vncArg(spec),
    ...consoleVncArgs(spec),
    ...spiceArgs(spec),
    '-device',
    'VGA,id=video0',
    '-chardev',
    qemuOpts('socket', { id: 'qmp', path: spec.qmpSocket, server: true, wait: false }),
    '-mon',
    'chardev=qmp,mode=control',
    '-chardev',
    qemuOpts('file', { id: 'serial0', path: spec.serialLog }),
    '-device',
    'isa-serial,chardev=serial0',
  ];

  spec.disks.forEach((disk, index) => {
    argv.push(...diskArgs(spec, disk, index, slots.disks[index]));
  });
  if (spec.cdrom !== undefined && slots.cdrom !== undefined) {
    argv.push(
      '-blockdev',
      blockdev('cd0', spec.cdrom, 'raw', true),
      '-device',
      qemuOpts('ide-cd', {
        id: 'cd0',
        bus: slots.cdrom.bus,
        unit: slots.cdrom.unit,
        drive: 'cd0',
        bootindex: bootindex(spec, 'cdrom'),
      }),
    );
  }
  argv.push(...netArgs(spec));
  return argv;
}
