// The pure parts of the agent's bridged networking: QEMU's network per host mode, TAP names
// and commands (against a scripted runner), dnsmasq's argv and hosts file, and the
// connection-tracking parser on lines copied from a real /proc/net/nf_conntrack.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ConntrackReader,
  readConntrackTable,
  establishedFlows,
  flowsTo,
  type TcpFlow,
} from '../../src/agent/conntrack.js';
import {
  dnsmasqArgv,
  dnsmasqPaths,
  hostsFileText,
  networkAddress,
} from '../../src/agent/dnsmasq.js';
import type { HostNetwork } from '../../src/agent/host-agent.js';
import { sudoersContent } from '../../src/agent/network-setup.js';
import {
  netSpecFor,
  rdpReach,
  tapCommands,
  tapName,
  VmNetwork,
} from '../../src/agent/vm-network.js';
import type { CommandResult, CommandRunner } from '../../src/system/command-runner.js';

const bridged = (taps: 'helper' | 'precreated', bridge = 'lvbr0'): HostNetwork => ({
  mode: 'bridge',
  bridge,
  taps,
  dhcp: true,
});

describe('VM network per host mode', () => {
  const forwards = [{ hostPort: 40001, guestPort: 3389 }];
  it('user mode keeps the forwards; a bridge goes through the helper or a TAP of its own', () => {
    assert.deepEqual(netSpecFor({ mode: 'user' }, 'vm-1', forwards), { mode: 'user', forwards });
    assert.deepEqual(netSpecFor(bridged('helper'), 'vm-1', forwards), {
      mode: 'bridge',
      bridge: 'lvbr0',
    });
    assert.deepEqual(netSpecFor(bridged('precreated'), 'vm-1', forwards), {
      mode: 'tap',
      ifname: tapName('vm-1'),
    });
  });

  it('names TAPs deterministically within 15 characters', () => {
    assert.equal(tapName('vm-1'), tapName('vm-1'));
    assert.notEqual(tapName('vm-1'), tapName('vm-2'));
    assert.match(tapName('a'.repeat(63)), /^lvtap[0-9a-f]{10}$/);
    assert.deepEqual(tapCommands('lvbr0', 'lvtap0123456789', { user: 'root', sudo: false }), {
      add: [
        ['/usr/sbin/ip', 'tuntap', 'add', 'dev', 'lvtap0123456789', 'mode', 'tap', 'user', 'root'],
        ['/usr/sbin/ip', 'link', 'set', 'lvtap0123456789', 'master', 'lvbr0', 'up'],
      ],
      remove: ['/usr/sbin/ip', 'link', 'del', 'lvtap0123456789'],
    });
    assert.deepEqual(tapCommands('lvbr0', 'lvtap0123456789', { user: 'lab', sudo: true }), {
      add: [
        [
          ...['sudo', '-n', '/usr/sbin/ip', 'tuntap', 'add', 'dev', 'lvtap0123456789'],
          ...['mode', 'tap', 'user', 'lab'],
        ],
        ['sudo', '-n', '/usr/sbin/ip', 'link', 'set', 'lvtap0123456789', 'master', 'lvbr0', 'up'],
      ],
      remove: ['sudo', '-n', '/usr/sbin/ip', 'link', 'del', 'lvtap0123456789'],
    });
  });

  it('reaches an RDP guest through QEMU in user mode, at its own address on a bridge', () => {
    assert.deepEqual(rdpReach({ mode: 'user' }, { name: 'v' }, 3389), { via: 'forward' });
    assert.deepEqual(rdpReach(bridged('helper'), { name: 'v', address: '10.7.0.20' }, 3390), {
      via: 'address',
      host: '10.7.0.20',
      port: 3390,
    });
    assert.throws(() => rdpReach(bridged('helper'), { name: 'v' }, 3389), {
      code: 'DISPLAY_NEEDS_ADDRESS',
    });
  });
});

