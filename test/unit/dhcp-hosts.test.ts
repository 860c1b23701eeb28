// DHCP host entries (golden): host names made valid and unique, ordered by address, and
// the files of dnsmasq (--dhcp-hostsfile) and ISC dhcpd; and the stable MAC of a
// terminal's VM.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  dhcpHostEntries,
  formatDhcpd,
  formatDnsmasq,
  hostName,
} from '../../src/domain/dhcp-hosts.js';
import { terminalVmMac } from '../../src/domain/terminal-mac.js';
import { macFromUuid, parseMac } from '../../src/qemu/cmdline/validate.js';
import { qemuWithMac } from '../../src/cli/mac-in-use.js';

const inputs = [
  {
    lab: 'Sala B',
    terminal: '00:11:22:33:44:02',
    terminalName: 'Puesto 2',
    mac: '56:aa:00:00:00:02',
    ip: '10.0.0.11',
  },
  {
    lab: 'Sala A',
    terminal: '00:11:22:33:44:01',
    terminalName: 'Puesto Ñandú_1',
    mac: '56:aa:00:00:00:01',
    ip: '10.0.0.9',
  },
  {
    lab: 'Sala A',
    terminal: '00:11:22:33:44:03',
    terminalName: '00:11:22:33:44:03',
    mac: '56:aa:00:00:00:03',
    ip: '10.0.0.100',
  },
  {
    lab: 'Sala B',
    terminal: '00:11:22:33:44:04',
    terminalName: 'puesto-2',
    mac: '56:aa:00:00:00:04',
    ip: '10.0.0.12',
  },
];

describe('DHCP host entries', () => {
  it('name hosts with valid DNS labels, falling back to t-MAC', () => {
    const golden: [string, string][] = [
      ['Puesto 1', 'puesto-1'],
      ['Puesto Ñandú_1', 'puesto-nandu-1'],
      ['  --Lab.PC--07--  ', 'lab-pc-07'],
      ['ПК 5', '5'],
      ['ПК', 't-001122334455'],
      ['!!!', 't-001122334455'],
      ['00:11:22:33:44:55', 't-001122334455'],
      ['00:11:22:33:44:55 ', '00-11-22-33-44-55'],
      ['a'.repeat(70), 'a'.repeat(63)],
      [`${'a'.repeat(62)} b`, 'a'.repeat(62)],
    ];
    for (const [name, expected] of golden)
      assert.equal(hostName(name, '00:11:22:33:44:55'), expected, name);
  });

  it('order entries by address and keep names unique', () => {
    assert.deepEqual(dhcpHostEntries(inputs), [
      {
        lab: 'Sala A',
        terminal: '00:11:22:33:44:01',
        mac: '56:aa:00:00:00:01',
        ip: '10.0.0.9',
        name: 'puesto-nandu-1',
      },
      {
        lab: 'Sala B',
        terminal: '00:11:22:33:44:02',
        mac: '56:aa:00:00:00:02',
        ip: '10.0.0.11',
        name: 'puesto-2',
      },
      {
        lab: 'Sala B',
        terminal: '00:11:22:33:44:04',
        mac: '56:aa:00:00:00:04',
        ip: '10.0.0.12',
        name: 'puesto-2-56aa00000004',
      },
      {
        lab: 'Sala A',
        terminal: '00:11:22:33:44:03',
        mac: '56:aa:00:00:00:03',
        ip: '10.0.0.100',
        name: 't-001122334403',
      },
    ]);
  });

  it('dnsmasq: MAC,IP,NAME lines for --dhcp-hostsfile', () => {
    assert.equal(
      formatDnsmasq(dhcpHostEntries(inputs)),
      [
        '56:aa:00:00:00:01,10.0.0.9,puesto-nandu-1',
        '56:aa:00:00:00:02,10.0.0.11,puesto-2',
        '56:aa:00:00:00:04,10.0.0.12,puesto-2-56aa00000004',
        '56:aa:00:00:00:03,10.0.0.100,t-001122334403',
        '',
      ].join('\n'),
    );
    assert.equal(formatDnsmasq([]), '');
  });

  it('dhcpd: host declarations', () => {
    assert.equal(
      formatDhcpd(dhcpHostEntries(inputs)),
      [
        'host puesto-nandu-1 { hardware ethernet 56:aa:00:00:00:01; fixed-address 10.0.0.9; }',
        'host puesto-2 { hardware ethernet 56:aa:00:00:00:02; fixed-address 10.0.0.11; }',
        'host puesto-2-56aa00000004 { hardware ethernet 56:aa:00:00:00:04; fixed-address 10.0.0.12; }',
        'host t-001122334403 { hardware ethernet 56:aa:00:00:00:03; fixed-address 10.0.0.100; }',
        '',
      ].join('\n'),
    );
    assert.equal(formatDhcpd([]), '');
  });
});

describe('terminalVmMac', () => {
  it('is stable, locally administered unicast, and unlike the per-VM MACs', () => {
    const id = '3f2a6c1e-8d4b-4f6a-9c2e-1b7d5e9a0c3f';
    assert.equal(terminalVmMac(id), terminalVmMac(id.toUpperCase()));
    assert.equal(terminalVmMac(id), '56:17:99:9c:18:ec');
    assert.notEqual(terminalVmMac(id), macFromUuid(id));
    assert.equal(parseMac(terminalVmMac(id)), terminalVmMac(id), 'a valid unicast MAC');
    const first = parseInt(terminalVmMac(id).slice(0, 2), 16);
    assert.equal(first & 0b01, 0, 'unicast');
    assert.equal(first & 0b10, 0b10, 'locally administered');
    // Distinct terminals, distinct MACs.
    const macs = new Set(
      Array.from({ length: 2000 }, (_, i) =>
        terminalVmMac(`00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`),
      ),
    );
    assert.equal(macs.size, 2000);
  });
});

describe('qemuWithMac', () => {
  it('finds a QEMU process by the MAC of one of its NICs, naming its VM', () => {
    const argv = [
      '/usr/bin/qemu-system-x86_64',
      '-name',
      'guest=pc-01,debug-threads=on',
      '-device',
      'virtio-net-pci,id=nic0,netdev=net0,mac=52:54:00:aa:bb:cc,romfile=',
    ];
    assert.equal(qemuWithMac(argv, '52:54:00:AA:BB:CC', 7), 'pc-01');
    assert.equal(qemuWithMac(argv, '52:54:00:aa:bb:cd', 7), undefined);
    assert.equal(
      qemuWithMac(argv.slice(0, 1).concat(argv.slice(3)), '52:54:00:aa:bb:cc', 7),
      'pid 7',
    );
    assert.equal(
      qemuWithMac(['/usr/bin/sleep', 'mac=52:54:00:aa:bb:cc'], '52:54:00:aa:bb:cc', 7),
      undefined,
    );
  });
});
