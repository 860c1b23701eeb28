import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildArgv } from '../../src/qemu/cmdline/build-argv.js';
import type { VmSpec } from '../../src/qemu/cmdline/vm-spec.js';
import { RunDir } from '../../src/qemu/process/run-dir.js';
import { placeVm, type VmLaunch } from '../../src/qemu/process/supervisor.js';

const base: VmSpec = {
  name: 'lab1-pc07',
  uuid: '6f1c8a52-0d6e-4a3e-9b7c-2f1d5e8a9b10',
  memoryMiB: 2048,
  cpus: 2,
  disks: [{ path: '/srv/img/a.qcow2', format: 'qcow2' }],
  diskBus: 'ide',
  boot: 'disk',
  nic: { model: 'virtio', mac: '52:54:00:12:34:56' },
  net: { mode: 'user', forwards: [] },
  accel: 'kvm',
  qmpSocket: '/run/labvirt/vms/lab1-pc07/qmp.sock',
  vncSocket: '/run/labvirt/vms/lab1-pc07/vnc.sock',
  serialLog: '/run/labvirt/logs/lab1-pc07.serial.log',
};

const disk = (node: string, path: string, format: string, readOnly = false) =>
  JSON.stringify({
    'node-name': node,
    driver: format,
    'read-only': readOnly,
    file: { driver: 'file', filename: path, 'read-only': readOnly },
  });

/** The value following each occurrence of a flag. */
function values(argv: readonly string[], flag: string): string[] {
  return argv.flatMap((arg, index) => (arg === flag ? [argv[index + 1] ?? ''] : []));
}

