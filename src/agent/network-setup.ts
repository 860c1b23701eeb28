// What a host needs for bridged VMs, as an ordered plan: the bridge (iproute2, the modern
// form of the seed's ifconfig/brctl/tunctl), /etc/qemu/bridge.conf for qemu-bridge-helper,
// the minimal sudoers lines for pre-created taps, and the kernel settings connection
// tracking of bridged guests needs. Pure: `labvirt host network-setup` prints the plan or
// applies it (network-setup-apply.ts); each step says how to tell it is already true.
import { isIP } from 'node:net';
import { ipv4Number } from '../domain/address-pool.js';
import { LabvirtError, phrase, type Phrase } from '../domain/errors.js';
import { parseIfname } from '../qemu/cmdline/validate.js';

export interface NetworkSetupInput {
  readonly bridge: string;
  /** An existing NIC to enslave to the bridge (its address then belongs on the bridge). */
  readonly uplink?: string | undefined;
  /** The host's address on the bridge, CIDR, e.g. 10.77.0.1/24. */
  readonly address?: string | undefined;
  readonly taps: 'helper' | 'precreated';
  /** The non-root user the agent runs as: gets sudo rights for pre-created taps only. */
  readonly agentUser?: string | undefined;
  /** Kernel settings and ruleset for seeing RDP connections straight to bridged guests. */
  readonly conntrack: boolean;
}

/** Where the plan's files go; a root prefix lets tests keep away from the real /etc. */
export interface SetupPaths {
  readonly bridgeConf: string;
  readonly sudoers: string;
  readonly modulesLoad: string;
  readonly sysctlConf: string;
  readonly nftRuleset: string;
}

export function setupPaths(root = ''): SetupPaths {
  const prefix = root.replace(/\/+$/, '');
  return {
    bridgeConf: `${prefix}/etc/qemu/bridge.conf`,
    sudoers: `${prefix}/etc/sudoers.d/labvirt`,
    modulesLoad: `${prefix}/etc/modules-load.d/labvirt.conf`,
    sysctlConf: `${prefix}/etc/sysctl.d/60-labvirt.conf`,
    nftRuleset: `${prefix}/etc/labvirt/labvirt.nft`,
  };
}

/** How to tell that a command's effect is already there (answered by a SetupProbe). */
export type SetupCheck =
  | { readonly kind: 'link-exists'; readonly name: string }
  | { readonly kind: 'link-up'; readonly name: string }
  | { readonly kind: 'link-master'; readonly name: string; readonly master: string }
  | { readonly kind: 'address'; readonly name: string; readonly cidr: string }
  /** A file that exists (e.g. a /proc/sys entry once its module is loaded). */
  | { readonly kind: 'file-exists'; readonly path: string }
  /** A file whose trimmed text is `value` (a sysctl). */
  | { readonly kind: 'file-value'; readonly path: string; readonly value: string }
  | { readonly kind: 'nft-table'; readonly family: string; readonly name: string };

export type SetupStep =
  | {
      readonly kind: 'command';
      readonly argv: readonly string[];
      readonly why: Phrase;
      readonly done: SetupCheck;
    }
  /** One line a file must contain; the file is created (mode) when missing. */
  | {
      readonly kind: 'line';
      readonly path: string;
      readonly line: string;
      readonly mode: number;
      readonly why: Phrase;
    }
  /** A file of LabVirt's own, written whole; `verify` checks a written copy (FILE appended). */
  | {
      readonly kind: 'file';
      readonly path: string;
      readonly content: string;
      readonly mode: number;
      readonly why: Phrase;
      readonly verify?: readonly string[];
    };

export interface SetupPlan {
  readonly bridge: string;
  readonly uplink?: string;
  readonly steps: readonly SetupStep[];
  /** Things the operator must know before running it. */
  readonly warnings: readonly Phrase[];
  /** What the plan does not do: persistence of the bridge and of the ruleset. */
  readonly notes: readonly Phrase[];
}

/** Pre-created taps' names start with this, so sudo may allow exactly those. */
export const TAP_NAME_PREFIX = 'lv';
export const NFT_TABLE = { family: 'inet', name: 'labvirt' } as const;
export const BRIDGE_NF_SYSCTL = 'net.bridge.bridge-nf-call-iptables';
export const BRIDGE_NF_PROC = '/proc/sys/net/bridge/bridge-nf-call-iptables';
/** Where Debian 12 installs ip; sudoers rules name programs by absolute path. */
export const IP_PATH = '/usr/sbin/ip';

// Debian's adduser NAME_REGEX, less the trailing '$' of machine accounts.
const UNIX_USER = /^[a-z_][a-z0-9_-]{0,31}$/;