describe('VmNetwork on a scripted runner', () => {
  let sys: string;
  before(async () => {
    sys = await mkdtemp(join(tmpdir(), 'lv-sysnet-'));
    await mkdir(join(sys, 'lvbr0', 'bridge'), { recursive: true });
    await mkdir(join(sys, 'eth0'), { recursive: true }); // an interface, not a bridge
  });
  after(() => rm(sys, { recursive: true, force: true }));

  function runner(failOn?: string): CommandRunner & { calls: string[] } {
    const calls: string[] = [];
    return {
      calls,
      async run(argv): Promise<CommandResult> {
        const line = argv.slice(1).join(' ');
        calls.push(line);
        const fail = failOn !== undefined && line.startsWith(failOn);
        return { code: fail ? 1 : 0, signal: null, stdout: '', stderr: fail ? 'no way' : '' };
      },
    };
  }

  it('refuses a bridge that is not there, or not a bridge, before running anything', async () => {
    for (const bridge of ['lvnone', 'eth0']) {
      const run = runner();
      const network = new VmNetwork(bridged('precreated', bridge), run, sys);
      await assert.rejects(network.prepare('vm-1', []), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'BRIDGE_NOT_FOUND');
        assert.match(error.message, new RegExp(`"${bridge}".*labvirt host network-setup`));
        return true;
      });
      assert.deepEqual(run.calls, []);
    }
  });

  it('makes a pre-created TAP (replacing a leftover), and removes it on release', async () => {
    const run = runner();
    const network = new VmNetwork(bridged('precreated'), run, sys, { user: 'root', sudo: false });
    const tap = tapName('vm-1');
    assert.deepEqual(await network.prepare('vm-1', []), { mode: 'tap', ifname: tap });
    await network.release('vm-1');
    assert.deepEqual(run.calls, [
      `link del ${tap}`,
      `tuntap add dev ${tap} mode tap user root`,
      `link set ${tap} master lvbr0 up`,
      `link del ${tap}`,
    ]);
  });

  it('runs, as a non-root agent, only commands the sudoers lines of network-setup allow', async () => {
    // sudoers' "^...$" arguments are extended regular expressions with ',' escaped.
    const text = sudoersContent('labagent', 'lvbr0');
    const allowed = [...text.matchAll(/(\/\S+) (\^[^$]*\$)/g)].map(([, path, re]) => ({
      path: path ?? '',
      re: new RegExp((re ?? '').replaceAll('\\,', ',')),
    }));
    assert.equal(allowed.length, 3);
    const calls: (readonly string[])[] = [];
    const run: CommandRunner = {
      async run(argv): Promise<CommandResult> {
        calls.push(argv);
        return { code: 0, signal: null, stdout: '', stderr: '' };
      },
    };
    const runAs = { user: 'labagent', sudo: true };
    const network = new VmNetwork(bridged('precreated'), run, sys, runAs);
    for (const name of ['vm-1', 'Aula 2, puesto 3', 'x'.repeat(63)]) {
      await network.prepare(name, []);
      await network.release(name);
    }
    assert.equal(calls.length, 12);
    for (const argv of calls) {
      assert.deepEqual(argv.slice(0, 2), ['sudo', '-n'], argv.join(' '));
      const [path, ...args] = argv.slice(2);
      const ok = allowed.some((a) => a.path === path && a.re.test(args.join(' ')));
      assert.ok(ok, `sudoers does not allow: ${argv.join(' ')}`);
    }
  });

  it('leaves nothing behind when the TAP cannot join the bridge', async () => {
    const run = runner('link set');
    const network = new VmNetwork(bridged('precreated'), run, sys);
    await assert.rejects(network.prepare('vm-1', []), { code: 'TAP_SETUP_FAILED' });
    assert.equal(run.calls.at(-1), `link del ${tapName('vm-1')}`);
  });

  it('runs nothing for the helper or user mode', async () => {
    const run = runner();
    await new VmNetwork(bridged('helper'), run, sys).prepare('vm-1', []);
    await new VmNetwork(bridged('helper'), run, sys).release('vm-1');
    await new VmNetwork({ mode: 'user' }, run, sys).prepare('vm-1', []);
    assert.deepEqual(run.calls, []);
  });
});