describe('buildArgv', () => {
  it('builds the whole command line of a one-disk VM (golden)', () => {
    assert.deepEqual(buildArgv(base), [
      'qemu-system-x86_64',
      '-name',
      'guest=lab1-pc07,debug-threads=on',
      '-uuid',
      '6f1c8a52-0d6e-4a3e-9b7c-2f1d5e8a9b10',
      '-nodefaults',
      '-no-user-config',
      '-machine',
      'pc',
      '-accel',
      'kvm',
      '-cpu',
      'host,-arch-capabilities',
      '-m',
      '2048',
      '-smp',
      '2',
      '-boot',
      'strict=on',
      '-display',
      'none',
      '-vnc',
      'unix:/run/labvirt/vms/lab1-pc07/vnc.sock',
      '-device',
      'VGA,id=video0',
      '-chardev',
      'socket,id=qmp,path=/run/labvirt/vms/lab1-pc07/qmp.sock,server=on,wait=off',
      '-mon',
      'chardev=qmp,mode=control',
      '-chardev',
      'file,id=serial0,path=/run/labvirt/logs/lab1-pc07.serial.log',
      '-device',
      'isa-serial,chardev=serial0',
      '-blockdev',
      disk('disk0', '/srv/img/a.qcow2', 'qcow2'),
      '-device',
      'ide-hd,id=disk0,bus=ide.0,unit=0,drive=disk0,bootindex=1',
      '-netdev',
      'user,id=net0',
      '-device',
      'virtio-net-pci,id=nic0,netdev=net0,mac=52:54:00:12:34:56,romfile=',
    ]);
  });

  it('places three disks and a CD-ROM at IDE indexes 0, 1, 3 and 2', () => {
    const argv = buildArgv({
      ...base,
      disks: ['a', 'b', 'c'].map((n) => ({ path: `/i/${n}.qcow2`, format: 'qcow2' })),
      cdrom: '/iso/x.iso',
    });
    assert.deepEqual(
      values(argv, '-device').filter((d) => d.startsWith('ide-')),
      [
        'ide-hd,id=disk0,bus=ide.0,unit=0,drive=disk0,bootindex=1',
        'ide-hd,id=disk1,bus=ide.0,unit=1,drive=disk1',
        'ide-hd,id=disk2,bus=ide.1,unit=1,drive=disk2',
        'ide-cd,id=cd0,bus=ide.1,unit=0,drive=cd0',
      ],
    );
    assert.ok(values(argv, '-blockdev').includes(disk('cd0', '/iso/x.iso', 'raw', true)));
  });

  it('leaves the primary slave empty with one disk and a CD-ROM', () => {
    const ide = values(buildArgv({ ...base, cdrom: '/iso/x.iso' }), '-device').filter((d) =>
      d.startsWith('ide-'),
    );
    assert.deepEqual(ide, [
      'ide-hd,id=disk0,bus=ide.0,unit=0,drive=disk0,bootindex=1',
      'ide-cd,id=cd0,bus=ide.1,unit=0,drive=cd0',
    ]);
  });

  it('refuses a fifth IDE device', () => {
    const disks = ['a', 'b', 'c', 'd'].map((n) => ({ path: `/i/${n}`, format: 'raw' }));
    assert.throws(() => buildArgv({ ...base, disks, cdrom: '/iso/x.iso' }), {
      code: 'IDE_SLOTS_EXHAUSTED',
    });
    assert.doesNotThrow(() => buildArgv({ ...base, disks }));
  });

  it('puts disks on virtio-blk with --disk-bus virtio, the CD-ROM still on IDE', () => {
    const disks = ['a', 'b', 'c', 'd', 'e'].map((n) => ({ path: `/i/${n}`, format: 'raw' }));
    const devices = values(
      buildArgv({ ...base, disks, diskBus: 'virtio', cdrom: '/x.iso' }),
      '-device',
    );
    assert.deepEqual(
      devices.filter((d) => d.startsWith('virtio-blk')),
      [
        'virtio-blk-pci,id=disk0,drive=disk0,bootindex=1',
        'virtio-blk-pci,id=disk1,drive=disk1',
        'virtio-blk-pci,id=disk2,drive=disk2',
        'virtio-blk-pci,id=disk3,drive=disk3',
        'virtio-blk-pci,id=disk4,drive=disk4',
      ],
    );
    assert.ok(devices.includes('ide-cd,id=cd0,bus=ide.1,unit=0,drive=cd0'));
  });

  it('boots the CD-ROM first with boot=cdrom, the first disk second', () => {
    const devices = values(buildArgv({ ...base, cdrom: '/x.iso', boot: 'cdrom' }), '-device');
    assert.ok(devices.includes('ide-cd,id=cd0,bus=ide.1,unit=0,drive=cd0,bootindex=1'));
    assert.ok(devices.includes('ide-hd,id=disk0,bus=ide.0,unit=0,drive=disk0,bootindex=2'));
  });

  it('builds each NIC model and network mode', () => {
    const nic = (spec: Partial<VmSpec>) => {
      const argv = buildArgv({ ...base, ...spec });
      return [
        ...values(argv, '-netdev'),
        ...values(argv, '-device').filter((d) => d.includes('nic0')),
      ];
    };
    assert.deepEqual(nic({ nic: { model: 'rtl8139', mac: '52:54:00:00:00:01' } }), [
      'user,id=net0',
      'rtl8139,id=nic0,netdev=net0,mac=52:54:00:00:00:01,romfile=',
    ]);
    assert.deepEqual(
      nic({
        nic: { model: 'e1000', mac: '52:54:00:00:00:02' },
        net: { mode: 'bridge', bridge: 'br0' },
      }),
      ['bridge,id=net0,br=br0', 'e1000,id=nic0,netdev=net0,mac=52:54:00:00:00:02,romfile='],
    );
    assert.deepEqual(nic({ net: { mode: 'tap', ifname: 'tap-pc07' } }), [
      'tap,id=net0,ifname=tap-pc07,script=no,downscript=no',
      'virtio-net-pci,id=nic0,netdev=net0,mac=52:54:00:12:34:56,romfile=',
    ]);
    assert.deepEqual(nic({ net: { mode: 'none' } }), []);
    assert.deepEqual(
      nic({ net: { mode: 'user', forwards: [{ hostPort: 13389, guestPort: 3389 }] } }),
      [
        'user,id=net0,hostfwd=tcp:127.0.0.1:13389-:3389',
        'virtio-net-pci,id=nic0,netdev=net0,mac=52:54:00:12:34:56,romfile=',
      ],
    );
  });

  it('uses TCG with the max CPU model', () => {
    const argv = buildArgv({ ...base, accel: 'tcg' });
    assert.deepEqual([values(argv, '-accel'), values(argv, '-cpu')], [['tcg'], ['max']]);
  });

  it('listens on Unix sockets only: VNC as unix:, no TCP anywhere without forwards', () => {
    const argv = buildArgv({ ...base, cdrom: '/x.iso' });
    assert.deepEqual(values(argv, '-vnc'), ['unix:/run/labvirt/vms/lab1-pc07/vnc.sock']);
    assert.ok(
      !argv.some((arg) => /tcp|telnet|websocket|:\d+$|0\.0\.0\.0/.test(arg)),
      argv.join(' '),
    );
  });

  it('cannot be made to inject options through paths', () => {
    const argv = buildArgv({
      ...base,
      disks: [{ path: '/i/a,file.driver=ssh', format: 'raw' }],
      vncSocket: '/tmp/v,websocket=5700',
      serialLog: '/tmp/s,mux=on',
    });
    assert.ok(values(argv, '-blockdev')[0]?.includes('"filename":"/i/a,file.driver=ssh"'));
    assert.deepEqual(values(argv, '-vnc'), ['unix:/tmp/v,,websocket=5700']);
    assert.ok(values(argv, '-chardev').includes('file,id=serial0,path=/tmp/s,,mux=on'));
  });
  it('asks for a VNC password on the console socket only for a ticketed vnc display', () => {
    const vnc = (display: VmSpec['display']) => values(buildArgv({ ...base, display }), '-vnc');
    assert.deepEqual(vnc({ protocol: 'vnc', ticketed: true }), [
      'unix:/run/labvirt/vms/lab1-pc07/vnc.sock,password=on',
    ]);
    assert.deepEqual(vnc({ protocol: 'vnc', ticketed: false }), [
      'unix:/run/labvirt/vms/lab1-pc07/vnc.sock',
    ]);
    // A SPICE display's tickets are SPICE's: the console's VNC socket stays as it was.
    const spice = { protocol: 'spice', ticketed: true, socket: '/s/spice.sock' } as const;
    assert.deepEqual(vnc(spice), ['unix:/run/labvirt/vms/lab1-pc07/vnc.sock']);
    const argv = buildArgv({ ...base, display: { protocol: 'vnc', ticketed: true } });
    assert.deepEqual(values(argv, '-spice'), []);
  });

  it('gives the web console its own password-less VNC server beside a ticketed one', () => {
    const consoleSocket = '/run/labvirt/vms/lab1-pc07/console.sock';
    const vnc = (display: VmSpec['display']) => values(buildArgv({ ...base, display }), '-vnc');
    assert.deepEqual(vnc({ protocol: 'vnc', ticketed: true, consoleSocket }), [
      'unix:/run/labvirt/vms/lab1-pc07/vnc.sock,password=on',
      'unix:/run/labvirt/vms/lab1-pc07/console.sock,id=console',
    ]);
    // Unticketed, the one socket already has no password: no second server.
    assert.deepEqual(vnc({ protocol: 'vnc', ticketed: false, consoleSocket }), [
      'unix:/run/labvirt/vms/lab1-pc07/vnc.sock',
    ]);
  });

  it('adds SPICE on its Unix socket, ticketed unless said otherwise, before the VGA device', () => {
    const socket = '/run/labvirt/vms/lab1-pc07/spice.sock';
    const argv = buildArgv({ ...base, display: { protocol: 'spice', ticketed: true, socket } });
    const at = argv.indexOf('-spice');
    assert.deepEqual(argv.slice(at, at + 4), [
      '-spice',
      'unix=on,addr=/run/labvirt/vms/lab1-pc07/spice.sock',
      '-device',
      'VGA,id=video0',
    ]);
    assert.ok(!argv.some((arg) => arg.includes('disable-ticketing')));
    assert.deepEqual(
      values(
        buildArgv({ ...base, display: { protocol: 'spice', ticketed: false, socket } }),
        '-spice',
      ),
      ['unix=on,addr=/run/labvirt/vms/lab1-pc07/spice.sock,disable-ticketing=on'],
    );
    assert.deepEqual(
      values(
        buildArgv({
          ...base,
          display: { protocol: 'spice', ticketed: true, socket: '/t/a,port=5900' },
        }),
        '-spice',
      ),
      ['unix=on,addr=/t/a,,port=5900'],
      'a comma in the path cannot add a TCP port',
    );
    assert.ok(!argv.some((arg) => /tcp|port=|0\.0\.0\.0/.test(arg)), argv.join(' '));
  });

  it('places the SPICE socket in the run directory, checked for length', () => {
    const launch: VmLaunch = {
      name: base.name,
      uuid: base.uuid,
      memoryMiB: base.memoryMiB,
      cpus: base.cpus,
      disks: base.disks,
      diskBus: base.diskBus,
      boot: base.boot,
      nic: base.nic,
      net: base.net,
      accel: base.accel,
      remoteDisplay: { protocol: 'spice', ticketed: true },
    };
    const runDir = new RunDir('/run/labvirt');
    const spec = placeVm(launch, runDir.vmPaths('lab1-pc07'), runDir, false);
    assert.deepEqual(spec.display, {
      protocol: 'spice',
      ticketed: true,
      socket: '/run/labvirt/vms/lab1-pc07/spice.sock',
    });
    const deep = new RunDir(`/${'d'.repeat(100)}`);
    assert.throws(() => placeVm(launch, deep.vmPaths('lab1-pc07'), deep, false), {
      code: 'SOCKET_PATH_TOO_LONG',
    });
    const vnc = placeVm(
      { ...launch, remoteDisplay: { protocol: 'vnc', ticketed: true } },
      runDir.vmPaths('x'),
      runDir,
      false,
    );
    assert.deepEqual(vnc.display, {
      protocol: 'vnc',
      ticketed: true,
      consoleSocket: '/run/labvirt/vms/x/console.sock',
    });
  });
});
