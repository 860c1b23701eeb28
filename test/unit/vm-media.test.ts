// A VM's scratch data disks and CD-ROM, pure parts: placeVm puts the scratch disks after the
// VM's own disks in its overlay directory, and the argv gives them the seed's IDE slots
// (golden); the profile check counts IDE devices and names the field at fault.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildArgv } from '../../src/qemu/cmdline/build-argv.js';
import { RunDir } from '../../src/qemu/process/run-dir.js';
import { placeVm, type VmLaunch } from '../../src/qemu/process/supervisor.js';
import { checkIdeSlots, ideDevices } from '../../src/controller/services/profiles.js';
import { fails } from '../helpers/assertions.js';

const launch: VmLaunch = {
  name: 'client-1234abcd',
  uuid: '1234abcd-0d6e-4a3e-9b7c-2f1d5e8a9b10',
  memoryMiB: 512,
  cpus: 1,
  disks: [{ path: '/var/lib/labvirt/images/p/v.qcow2', format: 'qcow2' }],
  scratchDisks: [{ sizeMiB: 64 }],
  cdrom: '/var/lib/labvirt/iso/tools.iso',
  diskBus: 'ide',
  boot: 'disk',
  nic: { model: 'virtio', mac: '52:54:00:12:34:ab' },
  net: { mode: 'none' },
  accel: 'kvm',
};
const runDir = new RunDir('/run/labvirt', { overlayRoot: '/tmpfs/overlays' });
const paths = runDir.vmPaths(launch.name);

const block = (node: string, path: string, format: string, readOnly: boolean) =>
  JSON.stringify({
    'node-name': node,
    driver: format,
    'read-only': readOnly,
    file: { driver: 'file', filename: path, 'read-only': readOnly },
  });

/** The -blockdev and -device arguments of the argv (the disks and the CD-ROM). */
function media(argv: readonly string[]): string[] {
  return argv.flatMap((arg, index) =>
    arg === '-blockdev' || (arg === '-device' && /^ide-|^virtio-blk/.test(argv[index + 1] ?? ''))
      ? [arg, argv[index + 1] ?? '']
      : [],
  );
}

describe('scratch data disks and the CD-ROM', () => {
  it('a client VM: overlay, then scratch disk in the overlay dir, CD-ROM at index 2 (golden)', () => {
    const spec = placeVm(launch, paths, runDir, true);
    assert.deepEqual(spec.disks, [
      { path: '/tmpfs/overlays/client-1234abcd/disk0.overlay.qcow2', format: 'qcow2' },
      { path: '/tmpfs/overlays/client-1234abcd/data0.scratch.qcow2', format: 'qcow2' },
    ]);
    assert.equal('scratchDisks' in spec, false, 'the recorded spec is a plain VmSpec');
    assert.deepEqual(media(buildArgv(spec)), [
      '-blockdev',
      block('disk0', '/tmpfs/overlays/client-1234abcd/disk0.overlay.qcow2', 'qcow2', false),
      '-device',
      'ide-hd,id=disk0,bus=ide.0,unit=0,drive=disk0,bootindex=1',
      '-blockdev',
      block('disk1', '/tmpfs/overlays/client-1234abcd/data0.scratch.qcow2', 'qcow2', false),
      '-device',
      'ide-hd,id=disk1,bus=ide.0,unit=1,drive=disk1',
      '-blockdev',
      block('cd0', '/var/lib/labvirt/iso/tools.iso', 'raw', true),
      '-device',
      'ide-cd,id=cd0,bus=ide.1,unit=0,drive=cd0',
    ]);
  });

  it('an admin VM (writes kept): its draft, then three scratch disks at 1 and 3, no CD-ROM', () => {
    const spec = placeVm(
      {
        ...launch,
        cdrom: undefined,
        scratchDisks: [{ sizeMiB: 1 }, { sizeMiB: 2 }, { sizeMiB: 3 }],
      },
      paths,
      runDir,
      false,
    );
    const devices = media(buildArgv(spec)).filter((arg) => arg.startsWith('ide-'));
    assert.deepEqual(devices, [
      'ide-hd,id=disk0,bus=ide.0,unit=0,drive=disk0,bootindex=1',
      'ide-hd,id=disk1,bus=ide.0,unit=1,drive=disk1',
      'ide-hd,id=disk2,bus=ide.1,unit=0,drive=disk2',
      'ide-hd,id=disk3,bus=ide.1,unit=1,drive=disk3',
    ]);
    assert.equal(spec.disks[0]?.path, '/var/lib/labvirt/images/p/v.qcow2');
    assert.equal(spec.disks[3]?.path, '/tmpfs/overlays/client-1234abcd/data2.scratch.qcow2');
  });

  it('three scratch disks and a CD-ROM on IDE do not fit; on virtio they do', () => {
    const full = { ...launch, scratchDisks: [{ sizeMiB: 1 }, { sizeMiB: 2 }, { sizeMiB: 3 }] };
    assert.throws(
      () => buildArgv(placeVm(full, paths, runDir, true)),
      fails('IDE_SLOTS_EXHAUSTED', { count: 5 }),
    );
    const argv = buildArgv(placeVm({ ...full, diskBus: 'virtio' }, paths, runDir, true));
    assert.deepEqual(
      media(argv).filter((arg) => /^(ide|virtio)-/.test(arg)),
      [
        'virtio-blk-pci,id=disk0,drive=disk0,bootindex=1',
        'virtio-blk-pci,id=disk1,drive=disk1',
        'virtio-blk-pci,id=disk2,drive=disk2',
        'virtio-blk-pci,id=disk3,drive=disk3',
        'ide-cd,id=cd0,bus=ide.1,unit=0,drive=cd0',
      ],
    );
  });

  it('profile settings: IDE devices counted, the field at fault named', () => {
    const disks = (n: number) => Array.from({ length: n }, () => ({ sizeMiB: 1 }));
    assert.equal(ideDevices({ diskBus: 'ide', dataDisks: disks(3), cdrom: null }), 4);
    assert.equal(ideDevices({ diskBus: 'ide', dataDisks: disks(3), cdrom: 'a.iso' }), 5);
    assert.equal(ideDevices({ diskBus: 'virtio', dataDisks: disks(3), cdrom: 'a.iso' }), 1);
    const over = { diskBus: 'ide', dataDisks: disks(3), cdrom: 'a.iso' };
    checkIdeSlots({ ...over, cdrom: null }, { dataDisks: disks(3) });
    const at = (changed: object) => () => checkIdeSlots(over, changed);
    assert.throws(at({ dataDisks: [], cdrom: 'a.iso' }), (error: { field?: string }) => {
      assert.equal(error.field, 'dataDisks');
      return true;
    });
    assert.throws(at({ cdrom: 'a.iso' }), (error: { field?: string }) => error.field === 'cdrom');
    assert.throws(at({ diskBus: 'ide' }), (error: { field?: string }) => error.field === 'diskBus');
    assert.throws(at({}), fails('IDE_SLOTS_EXHAUSTED', { count: 5 }));
  });
});
