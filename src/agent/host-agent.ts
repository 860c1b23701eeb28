// What the controller asks of a host. The in-process agent (LocalAgent) and remote agents
// over HTTPS (RemoteAgent, talking to `labvirt agent`) implement the same interface, so the controller cannot tell them apart:
// plain data in and out (JSON-ready), and VMs named by the controller.
import type { Duplex } from 'node:stream';

export interface HostReport {
  readonly name: string;
  /** 'local' for the in-process agent, the agent's URL for a remote one. */
  readonly address: string;
  readonly cpus: number;
  readonly memoryMiB: number;
  readonly qemu: {
    readonly available: boolean;
    readonly version?: string;
    readonly problem?: string;
  };
  readonly kvm: { readonly usable: boolean; readonly reason?: string };
  /**
   * The address terminals reach this host's gateway at; undefined when it is the address
   * they reach the controller at (the in-process agent with no address configured).
   */
  readonly gatewayAddress?: string | undefined;
  /** How the host's VMs reach the network (see HostNetwork). */
  readonly network?: HostNetwork | undefined;
  /**
   * Its image store is the controller's own (the in-process agent, or an agent given the
   * shared-storage path): nothing is copied to it, and admin sessions may run here.
   */
  readonly sharedStore?: boolean | undefined;
}

/**
 * How a host's VMs reach the network: user-mode networking (no root needed; terminals
 * reach guests only through the gateway), or a TAP device on a Linux bridge, made by
 * qemu-bridge-helper ('helper') or by the agent with `ip tuntap` before QEMU starts
 * ('precreated', for QEMU without the setuid helper). With `dhcp`, the agent runs dnsmasq
 * on the bridge, serving only the addresses of setDhcpHosts.
 */
export type HostNetwork =
  | { readonly mode: 'user' }
  | {
      readonly mode: 'bridge';
      readonly bridge: string;
      readonly taps: 'helper' | 'precreated';
      readonly dhcp: boolean;
    };

/** One host entry of the managed DHCP server: a VM's MAC and the address it gets. */
export interface DhcpHost {
  readonly mac: string;
  readonly ip: string;
  /** A host name for it (the terminal's name where the VM serves one). */
  readonly name: string;
}

/** A version of a profile's image in the host's image store, named by ids only. */
export interface ImageRef {
  readonly profileId: string;
  readonly versionId: string;
}

/** One layer of a version's image chain, and what its file must hash to. */
export interface ImageLayer extends ImageRef {
  readonly sha256: string;
  readonly sizeBytes: number;
}

/** Fetches a version's file into the host's store from the controller's (image-fetcher.ts). */
export interface LayerFetcher {
  /** Resolves once the layer's file is in the store, whole and verified by its sha256. */
  fetch(layer: ImageLayer): Promise<void>;
}

/** The protocols a terminal's client may speak to a VM. */
export type DisplayProtocol = 'vnc' | 'spice' | 'rdp';

/**
 * How terminals reach a VM: the agent's gateway listens on a TCP port of the host and
 * relays to the VM's display socket (vnc, spice) or to the guest's own port (rdp).
 */
export interface AgentDisplaySpec {
  readonly protocol: DisplayProtocol;
  /** rdp: the port the guest listens on (3389 when not given). */
  readonly guestPort?: number | undefined;
  /** vnc, spice: clients need a password, set by HostAgent.ticket (none is set at start). */
  readonly ticketed: boolean;
}

/** A connection to a VM's display or guest port, as the agent sees it. */
export interface DisplayConnection {
  /** The client's address and port, e.g. '10.0.0.7:51234'. */
  readonly peer: string;
  readonly since: string;
  /**
   * How the agent knows of it: its gateway relays it, QEMU lists it as a display client
   * (QMP query-vnc/query-spice and their events), or the host's connection tracking sees
   * it going straight to a bridged guest's port.
   */
  readonly via: 'gateway' | 'display' | 'conntrack';
  /** Bytes relayed each way, for gateway connections. */
  readonly bytesIn?: number | undefined;
  readonly bytesOut?: number | undefined;
}

/** A VM the controller wants running: its definition, and the image it boots. */
export interface AgentVmSpec {
  /** Unique on the host; the agent's handle for the VM. */
  readonly name: string;
  readonly uuid: string;
  readonly memoryMiB: number;
  readonly cpus: number;
  readonly nic: { readonly model: 'virtio' | 'rtl8139' | 'e1000'; readonly mac: string };
  readonly diskBus: 'ide' | 'virtio';
  /** The version (or admin draft) it boots. */
  readonly image: ImageRef;
  /**
   * 'discard': a client VM, the sealed version under a per-VM overlay deleted when it ends;
   * 'keep': an administrative VM writing straight into its draft layer.
   */
  readonly writes: 'discard' | 'keep';
  /** 'none': no NIC's network; otherwise the host's network (HostReport.network). */
  readonly net?: 'user' | 'none';
  /**
   * The IPv4 address its MAC is given by DHCP (from its lab's address pool), on a bridged
   * host: the gateway reaches an rdp guest there, and connection tracking watches it.
   */
  readonly address?: string | undefined;
  /** Where its VNC display listens (a Unix socket); the run directory's when not given. */
  readonly vncSocket?: string;
  /**
   * The CD-ROM: the file name of an ISO image in the agent's own ISO library (never a
   * path: the agent resolves it, and refuses one that is not there).
   */
  readonly cdrom?: string | undefined;
  /** Empty qcow2 data disks made for this VM after its system disk, deleted when it ends. */
  readonly dataDisks?: readonly { readonly sizeMiB: number }[] | undefined;
  /** Exposed to terminals through the gateway; without it only the VNC socket exists. */
  readonly display?: AgentDisplaySpec | undefined;
}