describe('dnsmasq', () => {
  it('serves only the hosts file on the bridge, no DNS (golden argv)', () => {
    const paths = dnsmasqPaths('/run/labvirt/dnsmasq-lvbr0');
    assert.equal(networkAddress('10.77.3.1', '255.255.255.0'), '10.77.3.0');
    assert.equal(networkAddress('10.77.3.129', '255.255.255.128'), '10.77.3.128');
    assert.deepEqual(
      dnsmasqArgv({
        bridge: 'lvbr0',
        subnet: { address: '10.77.3.1', netmask: '255.255.255.0' },
        paths,
        user: 'root',
      }),
      [
        '/usr/sbin/dnsmasq',
        '--keep-in-foreground',
        '--log-facility=-',
        '--log-dhcp',
        '--pid-file=/run/labvirt/dnsmasq-lvbr0/dnsmasq.pid',
        '--conf-file=/dev/null',
        '--port=0',
        '--bind-interfaces',
        '--interface=lvbr0',
        '--except-interface=lo',
        '--user=root',
        '--dhcp-range=10.77.3.0,static,255.255.255.0,1h',
        '--dhcp-ignore=tag:!known',
        '--dhcp-hostsfile=/run/labvirt/dnsmasq-lvbr0/dhcp-hosts',
        '--dhcp-leasefile=/run/labvirt/dnsmasq-lvbr0/dnsmasq.leases',
      ],
    );
  });

  it('writes MAC,IP,NAME lines, leaving out a name dnsmasq would not take', () => {
    assert.equal(
      hostsFileText([
        { mac: '52:54:00:AA:00:01', ip: '10.77.3.10', name: 'pc-01' },
        { mac: '52:54:00:aa:00:02', ip: '10.77.3.11', name: 'Aula 2, puesto 3' },
      ]),
      '52:54:00:aa:00:01,10.77.3.10,pc-01\n52:54:00:aa:00:02,10.77.3.11\n',
    );
    assert.equal(hostsFileText([]), '');
    assert.throws(() => hostsFileText([{ mac: 'zz', ip: '10.0.0.1', name: 'x' }]), {
      code: 'MAC_MALFORMED',
    });
    assert.throws(
      () => hostsFileText([{ mac: '52:54:00:00:00:01', ip: '10.0.0.1\nx', name: 'x' }]),
      { code: 'IP_INVALID' },
    );
  });
});

// Copied from /proc/net/nf_conntrack on this machine (bridged flows between namespaces).
const TABLE = `ipv4     2 tcp      6 431998 ESTABLISHED src=10.77.1.50 dst=10.77.1.10 sport=47364 dport=3390 src=10.77.1.10 dst=10.77.1.50 sport=3390 dport=47364 [ASSURED] mark=0 zone=0 use=2
ipv4     2 tcp      6 118 TIME_WAIT src=10.77.1.50 dst=10.77.1.10 sport=39408 dport=3389 src=10.77.1.10 dst=10.77.1.50 sport=3389 dport=39408 [ASSURED] mark=0 zone=0 use=2
ipv4     2 tcp      6 299 ESTABLISHED src=127.0.0.1 dst=127.0.0.1 sport=5432 dport=45746 src=127.0.0.1 dst=127.0.0.1 sport=45746 dport=5432 [ASSURED] mark=0 zone=0 use=2
ipv4     2 tcp      6 9 CLOSE src=10.77.1.50 dst=10.77.1.10 sport=38786 dport=3393 src=10.77.1.10 dst=10.77.1.50 sport=3393 dport=38786 [ASSURED] mark=0 zone=0 use=2
ipv4     2 udp      17 29 src=10.77.1.50 dst=10.77.1.10 sport=39642 dport=3392 [UNREPLIED] src=10.77.1.10 dst=10.77.1.50 sport=3392 dport=39642 mark=0 zone=0 use=2
ipv6     10 tcp      6 431999 ESTABLISHED src=fd00:0077:0000:0000:0000:0000:0000:0050 dst=fd00:0077:0000:0000:0000:0000:0000:0010 sport=52840 dport=3391 src=fd00:0077:0000:0000:0000:0000:0000:0010 dst=fd00:0077:0000:0000:0000:0000:0000:0050 sport=3391 dport=52840 [ASSURED] mark=0 zone=0 use=2
ipv6     10 tcp      6 118 TIME_WAIT src=fd00:0077:0000:0000:0000:0000:0000:0050 dst=fd00:0077:0000:0000:0000:0000:0000:0010 sport=52840 dport=3391 src=fd00:0077:0000:0000:0000:0000:0000:0010 dst=fd00:0077:0000:0000:0000:0000:0000:0050 sport=3391 dport=52840 [ASSURED] mark=0 zone=0 use=2
`;

