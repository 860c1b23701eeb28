// The VM options shared by `labvirt cmdline` and `labvirt run`.
import type { Command } from 'commander';
import type { RawVmOptions } from '../qemu/cmdline/vm-options.js';
import { sourceLocale, translator, type Translator } from '../i18n/translator.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function addVmFlags(command: Command, tr: Translator = translator(sourceLocale)): Command {
  return command
    .option('--name <NAME>', tr.t('VM name (default: vm- and the start of its UUID)'))
    .option('--uuid <UUID>', tr.t('VM UUID (default: a random one)'))
    .option(
      '--disk <[FORMAT:]FILE>',
      tr.t('disk image, repeatable; FORMAT is qcow2|raw|vmdk|vdi|vhdx (default: detected safely)'),
      collect,
    )
    .option('--cdrom <ISO>', tr.t('CD-ROM image (secondary IDE master)'))
    .option('--boot <DEVICE>', tr.t('boot from the first disk or the CD-ROM: disk|cdrom'), 'disk')
    .option('--memory <MIB>', tr.t('memory in MiB'), '1024')
    .option('--cpus <N>', tr.t('virtual CPUs'), '1')
    .option('--nic <MODEL>', tr.t('NIC model: virtio|rtl8139|e1000'), 'virtio')
    .option('--mac <MAC>', tr.t('NIC MAC address (default: stable, from the UUID)'))
    .option('--net <MODE>', tr.t('network: user|bridge:BR|tap:IF|none'), 'user')
    .option(
      '--forward <HOSTPORT:GUESTPORT>',
      tr.t('with --net user: forward 127.0.0.1:HOSTPORT to the guest, repeatable'),
      collect,
    )
    .option('--disk-bus <BUS>', tr.t('disk bus: ide|virtio'), 'ide')
    .option('--snapshot', tr.t('discard the VM’s writes when it ends (a per-VM overlay)'), false)
    .option('--serial <FILE>', tr.t('serial port log file (default: in the run directory)'))
    .option('--vnc <SOCKET>', tr.t('VNC Unix socket (default: in the run directory)'))
    .option('--accel <ACCEL>', tr.t('accelerator: kvm|tcg|auto'), 'auto')
    .option(
      '--allow-dir <DIR>',
      tr.t('a directory backing files may live in, besides each disk’s own, repeatable'),
      collect,
    )
    .option(
      '--run-dir <DIR>',
      tr.t(
        'run directory for sockets, pidfiles and overlays (default: $LABVIRT_RUN_DIR, /run/labvirt as root)',
      ),
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