export type AgentVmState = 'starting' | 'running' | 'stopping' | 'stopped' | 'crashed' | 'failed';

/** A VM the agent runs, as it reports it. */
export interface AgentVm {
  readonly name: string;
  readonly uuid: string;
  readonly pid: number;
  readonly state: AgentVmState;
  /** QEMU's own run state (running, paused, shutdown...). */
  readonly runStatus: string;
  readonly mac: string;
  readonly vncSocket: string;
  readonly discardWrites: boolean;
  readonly startedAt: string;
  /** Where terminals connect (the gateway's TCP port on the host); null without one. */
  readonly display: { readonly protocol: DisplayProtocol; readonly port: number } | null;
  /** Who is connected now: through the gateway, or to the display (QMP's client list). */
  readonly connections: readonly DisplayConnection[];
}

/** A VM ended, for whatever reason: the guest powered off, a stop, a crash, found dead. */
export interface VmEnded {
  readonly name: string;
  readonly state: 'stopped' | 'crashed';
  /** QEMU's SHUTDOWN reason (guest-shutdown, host-qmp-quit...) when it gave one. */
  readonly reason: string | undefined;
  /** How a requested stop got there, if one was requested. */
  readonly stopMethod: 'powerdown' | 'quit' | 'kill' | undefined;
}

export interface StopRequest {
  /** How long the guest gets to power down after the ACPI button; 0 skips it (force). */
  readonly graceMs?: number;
}

/** What a host is using now: one sample, read by the agent. */
export interface HostUsage {
  /** When it was read (ISO 8601). */
  readonly at: string;
  /** Busy share of all CPUs since the previous sample, 0–100. */
  readonly cpuPercent: number;
  readonly memoryUsedMiB: number;
  readonly memoryTotalMiB: number;
  /** The file system holding the agent's images and run directory. */
  readonly diskUsedMiB: number;
  readonly diskTotalMiB: number;
  /** VMs the agent runs now. */
  readonly vms: number;
  /** Bytes received and sent by the host's network interfaces (loopback not counted), since boot. */
  readonly netRxBytes?: number | undefined;
  readonly netTxBytes?: number | undefined;
  /** Each VM's use: CPU (share of one CPU, 0–100 per vCPU) since the previous sample, memory. */
  readonly vmUsage?: readonly VmUsage[] | undefined;
}

/** What one VM uses, as its QEMU process does. */
export interface VmUsage {
  readonly name: string;
  readonly cpuPercent: number;
  readonly memoryMiB: number;
}

export interface HostAgent {
  report(): Promise<HostReport>;
  /** What the host is using now (CPU since the previous call, memory, disk, VMs). */
  usage(): Promise<HostUsage>;
  listVms(): Promise<AgentVm[]>;
  /** The VM, or undefined when it does not run here. */
  vm(name: string): Promise<AgentVm | undefined>;
  /** Starts a VM; resolves once QEMU runs it. Nothing is left behind when it fails. */
  startVm(spec: AgentVmSpec): Promise<AgentVm>;
  /** ACPI power button, then quit, then kill; resolves once the VM is gone. */
  stopVm(name: string, request?: StopRequest): Promise<VmEnded>;
  /**
   * A new one-time password for the VM's ticketed display (vnc, spice), valid for
   * `ttlSeconds` and for one connection; undefined for a display that has none (rdp).
   */
  ticket(name: string, ttlSeconds: number): Promise<string | undefined>;
  /**
   * A byte stream to the VM's VNC display (its RFB server), for the web console's bridge.
   * The caller ends it; a ticketed display still asks for its password.
   */
  openDisplay(name: string): Promise<Duplex>;
  /** Resets the VM like its reset button (QMP system_reset); its disks are kept as they are. */
  resetVm(name: string): Promise<void>;
  /** What the VM wrote to its serial console (the end of it past maxBytes); undefined if none. */
  serialLog(name: string, maxBytes?: number): Promise<string | undefined>;
  /**
   * Replaces the host entries of the DHCP server the agent runs on its bridge; a no-op on a
   * host without one (HostReport.network.dhcp false).
   */
  setDhcpHosts(hosts: readonly DhcpHost[]): Promise<void>;
  /** The image versions the host's store holds. */
  listImages(): Promise<ImageRef[]>;
  /**
   * Makes sure the host's store holds every layer of a version's chain (base first),
   * fetching what is missing from the controller's image store, each checked by its sha256.
   * Resolves with the versions it fetched; nothing partial is left when it fails.
   */
  ensureImage(layers: readonly ImageLayer[]): Promise<{ readonly fetched: readonly string[] }>;
  /** Tells `listener` of every VM that ends; returns the unsubscribe function. */
  onVmEnded(listener: (ended: VmEnded) => void): () => void;
  /** Stop watching (VMs keep running and are re-adopted on the next start). */
  close(): Promise<void>;
}
