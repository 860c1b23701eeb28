// The network set-up planner: golden plans, the printed script, input checks, and --apply's
// skipping and stopping against a fake host (the real one: host-network-setup.test.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  applyNetworkSetup,
  type SetupHost,
  type StepReport,
} from '../../src/agent/network-setup-apply.js';
import { renderScript } from '../../src/agent/network-setup-script.js';
import {
  nftRuleset,
  parseBridgeAddress,
  planNetworkSetup,
  setupPaths,
  regexLiteral,
  sudoersContent,
  type NetworkSetupInput,
  type SetupPlan,
  type SetupStep,
} from '../../src/agent/network-setup.js';
import { paramText, type Phrase } from '../../src/domain/errors.js';

const say = (p: Phrase) => paramText(p);

/** One line per step: what it does and how --apply tells it is already so. */
function summary(plan: SetupPlan): string[] {
  return plan.steps.map((step: SetupStep) => {
    switch (step.kind) {
      case 'command': {
        const { kind, ...check } = step.done;
        return `run ${step.argv.join(' ')} | skip if ${kind} ${Object.values(check).join(' ')}`;
      }
      case 'line':
        return `line ${step.path} "${step.line}" ${step.mode.toString(8)}`;
      case 'file':
        return `file ${step.path} ${step.mode.toString(8)}${step.verify ? ` | ${step.verify.join(' ')}` : ''}`;
    }
  });
}

const base: NetworkSetupInput = { bridge: 'labvirt0', taps: 'helper', conntrack: true };

const conntrackSteps = [
  'run modprobe br_netfilter | skip if file-exists /proc/sys/net/bridge/bridge-nf-call-iptables',
  'file /etc/modules-load.d/labvirt.conf 644',
  'run sysctl -w net.bridge.bridge-nf-call-iptables=1 | skip if file-value /proc/sys/net/bridge/bridge-nf-call-iptables 1',
  'file /etc/sysctl.d/60-labvirt.conf 644',
  'file /etc/labvirt/labvirt.nft 644',
  'run nft -f /etc/labvirt/labvirt.nft | skip if nft-table inet labvirt',
];

