// The Linux test guest's pure parts: its serial lines, the module load order from
// modules.dep, the kernel package apt names, the cache key and the initramfs archive.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  cacheKey,
  cpioNewc,
  GUEST_MODULES,
  kernelPackage,
  moduleLoadOrder,
} from '../../scripts/linux-guest.js';
import { guestAddresses } from '../helpers/linux-guest.js';

// Lines of the modules.dep busybox's depmod made for linux-image-6.1.0-57-amd64.
const MODULES_DEP = `kernel/drivers/gpu/drm/drm.ko:
kernel/drivers/net/ethernet/intel/e1000/e1000.ko:
kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
kernel/drivers/input/evdev.ko:
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/drivers/net/virtio_net.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko
kernel/drivers/acpi/button.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
kernel/drivers/virtio/virtio_ring.ko: kernel/drivers/virtio/virtio.ko
kernel/drivers/virtio/virtio.ko:
kernel/drivers/net/ethernet/realtek/8139cp.ko.xz: kernel/drivers/net/mii.ko.xz
kernel/drivers/net/mii.ko.xz:
`;

describe('Linux test guest', () => {
  it('reads the addresses the guest reports, ignoring the rest of the console', () => {
    const log = [
      'SYSLINUX 6.04 EDD 20210613 Copyright (C) 1994-2015 H. Peter Anvin et al\r',
      '\u001bc\u001b[?7l\u001b[2Jlabvirt-guest: boot\r',
      'udhcpc: lease of 10.0.2.15 obtained from 10.0.2.2, lease time 86400\r',
      'labvirt-guest: ip=10.0.2.15 mac=52:54:00:ab:cd:ef\r',
      'labvirt-guest: ip=192.168.77.23 mac=52:54:00:ab:cd:ef',
      'labvirt-guest: ip= mac=52:54:00:ab:cd:ef',
    ].join('\n');
    assert.deepEqual(guestAddresses(log), [
      { ip: '10.0.2.15', mac: '52:54:00:ab:cd:ef' },
      { ip: '192.168.77.23', mac: '52:54:00:ab:cd:ef' },
    ]);
    assert.deepEqual(guestAddresses('labvirt-guest: boot\n'), []);
  });

  it('loads every module after its dependencies, and skips what modules.dep does not list', () => {
    assert.deepEqual(moduleLoadOrder(MODULES_DEP, GUEST_MODULES), [
      'kernel/drivers/acpi/button.ko',
      'kernel/drivers/input/evdev.ko',
      'kernel/drivers/net/ethernet/intel/e1000/e1000.ko',
      'kernel/drivers/net/mii.ko.xz',
      'kernel/drivers/virtio/virtio.ko',
      'kernel/drivers/virtio/virtio_pci_legacy_dev.ko',
      'kernel/drivers/virtio/virtio_pci_modern_dev.ko',
      'kernel/net/core/failover.ko',
      'kernel/drivers/net/ethernet/realtek/8139cp.ko.xz',
      'kernel/drivers/net/net_failover.ko',
      'kernel/drivers/virtio/virtio_ring.ko',
      'kernel/drivers/net/virtio_net.ko',
      'kernel/drivers/virtio/virtio_pci.ko',
    ]);
    // Built-in modules are not in modules.dep; names match with - or _.
    assert.deepEqual(moduleLoadOrder(MODULES_DEP, ['virtio-ring', 'ata_piix']), [
      'kernel/drivers/virtio/virtio.ko',
      'kernel/drivers/virtio/virtio_ring.ko',
    ]);
  });

  it('finds the kernel package the metapackage depends on', () => {
    const depends = 'linux-image-amd64\n  Depends: linux-image-6.1.0-57-amd64\n';
    assert.equal(kernelPackage(depends), 'linux-image-6.1.0-57-amd64');
    assert.throws(() => kernelPackage('linux-image-amd64\n'), /no linux-image package/);
  });

  it('keys the image by the builder and the package versions, in any order', () => {
    const builder = 'f8d6459a6e58aaaabbbbccccddddeeeeffff0000111122223333444455556666';
    const kernel = { 'linux-image-6.1.0-57-amd64': '6.1.192-3' };
    const busybox = { 'busybox-static': '1:1.35.0-4+deb12u1+b1' };
    assert.equal(cacheKey(builder, { ...kernel, ...busybox }), 'f8d6459a6e58-455d4997f2b9');
    assert.equal(cacheKey(builder, { ...busybox, ...kernel }), 'f8d6459a6e58-455d4997f2b9');
    const newer = { 'linux-image-6.1.0-58-amd64': '6.1.193-1', ...busybox };
    assert.equal(cacheKey(builder, newer), 'f8d6459a6e58-d77a757161f5');
    assert.equal(cacheKey(`0${builder}`, { ...kernel, ...busybox }), '0f8d6459a6e5-455d4997f2b9');
  });

  it('writes a newc cpio archive (as GNU cpio -itv lists it)', () => {
    const archive = cpioNewc([
      { name: 'init', mode: 0o100755, data: '#!/bin/sh\n' },
      { name: 'dev', mode: 0o040755 },
      { name: 'dev/console', mode: 0o020600, rdev: [5, 1] },
      { name: 'bin/sh', mode: 0o120777, data: 'busybox' },
    ]);
    // Fields: ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor
    // namesize check; name and data each padded to 4 bytes.
    const golden = [
      '070701 00000001 000081ED 00000000 00000000 00000001 00000000 0000000A 00000000 00000000 00000000 00000000 00000005 00000000',
      'init\0\0#!/bin/sh\n\0\0',
      '070701 00000002 000041ED 00000000 00000000 00000002 00000000 00000000 00000000 00000000 00000000 00000000 00000004 00000000',
      'dev\0\0\0',
      '070701 00000003 00002180 00000000 00000000 00000001 00000000 00000000 00000000 00000000 00000005 00000001 0000000C 00000000',
      'dev/console\0\0\0',
      '070701 00000004 0000A1FF 00000000 00000000 00000001 00000000 00000007 00000000 00000000 00000000 00000000 00000007 00000000',
      'bin/sh\0\0\0\0busybox\0',
      '070701 00000000 00000000 00000000 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000000 0000000B 00000000',
      'TRAILER!!!\0\0\0\0',
    ].map((part) => (part.startsWith('070701 ') ? part.replaceAll(' ', '') : part));
    assert.equal(archive.toString('latin1'), golden.join(''));
  });
});
