import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDiskArgument, parseVmOptions } from '../../src/qemu/cmdline/vm-options.js';
import { macFromUuid, parseForward, parseMac, parseNet } from '../../src/qemu/cmdline/validate.js';
import { assignIdeSlots } from '../../src/qemu/cmdline/ide-slots.js';

const uuid = '6f1c8a52-0d6e-4a3e-9b7c-2f1d5e8a9b10';
const parse = (raw: Parameters<typeof parseVmOptions>[0]) => parseVmOptions(raw, () => uuid);

describe('parseVmOptions', () => {
  it('fills the defaults', () => {
    const request = parse({ disk: ['a.img'] });
    assert.deepEqual(request, {
      name: 'vm-6f1c8a52',
      uuid,
      memoryMiB: 1024,
      cpus: 1,
      disks: [{ path: 'a.img', format: undefined }],
      diskBus: 'ide',
      cdrom: undefined,
      boot: 'disk',
      nic: { model: 'virtio', mac: macFromUuid(uuid) },
      net: { mode: 'user', forwards: [] },
      accel: 'auto',
      snapshot: false,
      serialLog: undefined,
      vncSocket: undefined,
    });
  });

  const bad: [string, Parameters<typeof parseVmOptions>[0], string][] = [
    ['no disk at all', {}, 'DISK_REQUIRED'],
    ['too many IDE devices', { disk: ['a', 'b', 'c', 'd'], cdrom: 'x.iso' }, 'IDE_SLOTS_EXHAUSTED'],
    ['five IDE disks', { disk: ['a', 'b', 'c', 'd', 'e'] }, 'IDE_SLOTS_EXHAUSTED'],
    ['an unknown NIC model', { disk: ['a'], nic: 'ne2k' }, 'NIC_MODEL_UNKNOWN'],
    ['a malformed MAC', { disk: ['a'], mac: '52:54:00:12:34' }, 'MAC_MALFORMED'],
    ['a MAC with a bad digit', { disk: ['a'], mac: '52:54:00:12:34:5g' }, 'MAC_MALFORMED'],
    ['a multicast MAC', { disk: ['a'], mac: '01:00:5e:00:00:01' }, 'MAC_MULTICAST'],
    ['a name with a slash', { disk: ['a'], name: '../etc' }, 'VM_NAME_INVALID'],
    ['a name that is too long', { disk: ['a'], name: 'x'.repeat(64) }, 'VM_NAME_INVALID'],
    ['a bad UUID', { disk: ['a'], uuid: 'not-a-uuid' }, 'UUID_MALFORMED'],
    ['too little memory', { disk: ['a'], memory: '8' }, 'MEMORY_OUT_OF_RANGE'],
    ['memory that is not a number', { disk: ['a'], memory: '1G' }, 'OPTION_INVALID'],
    ['no CPUs', { disk: ['a'], cpus: '0' }, 'CPUS_OUT_OF_RANGE'],
    ['an unknown bus', { disk: ['a'], diskBus: 'scsi' }, 'DISK_BUS_UNKNOWN'],
    ['booting a missing CD-ROM', { disk: ['a'], boot: 'cdrom' }, 'BOOT_DEVICE_MISSING'],
    ['an unknown boot device', { disk: ['a'], boot: 'net' }, 'BOOT_DEVICE_UNKNOWN'],
    ['an unknown accelerator', { disk: ['a'], accel: 'xen' }, 'ACCEL_UNKNOWN'],
    ['an unknown network', { disk: ['a'], net: 'vde:x' }, 'NET_MODE_INVALID'],
    ['a bridge name with a space', { disk: ['a'], net: 'bridge:br 0' }, 'IFNAME_INVALID'],
    [
      'a forward without user networking',
      { disk: ['a'], net: 'none', forward: ['1:2'] },
      'OPTION_INVALID',
    ],
    ['a forward to port 0', { disk: ['a'], forward: ['8080:0'] }, 'FORWARD_INVALID'],
  ];
  for (const [what, raw, code] of bad) {
    it(`refuses ${what} with ${code}`, () => assert.throws(() => parse(raw), { code }));
  }

  it('boots a CD-ROM alone', () => {
    const request = parse({ cdrom: 'install.iso', boot: 'cdrom' });
    assert.equal(request.boot, 'cdrom');
    assert.deepEqual(request.disks, []);
  });
});

describe('option parsers', () => {
  it('reads an explicit format prefix, and only a known one', () => {
    assert.deepEqual(parseDiskArgument('raw:/x/disk.img'), { path: '/x/disk.img', format: 'raw' });
    assert.deepEqual(parseDiskArgument('c:/x'), { path: 'c:/x', format: undefined });
    assert.deepEqual(parseDiskArgument('/x/qcow2:y'), { path: '/x/qcow2:y', format: undefined });
  });

  it('normalises MACs and derives stable, locally administered ones', () => {
    assert.equal(parseMac('52:54:00:AB:CD:EF'), '52:54:00:ab:cd:ef');
    const mac = macFromUuid(uuid);
    assert.equal(mac, macFromUuid(uuid.toUpperCase()));
    assert.notEqual(mac, macFromUuid('00000000-0000-0000-0000-000000000000'));
    assert.match(mac, /^52:54:00(:[0-9a-f]{2}){3}$/);
  });

  it('parses networks and forwards', () => {
    assert.deepEqual(parseNet('bridge:br-lab'), { mode: 'bridge', bridge: 'br-lab' });
    assert.deepEqual(parseNet('tap:tap0'), { mode: 'tap', ifname: 'tap0' });
    assert.deepEqual(parseForward('13389:3389'), { hostPort: 13389, guestPort: 3389 });
    assert.throws(() => parseNet('bridge:'), { code: 'IFNAME_INVALID' });
    assert.throws(() => parseForward('1:2:3'), { code: 'FORWARD_INVALID' });
  });

  it('assigns IDE slots in the seed’s order', () => {
    assert.deepEqual(
      assignIdeSlots(3, false).disks.map((s) => s.index),
      [0, 1, 2],
    );
    assert.deepEqual(
      assignIdeSlots(3, true).disks.map((s) => s.index),
      [0, 1, 3],
    );
    assert.deepEqual(assignIdeSlots(0, true).cdrom, { index: 2, bus: 'ide.1', unit: 0 });
  });
});