describe('connection tracking', () => {
  const established: TcpFlow[] = [
    { src: '10.77.1.50', sport: 47364, dst: '10.77.1.10', dport: 3390 },
    { src: '127.0.0.1', sport: 5432, dst: '127.0.0.1', dport: 45746 },
    {
      src: 'fd00:0077:0000:0000:0000:0000:0000:0050',
      sport: 52840,
      dst: 'fd00:0077:0000:0000:0000:0000:0000:0010',
      dport: 3391,
    },
  ];

  it('keeps only established TCP flows, in their original direction (golden)', () => {
    assert.deepEqual(establishedFlows(TABLE), established);
    assert.deepEqual(establishedFlows(''), []);
    assert.deepEqual(establishedFlows('garbage\nipv4 2 tcp 6 1 ESTABLISHED src=x\n'), []);
  });

  it('picks the flows to a guest port, not those from the host itself (its gateway)', () => {
    const gateway = { src: '10.77.1.1', sport: 41000, dst: '10.77.1.10', dport: 3390 };
    const flows = [...established, gateway];
    assert.deepEqual(flowsTo(flows, '10.77.1.10', 3390, new Set(['10.77.1.1'])), [established[0]]);
    assert.deepEqual(flowsTo(flows, '10.77.1.10', 3389, new Set()), []);
  });

  it('reads on demand, at most every cacheMs, and keeps when a flow was first seen', async () => {
    let table = '';
    let reads = 0;
    let clock = Date.parse('2026-11-29T10:00:00Z');
    const reader = new ConntrackReader({
      read: async () => (reads++, table),
      now: () => new Date(clock),
      local: () => new Set(['10.77.1.1']),
      cacheMs: 500,
    });
    assert.deepEqual(await reader.connections('10.77.1.10', 3390), []);
    table = TABLE;
    clock += 200;
    assert.deepEqual(await reader.connections('10.77.1.10', 3390), [], 'still cached');
    clock += 400;
    const first = await reader.connections('10.77.1.10', 3390);
    assert.deepEqual(first, [
      { peer: '10.77.1.50:47364', since: '2026-11-29T10:00:00.600Z', via: 'conntrack' },
    ]);
    clock += 1_000;
    assert.deepEqual(await reader.connections('10.77.1.10', 3390), first, 'same since');
    table = '';
    clock += 1_000;
    assert.deepEqual(await reader.connections('10.77.1.10', 3390), []);
    assert.equal(reads, 4);
  });

  it('reads a missing table as empty; any other failure once said, then no connections', async () => {
    assert.equal(await readConntrackTable('/nonexistent/nf_conntrack'), '');
    const lines: string[] = [];
    let clock = 0;
    const reader = new ConntrackReader({
      read: () =>
        Promise.reject(Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' })),
      now: () => new Date(clock),
      local: () => new Set(),
      log: (line) => lines.push(line),
      cacheMs: 0,
    });
    assert.deepEqual(await reader.connections('10.77.1.10', 3390), []);
    clock += 10;
    assert.deepEqual(await reader.connections('10.77.1.10', 3390), []);
    assert.equal(lines.length, 1);
    assert.match(lines[0] ?? '', /nf_conntrack.*EACCES.*needs root/);
    assert.match(reader.problem ?? '', /EACCES/);
  });
});