describe('network set-up plan', () => {
  it('helper taps, no uplink or address: bridge, bridge.conf, connection tracking', () => {
    const plan = planNetworkSetup(base);
    assert.deepEqual(summary(plan), [
      'run ip link add name labvirt0 type bridge | skip if link-exists labvirt0',
      'run ip link set labvirt0 up | skip if link-up labvirt0',
      'line /etc/qemu/bridge.conf "allow labvirt0" 644',
      ...conntrackSteps,
    ]);
    assert.deepEqual(plan.warnings, []);
    assert.equal(plan.notes.length, 4);
    assert.match(plan.notes[2]?.msgid ?? '', /FORWARD chain/);
    assert.deepEqual(plan.notes[2]?.params, { bridge: 'labvirt0' });
  });

  it('helper taps with uplink and address, no connection tracking', () => {
    const plan = planNetworkSetup({
      ...base,
      bridge: 'br0',
      uplink: 'eno1',
      address: '10.77.0.1/24',
      conntrack: false,
    });
    assert.deepEqual(summary(plan), [
      'run ip link add name br0 type bridge | skip if link-exists br0',
      'run ip link set eno1 master br0 | skip if link-master eno1 br0',
      'run ip addr add 10.77.0.1/24 dev br0 | skip if address br0 10.77.0.1/24',
      'run ip link set br0 up | skip if link-up br0',
      'line /etc/qemu/bridge.conf "allow br0" 644',
    ]);
    assert.deepEqual(plan.warnings.map(say), [
      'eno1 joins bridge br0: the host’s address on eno1 stops working and belongs on br0 (give it with --address, or let DHCP give it to br0); over SSH on eno1, expect to lose the connection',
    ]);
  });

  it('pre-created taps for a non-root agent: sudoers checked by visudo, no bridge.conf', () => {
    const plan = planNetworkSetup(
      { ...base, taps: 'precreated', agentUser: 'labvirt', address: 'fd00:77::1/64' },
      setupPaths('/tmp/root/'),
    );
    assert.deepEqual(summary(plan), [
      'run ip link add name labvirt0 type bridge | skip if link-exists labvirt0',
      'run ip addr add fd00:77::1/64 dev labvirt0 | skip if address labvirt0 fd00:77::1/64',
      'run ip link set labvirt0 up | skip if link-up labvirt0',
      'file /tmp/root/etc/sudoers.d/labvirt 440 | visudo -cf',
      ...conntrackSteps.map((line) => line.replaceAll(' /etc/', ' /tmp/root/etc/')),
    ]);
  });

  it('pre-created taps for a root agent need no sudoers', () => {
    const plan = planNetworkSetup({ ...base, taps: 'precreated', conntrack: false });
    assert.deepEqual(summary(plan), [
      'run ip link add name labvirt0 type bridge | skip if link-exists labvirt0',
      'run ip link set labvirt0 up | skip if link-up labvirt0',
    ]);
  });

  it('sudoers names exactly the tap commands; the ruleset replaces itself and filters nothing', () => {
    assert.equal(
      sudoersContent('lvagent', 'br0'),
      [
        "# LabVirt: the agent pre-creates its VMs' TAP devices (labvirt host network-setup).",
        'Cmnd_Alias LABVIRT_TAPS = /usr/sbin/ip ^tuntap add dev lv[A-Za-z0-9_-]{1\\,13} mode tap user lvagent$, \\',
        '    /usr/sbin/ip ^link set lv[A-Za-z0-9_-]{1\\,13} master br0 up$, \\',
        '    /usr/sbin/ip ^link del(ete)? (dev )?lv[A-Za-z0-9_-]{1\\,13}$',
        'lvagent ALL=(root) NOPASSWD: LABVIRT_TAPS',
        '',
      ].join('\n'),
    );
    // A '.' in a bridge name (a VLAN's, say) is a literal dot, not any character.
    assert.match(
      sudoersContent('lvagent', 'br0.10'),
      /^ {4}\/usr\/sbin\/ip \^link set lv\[A-Za-z0-9_-\]\{1\\,13\} master br0\\\.10 up\$, \\$/m,
    );
    assert.equal(
      regexLiteral('a.b-c_d^$|?*+()[]{}\\'),
      'a\\.b-c_d\\^\\$\\|\\?\\*\\+\\(\\)\\[\\]\\{\\}\\\\',
    );
    const rules = nftRuleset();
    assert.match(rules, /^table inet labvirt\ndelete table inet labvirt\ntable inet labvirt \{$/m);
    assert.match(rules, /policy accept;/);
    assert.doesNotMatch(rules, /\b(drop|reject)\b/);
  });

  it('prints a commented script for a person to copy', () => {
    const plan = planNetworkSetup({ ...base, bridge: 'br0', conntrack: false });
    assert.equal(
      renderScript(plan, say, ['header']),
      [
        '#!/bin/sh',
        '# header',
        '',
        '# the bridge the VMs’ TAP devices join',
        'ip link add name br0 type bridge',
        '',
        '# bring the bridge up',
        'ip link set br0 up',
        '',
        '# let qemu-bridge-helper attach VMs to br0',
        'mkdir -p /etc/qemu',
        "grep -qxF 'allow br0' /etc/qemu/bridge.conf 2>/dev/null || echo 'allow br0' >> /etc/qemu/bridge.conf",
        'chmod 0644 /etc/qemu/bridge.conf',
        '',
        '# an agent that does not run as root needs qemu-bridge-helper setuid root: dpkg-statoverride --update --add root root 4755 /usr/lib/qemu/qemu-bridge-helper',
        '# the bridge itself does not survive a reboot: make it persistent with systemd-networkd or ifupdown (see the Networking section of the README)',
        '',
      ].join('\n'),
    );
  });

  it('refuses bad input with the code that names it', () => {
    const bad: [Partial<NetworkSetupInput>, string][] = [
      [{ bridge: 'a b' }, 'IFNAME_INVALID'],
      [{ bridge: 'sixteen-chars-xx' }, 'IFNAME_INVALID'],
      [{ bridge: '..' }, 'IFNAME_INVALID'],
      [{ bridge: '' }, 'IFNAME_INVALID'],
      [{ uplink: 'eth0;reboot' }, 'IFNAME_INVALID'],
      [{ uplink: 'labvirt0' }, 'OPTION_INVALID'],
      [{ address: '10.77.0.1' }, 'BRIDGE_ADDRESS_INVALID'],
      [{ address: '10.77.0.0/24' }, 'BRIDGE_ADDRESS_INVALID'],
      [{ address: '10.77.0.255/24' }, 'BRIDGE_ADDRESS_INVALID'],
      [{ address: '10.77.0.1/33' }, 'BRIDGE_ADDRESS_INVALID'],
      [{ address: '300.1.1.1/24' }, 'BRIDGE_ADDRESS_INVALID'],
      [{ address: 'fe80::1%eth0/64' }, 'BRIDGE_ADDRESS_INVALID'],
      [{ taps: 'precreated', agentUser: 'Bad User' }, 'UNIX_USER_INVALID'],
      [{ taps: 'precreated', agentUser: 'root' }, 'UNIX_USER_INVALID'],
    ];
    for (const [input, code] of bad) {
      assert.throws(() => planNetworkSetup({ ...base, ...input }), { code }, JSON.stringify(input));
    }
    assert.equal(parseBridgeAddress('10.77.0.1/24'), '10.77.0.1/24');
    assert.equal(parseBridgeAddress('192.168.5.7/32'), '192.168.5.7/32');
  });
});

/** A host in memory: interfaces, files, the nft table; runs the plan's commands. */
class FakeHost implements SetupHost {
  readonly links = new Map<
    string,
    { up: boolean; master?: string; addrs: string[]; kind: string }
  >();
  readonly files = new Map<string, string>();
  readonly ran: string[] = [];
  nftTable = false;
  failOn: string | undefined;

  readFile(path: string) {
    return Promise.resolve(this.files.get(path));
  }
  interfaceExists(name: string) {
    return Promise.resolve(this.links.has(name));
  }
  writeFileAtomic(path: string, content: string) {
    this.ran.push(`write ${path}`);
    this.files.set(path, content);
    return Promise.resolve();
  }
  run(argv: readonly string[]) {
    const line = argv.join(' ');
    const ok = (stdout = '') => Promise.resolve({ code: 0, signal: null, stdout, stderr: '' });
    const link = (name: string | undefined) => this.links.get(name ?? '');
    if (argv[1] === '-j') {
      const found = link(argv.at(-1));
      if (found === undefined)
        return Promise.resolve({ code: 1, signal: null, stdout: '', stderr: '' });
      const [ip, prefix] = found.addrs.length > 0 ? found.addrs[0]!.split('/') : [];
      return ok(
        JSON.stringify([
          {
            flags: found.up ? ['UP'] : [],
            ...(found.master ? { master: found.master } : {}),
            linkinfo: { info_kind: found.kind },
            addr_info: ip ? [{ local: ip, prefixlen: Number(prefix) }] : [],
          },
        ]),
      );
    }
    if (line.startsWith('nft list'))
      return ok().then((r) => ({ ...r, code: this.nftTable ? 0 : 1 }));
    this.ran.push(line);
    if (line === this.failOn) {
      return Promise.resolve({
        code: 2,
        signal: null,
        stdout: '',
        stderr: 'RTNETLINK answers: Operation not permitted\n',
      });
    }
    if (argv[2] === 'add' && argv[1] === 'link')
      this.links.set(argv[4]!, { up: false, addrs: [], kind: 'bridge' });
    else if (argv[1] === 'link' && argv[4] === 'master') link(argv[3])!.master = argv[5]!;
    else if (argv[1] === 'link' && argv[4] === 'up') link(argv[3])!.up = true;
    else if (argv[1] === 'addr') link(argv[5])!.addrs.push(argv[3]!);
    else if (argv[0] === 'sysctl')
      this.files.set('/proc/sys/net/bridge/bridge-nf-call-iptables', '1\n');
    else if (argv[0] === 'nft') this.nftTable = true;
    return ok();
  }
}

describe('applying a plan', () => {
  const input: NetworkSetupInput = {
    ...base,
    bridge: 'br0',
    uplink: 'eno1',
    address: '10.77.0.1/24',
  };

  it('does what is missing, then skips everything the second time', async () => {
    const host = new FakeHost();
    host.links.set('eno1', { up: true, addrs: [], kind: '' });
    host.files.set('/proc/sys/net/bridge/bridge-nf-call-iptables', '0\n'); // module loaded, off
    host.files.set('/etc/qemu/bridge.conf', 'allow virbr0'); // no final newline
    const plan = planNetworkSetup(input);
    const first = await applyNetworkSetup(plan, host);
    assert.deepEqual(
      first.map((r: StepReport) => r.outcome),
      ['done', 'done', 'done', 'done', 'done', 'skipped', 'done', 'done', 'done', 'done', 'done'],
    );
    assert.equal(host.files.get('/etc/qemu/bridge.conf'), 'allow virbr0\nallow br0\n');
    assert.deepEqual(host.ran, [
      'ip link add name br0 type bridge',
      'ip link set eno1 master br0',
      'ip addr add 10.77.0.1/24 dev br0',
      'ip link set br0 up',
      'write /etc/qemu/bridge.conf',
      'write /etc/modules-load.d/labvirt.conf',
      'sysctl -w net.bridge.bridge-nf-call-iptables=1',
      'write /etc/sysctl.d/60-labvirt.conf',
      'write /etc/labvirt/labvirt.nft',
      'nft -f /etc/labvirt/labvirt.nft',
    ]);
    host.ran.length = 0;
    const second = await applyNetworkSetup(plan, host);
    assert.ok(second.every((r) => r.outcome === 'skipped'));
    assert.deepEqual(host.ran, [], 'nothing run or written the second time');
  });

  it('stops at the first failure, naming the step, and runs nothing after it', async () => {
    const host = new FakeHost();
    host.links.set('eno1', { up: true, addrs: [], kind: '' });
    host.failOn = 'ip addr add 10.77.0.1/24 dev br0';
    const seen: number[] = [];
    await assert.rejects(
      applyNetworkSetup(planNetworkSetup(input), host, (r) => seen.push(r.index)),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'NETWORK_SETUP_STEP_FAILED');
        assert.equal(
          error.message,
          'network-setup stopped at step 3 "ip addr add 10.77.0.1/24 dev br0" (the host’s address on the bridge): RTNETLINK answers: Operation not permitted',
        );
        return true;
      },
    );
    assert.deepEqual(seen, [0, 1]);
    assert.equal(host.ran.at(-1), 'ip addr add 10.77.0.1/24 dev br0');
  });
});
