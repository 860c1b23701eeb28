// How a VM of this host reaches the network (HostNetwork): QEMU's user-mode networking,
// a TAP device on a bridge made by qemu-bridge-helper, or a TAP the agent makes itself
// (`ip tuntap`) before QEMU starts and deletes after the VM ends. Also where the gateway
// reaches a VM's RDP port: QEMU's loopback forward, or the bridged guest's own address.
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { networkInterfaces, userInfo } from 'node:os';
import { LabvirtError } from '../domain/errors.js';
import type { NetSpec, PortForward } from '../qemu/cmdline/vm-spec.js';
import { CommandNotFoundError, type CommandRunner } from '../system/command-runner.js';
import type { HostNetwork } from './host-agent.js';

/** The `ip` of iproute2 (its path on Debian, so a PATH without /usr/sbin still finds it). */
export const IP_BINARY = '/usr/sbin/ip';
export const SYS_CLASS_NET = '/sys/class/net';

/**
 * The TAP device of a VM: deterministic (the same VM name, the same device, so a leftover
 * of a crashed agent is found and replaced) and within Linux's 15 characters.
 */
export function tapName(vmName: string): string {
  return `lvtap${createHash('sha256').update(vmName).digest('hex').slice(0, 10)}`;
}

/** Where the gateway relays a VM's RDP: to a loopback port QEMU forwards, or to the guest. */
export type RdpReach =
  | { readonly via: 'forward' }
  | { readonly via: 'address'; readonly host: string; readonly port: number };

/** A bridged guest is reached at its own address (from DHCP); a user-mode one through QEMU. */
export function rdpReach(
  network: HostNetwork,
  vm: { readonly name: string; readonly address?: string | undefined },
  guestPort: number,
): RdpReach {
  if (network.mode === 'user') return { via: 'forward' };
  if (vm.address === undefined) {
    throw new LabvirtError('DISPLAY_NEEDS_ADDRESS', { name: vm.name, bridge: network.bridge });
  }
  return { via: 'address', host: vm.address, port: guestPort };
}

/** QEMU's network for a VM (forwards only apply to user-mode networking). */
export function netSpecFor(
  network: HostNetwork,
  vmName: string,
  forwards: readonly PortForward[],
): NetSpec {
  if (network.mode === 'user') return { mode: 'user', forwards };
  if (network.taps === 'helper') return { mode: 'bridge', bridge: network.bridge };
  return { mode: 'tap', ifname: tapName(vmName) };
}

/** Who runs the TAP commands: the TAP's owner, and whether `sudo -n` is needed (non-root). */
export interface TapRunAs {
  readonly user: string;
  readonly sudo: boolean;
}

export function currentTapRunAs(): TapRunAs {
  return { user: userInfo().username, sudo: process.getuid?.() !== 0 };
}

/**
 * The argv that make a VM's TAP and put it on the bridge, and the one that removes it:
 * exactly the commands the sudoers lines of `labvirt host network-setup` allow a non-root
 * agent (sudoersContent in network-setup.ts), so keep the two in step.
 */
export function tapCommands(bridge: string, tap: string, runAs: TapRunAs) {
  const ip = runAs.sudo ? ['sudo', '-n', IP_BINARY] : [IP_BINARY];
  return {
    add: [
      [...ip, 'tuntap', 'add', 'dev', tap, 'mode', 'tap', 'user', runAs.user],
      [...ip, 'link', 'set', tap, 'master', bridge, 'up'],
    ],
    remove: [...ip, 'link', 'del', tap],
  };
}

/** The bridge's first IPv4 address with its prefix length, e.g. 10.77.0.1/24. */
export function bridgeIpv4(bridge: string): { address: string; netmask: string } | undefined {
  const entry = networkInterfaces()[bridge]?.find((a) => a.family === 'IPv4');
  return entry === undefined ? undefined : { address: entry.address, netmask: entry.netmask };
}

export async function bridgeExists(bridge: string, sysClassNet = SYS_CLASS_NET): Promise<boolean> {
  // Not just any interface: a bridge has a bridge/ directory there.
  return stat(join(sysClassNet, bridge, 'bridge')).then(
    (info) => info.isDirectory(),
    () => false,
  );
}

export class VmNetwork {
  readonly network: HostNetwork;
  #runner: CommandRunner;
  #sysClassNet: string;
  #runAs: TapRunAs;

  constructor(
    network: HostNetwork,
    runner: CommandRunner,
    sysClassNet = SYS_CLASS_NET,
    runAs: TapRunAs = currentTapRunAs(),
  ) {
    this.network = network;
    this.#runner = runner;
    this.#sysClassNet = sysClassNet;
    this.#runAs = runAs;
  }

  /** Refuses a bridge that is not there (before anything is made for a VM). */
  async check(): Promise<void> {
    const network = this.network;
    if (network.mode === 'user') return;
    if (!(await bridgeExists(network.bridge, this.#sysClassNet))) {
      throw new LabvirtError('BRIDGE_NOT_FOUND', { bridge: network.bridge });
    }
  }

  /**
   * Checks the bridge and makes what QEMU needs before it starts (a pre-created TAP);
   * the caller must know that no VM of this name runs (its TAP would be replaced).
   */
  async prepare(vmName: string, forwards: readonly PortForward[]): Promise<NetSpec> {
    await this.check();
    const net = netSpecFor(this.network, vmName, forwards);
    if (net.mode !== 'tap' || this.network.mode !== 'bridge') return net;
    const commands = tapCommands(this.network.bridge, net.ifname, this.#runAs);
    await this.#run(commands.remove, true); // a leftover of an agent that died
    try {
      for (const argv of commands.add) await this.#run(argv);
    } catch (error) {
      await this.#run(commands.remove, true);
      throw error;
    }
    return net;
  }

  /** Removes what prepare made, once the VM has ended or failed to start. */
  async release(vmName: string): Promise<void> {
    if (this.network.mode !== 'bridge' || this.network.taps !== 'precreated') return;
    await this.#run(tapCommands(this.network.bridge, tapName(vmName), this.#runAs).remove, true);
  }

  async #run(argv: readonly string[], mayFail = false): Promise<void> {
    const command = argv.slice(argv.indexOf(IP_BINARY) + 1).join(' ');
    const result = await this.#runner.run(argv, { timeoutMs: 10_000 }).catch((error: unknown) => {
      if (!(error instanceof CommandNotFoundError)) throw error;
      const pkg = argv[0] === 'sudo' ? 'sudo' : 'iproute2';
      throw new LabvirtError('TAP_SETUP_FAILED', {
        command,
        detail: `${argv[0]} is not installed: install the Debian package ${pkg}`,
      });
    });
    if (result.code === 0 || mayFail) return;
    throw new LabvirtError('TAP_SETUP_FAILED', {
      command,
      detail: result.stderr.trim() || `exit ${result.code ?? result.signal}`,
    });
  }
}
