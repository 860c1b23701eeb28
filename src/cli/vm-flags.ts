// The VM options shared by `labvirt cmdline` and `labvirt run`.
import type { Command } from 'commander';
import type { RawVmOptions } from '../qemu/cmdline/vm-options.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function addVmFlags(command: Command): Command {
  return command
    .option('--name <NAME>', 'VM name (default: vm- and the start of its UUID)')
    .option('--uuid <UUID>', 'VM UUID (default: a random one)')
    .option(
      '--disk <[FORMAT:]FILE>',
      'disk image, repeatable; FORMAT is qcow2|raw|vmdk|vdi|vhdx (default: detected safely)',
      collect,
    )
    .option('--cdrom <ISO>', 'CD-ROM image (secondary IDE master)')
    .option('--boot <DEVICE>', 'boot from the first disk or the CD-ROM: disk|cdrom', 'disk')
    .option('--memory <MIB>', 'memory in MiB', '1024')
    .option('--cpus <N>', 'virtual CPUs', '1')
    .option('--nic <MODEL>', 'NIC model: virtio|rtl8139|e1000', 'virtio')
    .option('--mac <MAC>', 'NIC MAC address (default: stable, from the UUID)')
    .option('--net <MODE>', 'network: user|bridge:BR|tap:IF|none', 'user')
    .option(
      '--forward <HOSTPORT:GUESTPORT>',
      'with --net user: forward 127.0.0.1:HOSTPORT to the guest, repeatable',
      collect,
    )
    .option('--disk-bus <BUS>', 'disk bus: ide|virtio', 'ide')
    .option('--snapshot', 'discard the VM’s writes when it ends (a per-VM overlay)', false)
    .option('--serial <FILE>', 'serial port log file (default: in the run directory)')
    .option('--vnc <SOCKET>', 'VNC Unix socket (default: in the run directory)')
    .option('--accel <ACCEL>', 'accelerator: kvm|tcg|auto', 'auto')
    .option(
      '--allow-dir <DIR>',
      'a directory backing files may live in, besides each disk’s own, repeatable',
      collect,
    )
    .option(
      '--run-dir <DIR>',
      'run directory for sockets, pidfiles and overlays (default: $LABVIRT_RUN_DIR, /run/labvirt as root)',
    );
}

export interface VmFlagValues {
  name?: string;
  uuid?: string;
  disk?: string[];
  cdrom?: string;
  boot?: string;
  memory?: string;
  cpus?: string;
  nic?: string;
  mac?: string;
  net?: string;
  forward?: string[];
  diskBus?: string;
  snapshot?: boolean;
  serial?: string;
  vnc?: string;
  accel?: string;
  allowDir?: string[];
  runDir?: string;
}

export function rawVmOptions(values: VmFlagValues): RawVmOptions {
  return {
    name: values.name,
    uuid: values.uuid,
    disk: values.disk,
    cdrom: values.cdrom,
    boot: values.boot,
    memory: values.memory,
    cpus: values.cpus,
    nic: values.nic,
    mac: values.mac,
    net: values.net,
    forward: values.forward,
    diskBus: values.diskBus,
    snapshot: values.snapshot,
    serial: values.serial,
    vnc: values.vnc,
    accel: values.accel,
  };
}