/** An interface name the kernel accepts: the VM options' check, less '.' and '..'. */
export function parseInterfaceName(name: string, field: string): string {
  if (name === '.' || name === '..') {
    throw new LabvirtError('IFNAME_INVALID', { name }, { field });
  }
  try {
    return parseIfname(name);
  } catch (error) {
    if (error instanceof LabvirtError)
      throw new LabvirtError('IFNAME_INVALID', { name }, { field });
    throw error;
  }
}

/** The host's address on the bridge: an IP with a prefix, not the network's own address. */
export function parseBridgeAddress(value: string): string {
  const invalid = () => new LabvirtError('BRIDGE_ADDRESS_INVALID', { value }, { field: 'address' });
  const match = /^([^/\s]+)\/(\d{1,3})$/.exec(value);
  if (match?.[1] === undefined || match[2] === undefined) throw invalid();
  const family = isIP(match[1]);
  const prefix = Number(match[2]);
  if (family === 0 || match[1].includes('%')) throw invalid();
  if (prefix > (family === 4 ? 32 : 128) || (family === 4 && prefix < 1)) throw invalid();
  if (family === 4 && prefix <= 30) {
    const host = (ipv4Number(match[1]) ?? 0) % 2 ** (32 - prefix);
    // The network's address or its broadcast address cannot be the host's.
    if (host === 0 || host === 2 ** (32 - prefix) - 1) throw invalid();
  }
  return `${match[1]}/${prefix}`;
}

export function parseUnixUser(name: string): string {
  if (!UNIX_USER.test(name) || name === 'root') {
    throw new LabvirtError('UNIX_USER_INVALID', { name }, { field: 'agentUser' });
  }
  return name;
}

/**
 * The sudoers file for an agent that pre-creates taps as a non-root user: exactly the
 * commands it runs, with regular expressions (sudo >= 1.9.10) so no other interface, mode
 * or bridge can be named.
 */
export function sudoersContent(user: string, bridge: string): string {
  // sudoers needs ',' escaped in a command's arguments; names are literal text in the
  // regular expressions (a '.' in a bridge name would match any character).
  const tap = `${regexLiteral(TAP_NAME_PREFIX)}[A-Za-z0-9_-]{1\\,13}`;
  return [
    "# LabVirt: the agent pre-creates its VMs' TAP devices (labvirt host network-setup).",
    `Cmnd_Alias LABVIRT_TAPS = ${IP_PATH} ^tuntap add dev ${tap} mode tap user ${regexLiteral(user)}$, \\`,
    `    ${IP_PATH} ^link set ${tap} master ${regexLiteral(bridge)} up$, \\`,
    `    ${IP_PATH} ^link del(ete)? (dev )?${tap}$`,
    `${user} ALL=(root) NOPASSWD: LABVIRT_TAPS`,
    '',
  ].join('\n');
}

/**
 * Text that a sudoers regular expression matches literally: its metacharacters escaped
 * with '\\'. The names given here (interfaces, users) cannot hold what sudoers itself
 * would need escaped (',', ':', '=', spaces).
 */
export function regexLiteral(text: string): string {
  return text.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');
}

/**
 * The ruleset that makes the kernel track bridged guests' connections. It filters nothing
 * (policy accept); re-applying it replaces the table instead of adding rules twice.
 */
export function nftRuleset(): string {
  const table = `table ${NFT_TABLE.family} ${NFT_TABLE.name}`;
  return [
    '# LabVirt: connection tracking for RDP straight to bridged guests',
    '# (labvirt host network-setup). It accepts everything: it only makes the kernel',
    '# track the connections, which the agent reads.',
    table,
    `delete ${table}`,
    `${table} {`,
    '\tchain forward {',
    '\t\ttype filter hook forward priority filter; policy accept;',
    '\t\tct state established,related accept',
    '\t}',
    '}',
    '',
  ].join('\n');
}

/** Validates the input (LabvirtError on the first problem) and returns the ordered plan. */
export function planNetworkSetup(
  input: NetworkSetupInput,
  paths: SetupPaths = setupPaths(),
): SetupPlan {
  const bridge = parseInterfaceName(input.bridge, 'bridge');
  const uplink =
    input.uplink === undefined ? undefined : parseInterfaceName(input.uplink, 'uplink');
  if (uplink === bridge) {
    throw new LabvirtError(
      'OPTION_INVALID',
      { option: '--uplink', reason: phrase('it is the bridge itself') },
      { field: 'uplink' },
    );
  }
  const address = input.address === undefined ? undefined : parseBridgeAddress(input.address);
  const agentUser = input.agentUser === undefined ? undefined : parseUnixUser(input.agentUser);

  const steps: SetupStep[] = [];
  const warnings: Phrase[] = [];
  const notes: Phrase[] = [];
  const command = (argv: string[], why: Phrase, done: SetupCheck) =>
    steps.push({ kind: 'command', argv, why, done });

  command(
    ['ip', 'link', 'add', 'name', bridge, 'type', 'bridge'],
    phrase('the bridge the VMs’ TAP devices join'),
    { kind: 'link-exists', name: bridge },
  );
  if (uplink !== undefined) {
    command(
      ['ip', 'link', 'set', uplink, 'master', bridge],
      phrase('{uplink} carries the bridge’s traffic to the lab’s network', { uplink }),
      { kind: 'link-master', name: uplink, master: bridge },
    );
    warnings.push(
      phrase(
        '{uplink} joins bridge {bridge}: the host’s address on {uplink} stops working and belongs on {bridge} (give it with --address, or let DHCP give it to {bridge}); over SSH on {uplink}, expect to lose the connection',
        { uplink, bridge },
      ),
    );
  }
  if (address !== undefined) {
    command(
      ['ip', 'addr', 'add', address, 'dev', bridge],
      phrase('the host’s address on the bridge'),
      { kind: 'address', name: bridge, cidr: address },
    );
  }
  command(['ip', 'link', 'set', bridge, 'up'], phrase('bring the bridge up'), {
    kind: 'link-up',
    name: bridge,
  });

  if (input.taps === 'helper') {
    steps.push({
      kind: 'line',
      path: paths.bridgeConf,
      line: `allow ${bridge}`,
      mode: 0o644,
      why: phrase('let qemu-bridge-helper attach VMs to {bridge}', { bridge }),
    });
    notes.push(
      phrase(
        'an agent that does not run as root needs qemu-bridge-helper setuid root: dpkg-statoverride --update --add root root 4755 /usr/lib/qemu/qemu-bridge-helper',
      ),
    );
  } else if (agentUser !== undefined) {
    steps.push({
      kind: 'file',
      path: paths.sudoers,
      content: sudoersContent(agentUser, bridge),
      mode: 0o440,
      why: phrase('let agent user {user} create and remove its TAP devices, and nothing else', {
        user: agentUser,
      }),
      verify: ['visudo', '-cf'],
    });
  }

  if (input.conntrack) {
    command(
      ['modprobe', 'br_netfilter'],
      phrase('bridged traffic reaches connection tracking only through br_netfilter'),
      { kind: 'file-exists', path: BRIDGE_NF_PROC },
    );
    steps.push({
      kind: 'file',
      path: paths.modulesLoad,
      content: '# LabVirt: connection tracking of bridged guests\nbr_netfilter\n',
      mode: 0o644,
      why: phrase('load br_netfilter at boot'),
    });
    command(
      ['sysctl', '-w', `${BRIDGE_NF_SYSCTL}=1`],
      phrase('pass bridged IPv4 traffic through netfilter, so its connections are tracked'),
      { kind: 'file-value', path: BRIDGE_NF_PROC, value: '1' },
    );
    steps.push({
      kind: 'file',
      path: paths.sysctlConf,
      content: `# LabVirt: connection tracking of bridged guests\n${BRIDGE_NF_SYSCTL} = 1\n`,
      mode: 0o644,
      why: phrase('keep that setting at boot'),
    });
    steps.push({
      kind: 'file',
      path: paths.nftRuleset,
      content: nftRuleset(),
      mode: 0o644,
      why: phrase('a ruleset that uses connection tracking and filters nothing'),
    });
    command(
      ['nft', '-f', paths.nftRuleset],
      phrase('load it: without a rule that uses it, the kernel tracks no connection'),
      { kind: 'nft-table', ...NFT_TABLE },
    );
    notes.push(
      phrase(
        'to load the ruleset at boot, add include "{file}" to /etc/nftables.conf and enable nftables.service',
        { file: paths.nftRuleset },
      ),
    );
    notes.push(
      phrase(
        'bridged frames now pass the FORWARD chain: where its policy drops (Docker sets that), VMs on {bridge} lose their traffic unless it is accepted first, e.g. iptables -I FORWARD -i {bridge} -o {bridge} -j ACCEPT',
        { bridge },
      ),
    );
  }
  notes.push(
    phrase(
      'the bridge itself does not survive a reboot: make it persistent with systemd-networkd or ifupdown (see the Networking section of the README)',
    ),
  );
  return { bridge, ...(uplink !== undefined ? { uplink } : {}), steps, warnings, notes };
}
