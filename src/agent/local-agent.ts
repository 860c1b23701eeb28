// The agent of the machine the controller runs on, in-process: the QEMU driver's
// supervisor behind the HostAgent interface. It re-adopts the VMs of its run directory at
// start, and reports what is missing (QEMU, KVM) instead of refusing to start. VMs boot
// versions of the image store: clients under per-VM overlays (the supervisor's overlay
// maker, StoreOverlayMaker, only layers on sealed versions), admin VMs on their draft.
// A VM's CD-ROM is named in the agent's ISO library; its data disks are scratch images
// in its overlay directory, which goes with the VM. A VM with a display for terminals gets
// a gateway (a TCP port relaying to its display) and one-time tickets (vm-display.ts). The
// gateways live in the run directory's gateway daemon, so terminals' connections outlive
// the agent: its close leaves them, its start keeps those of the VMs it re-adopts.
import { EventEmitter } from 'node:events';
import { access, open } from 'node:fs/promises';
import { createConnection } from 'node:net';
import type { Duplex } from 'node:stream';
import { cpus, hostname, totalmem } from 'node:os';
import { join } from 'node:path';
import { isLabvirtError, LabvirtError } from '../domain/errors.js';
import type { ImageStore } from '../images/image-store.js';
import { resolveIso } from '../images/iso-library.js';
import { chooseAccel, probeKvm } from '../qemu/cmdline/accel.js';
import { QEMU_BINARY } from '../qemu/cmdline/build-argv.js';
import { parseMac, parseUuid, parseVmName } from '../qemu/cmdline/validate.js';
import type { DisplayLaunch, Supervisor, VmStatus } from '../qemu/process/supervisor.js';
import type { AccelRequest, PortForward } from '../qemu/cmdline/vm-spec.js';
import type { VmExit } from '../qemu/process/running-vm.js';
import {
  CommandNotFoundError,
  nodeCommandRunner,
  type CommandRunner,
} from '../system/command-runner.js';
import type {
  AgentVm,
  AgentVmSpec,
  DhcpHost,
  DisplayConnection,
  HostAgent,
  HostNetwork,
  HostReport,
  HostUsage,
  ImageLayer,
  ImageRef,
  LayerFetcher,
  StopRequest,
  VmEnded,
} from './host-agent.js';
import { ConntrackReader } from './conntrack.js';
import { DnsmasqManager } from './dnsmasq.js';
import { rdpReach, VmNetwork } from './vm-network.js';
import { DEFAULT_RDP_PORT, type GatewayRecord, type PortRange } from './display-plan.js';
import { freeLoopbackPort } from './gateway.js';
import { GatewayLink } from './gateway-client.js';
import { staleListeners } from './gateway-protocol.js';
import { readGatewayRecord, VmDisplay, writeGatewayRecord } from './vm-display.js';
import { HostUsageReader } from './host-usage.js';

/** The end of a serial log the agent hands out by default. */
const SERIAL_MAX_BYTES = 256 * 1024;

export async function probeQemu(
  runner: CommandRunner = nodeCommandRunner,
  binary = QEMU_BINARY,
): Promise<HostReport['qemu']> {
  try {
    const result = await runner.run([binary, '--version'], { timeoutMs: 10_000 });
    const version = /version (\S+)/.exec(result.stdout)?.[1];
    if (result.code === 0 && version !== undefined) return { available: true, version };
    return { available: false, problem: `${binary} --version failed: ${result.stderr.trim()}` };
  } catch (error) {
    if (error instanceof CommandNotFoundError) {
      return {
        available: false,
        problem: `${binary} is not installed: install the Debian package qemu-system-x86`,
      };
    }
    throw error;
  }
}

/** Where VMs' gateways listen, what terminals call this host, which ports they may use. */
export interface GatewayOptions {
  readonly bind?: string | undefined;
  readonly address?: string | undefined;
  readonly ports?: PortRange | undefined;
}

export interface LocalAgentOptions {
  /** The image store VMs boot from; without it the agent runs no VM of a profile. */
  readonly images?: ImageStore | undefined;
  /** The ISO library VMs' CD-ROMs are named in; without it a VM with a CD-ROM is refused. */
  readonly isoDir?: string | undefined;
  /**
   * The address VMs' gateways listen on; loopback by default, so nothing is exposed to
   * the network unless asked for (e.g. '0.0.0.0' or the lab network's address).
   */
  readonly gatewayBind?: string | undefined;
  /** The gateways' ports come from this range; any free port when not given. */
  readonly gatewayPorts?: PortRange | undefined;
  /** What terminals use to reach this host's gateways (HostReport.gatewayAddress). */
  readonly gatewayAddress?: string | undefined;
  /** Picks the loopback port QEMU forwards to an rdp guest (a free one by default). */
  readonly freePort?: (() => Promise<number>) | undefined;
  /** How VMs reach the network (HostNetwork): user-mode networking when not given. */
  readonly network?: HostNetwork | undefined;
  /** Runs `ip` for pre-created TAPs. */
  readonly runner?: CommandRunner | undefined;
  /** Who is connected straight to a bridged guest's RDP port. */
  readonly conntrack?: ConntrackReader | undefined;
  /** The accelerator VMs get: KVM when usable by default (tests of guests KVM cannot run). */
  readonly accel?: AccelRequest | undefined;
  /** The host's name (this machine's host name by default). */
  readonly name?: string | undefined;
  /** How the controller reaches it: 'local' (in-process, the default) or the agent's URL. */
  readonly address?: string | undefined;
  /** The share of this machine LabVirt may use (all of it by default). */
  readonly cpus?: number | undefined;
  readonly memoryMiB?: number | undefined;
  /** Fetches versions the store lacks; without it the store must be the controller's own. */
  readonly fetcher?: LayerFetcher | undefined;
}

/** QEMU could not bind a forward's host port (it is QEMU_START_FAILED with its words). */
function forwardTaken(error: unknown): boolean {
  return (
    isLabvirtError(error) &&
    error.code === 'QEMU_START_FAILED' &&
    /host forwarding rule/.test(String(error.params['detail']))
  );
}

function ended(exit: VmExit): VmEnded {
  return {
    name: exit.name,
    state: exit.state,
    reason: exit.shutdownReason,
    stopMethod: exit.stopMethod,
  };
}

export class LocalAgent implements HostAgent {
  #supervisor: Supervisor;
  #images: ImageStore | undefined;
  #usage: HostUsageReader | undefined;
  #isoDir: string | undefined;
  #report: Promise<HostReport> | undefined;
  #gatewayBind: string;
  #gatewayPorts: PortRange | undefined;
  #gatewayAddress: string | undefined;
  #freePort: () => Promise<number>;
  #displays = new Map<string, VmDisplay>();
  #gateway: GatewayLink;
  #network: VmNetwork;
  #dhcp: DnsmasqManager | undefined;
  #conntrack: ConntrackReader;
  #accel: AccelRequest;
  #identity: Pick<LocalAgentOptions, 'name' | 'address' | 'cpus' | 'memoryMiB'>;
  #fetcher: LayerFetcher | undefined;
  /** TAPs being removed after their VM ended: a new start of that VM waits for it. */
  #releasing = new Map<string, Promise<void>>();
  /** Starts in flight (name → MAC): not yet in the supervisor's names, yet taken. */
  #starting = new Map<string, string>();
  #events = new EventEmitter<{ ended: [VmEnded] }>();
  #forward = (exit: VmExit) => {
    // The gateway closes with its VM: its port and relayed connections go.
    const display = this.#displays.get(exit.name);
    this.#displays.delete(exit.name);
    void (display?.close() ?? this.#gateway.close(exit.name)).catch(() => undefined);
    this.#release(exit.name);
    this.#events.emit('ended', ended(exit));
  };

  private constructor(supervisor: Supervisor, options: LocalAgentOptions) {
    this.#supervisor = supervisor;
    this.#images = options.images;
    this.#isoDir = options.isoDir;
    this.#gatewayBind = options.gatewayBind ?? '127.0.0.1';
    this.#gatewayPorts = options.gatewayPorts;
    this.#gatewayAddress = options.gatewayAddress;
    this.#freePort = options.freePort ?? freeLoopbackPort;
    this.#gateway = new GatewayLink(supervisor.runDir.root);
    const network = options.network ?? { mode: 'user' };
    this.#network = new VmNetwork(network, options.runner ?? nodeCommandRunner);
    this.#dhcp =
      network.mode === 'bridge' && network.dhcp
        ? new DnsmasqManager({
            bridge: network.bridge,
            dir: join(supervisor.runDir.root, `dnsmasq-${network.bridge}`),
          })
        : undefined;
    this.#conntrack = options.conntrack ?? new ConntrackReader();
    this.#accel = options.accel ?? 'auto';
    this.#identity = options;
    this.#fetcher = options.fetcher;
    this.#events.setMaxListeners(0);
    supervisor.on('exit', this.#forward);
  }

  static async start(
    supervisor: Supervisor,
    options: LocalAgentOptions = {},
  ): Promise<{ agent: LocalAgent; adopted: string[] }> {
    const agent = new LocalAgent(supervisor, options);
    // A bridge that is not there, or a DHCP server that cannot start: refused before any
    // VM is adopted (dnsmasq is adopted too when it still runs).
    await agent.#network.check();
    await agent.#dhcp?.start();
    const report = await agent.report();
    const { adopted } = report.qemu.available ? await supervisor.adopt() : { adopted: [] };
    // The gateway daemon's listeners of VMs that no longer run go; those of the adopted ones
    // stay as they are (a terminal's session goes on), and a missing one opens on attach.
    // Without QEMU nothing was adopted, which says nothing of what runs: all stay.
    if (report.qemu.available) await agent.#closeStaleGateways(adopted).catch(() => undefined);
    for (const name of adopted) {
      // Back on the port it had, so terminals told of it reach it again.
      const path = supervisor.runDir.vmPaths(name).gatewayRecord;
      const record = await readGatewayRecord(path).catch(() => undefined);
      // A gateway that cannot open leaves the VM running, reported without a display.
      await agent
        .#attach(name, record)
        .catch(() => agent.#attach(name, undefined))
        .catch(() => undefined);
    }
    return { agent, adopted };
  }

  report(): Promise<HostReport> {
    const identity = this.#identity;
    this.#report ??= (async () => ({
      name: identity.name ?? hostname(),
      address: identity.address ?? 'local',
      cpus: Math.min(identity.cpus ?? Infinity, cpus().length),
      memoryMiB: Math.min(identity.memoryMiB ?? Infinity, Math.floor(totalmem() / 2 ** 20)),
      qemu: await probeQemu(),
      kvm: await probeKvm(),
      gatewayAddress: this.#gatewayAddress,
      network: this.#network.network,
      sharedStore: this.#fetcher === undefined,
    }))();
    return this.#report;
  }

  async listImages(): Promise<ImageRef[]> {
    return (await this.#images?.list()) ?? [];
  }

  async ensureImage(layers: readonly ImageLayer[]): Promise<{ fetched: string[] }> {
    const images = this.#images;
    if (images === undefined) throw new Error('this agent has no image store');
    const fetched: string[] = [];
    for (const layer of layers) {
      if (await exists(images.pathOf(layer))) continue;
      if (this.#fetcher === undefined) {
        throw new LabvirtError('IMAGE_MISSING_ON_HOST', {
          host: (await this.report()).name,
          version: layer.versionId,
        });
      }
      await this.#fetcher.fetch(layer);
      fetched.push(layer.versionId);
    }
    return { fetched };
  }

  async usage(): Promise<HostUsage> {
    this.#usage ??= new HostUsageReader(this.#supervisor.runDir.root);
    // Each running VM's QEMU pid, from its pidfile: no QMP round trip for a sample.
    const pids = new Map<string, number>();
    for (const name of this.#supervisor.names()) {
      const pid = await this.#supervisor.runDir.readPid(name);
      if (pid !== undefined) pids.set(name, pid);
    }
    return this.#usage.read(pids);
  }

  async listVms(): Promise<AgentVm[]> {
    // A gateway daemon lost since the last look comes back here too (the controller asks
    // often), not only at the next VM's start.
    if (this.#gateway.lost && [...this.#displays.values()].some((d) => d.record !== undefined)) {
      await this.#ensureGateway().catch(() => undefined);
    }
    const all = await Promise.all(this.#supervisor.names().map((name) => this.vm(name)));
    return all.filter((vm): vm is AgentVm => vm !== undefined);
  }

  async vm(name: string): Promise<AgentVm | undefined> {
    if (!this.#supervisor.names().includes(name)) return undefined;
    try {
      return await this.#view(await this.#supervisor.status(name));
    } catch (error) {
      // It ended between the two looks (or its QMP is going away with it).
      if (isLabvirtError(error)) return undefined;
      throw error;
    }
  }

  async startVm(spec: AgentVmSpec): Promise<AgentVm> {
    const name = parseVmName(spec.name);
    const mac = parseMac(spec.nic.mac);
    // Taken at once (no await before): a second start of the name, or of the MAC, while
    // this one is on its way would pass the supervisor's checks and replace its TAP.
    if (this.#starting.has(name)) throw new LabvirtError('VM_ALREADY_RUNNING', { name });
    for (const [other, taken] of this.#starting) {
      if (taken === mac) throw new LabvirtError('MAC_IN_USE', { mac, vm: other });
    }
    this.#starting.set(name, mac);
    try {
      return await this.#startVm(spec);
    } finally {
      this.#starting.delete(name);
    }
  }

  async #startVm(spec: AgentVmSpec): Promise<AgentVm> {
    const images = this.#images;
    if (images === undefined) throw new Error('this agent has no image store');
    const name = parseVmName(spec.name);
    const uuid = parseUuid(spec.uuid);
    const disk = { path: images.pathOf(spec.image), format: 'qcow2' };
    // Before anything is made: a missing ISO leaves nothing behind.
    const cdrom =
      spec.cdrom === undefined ? undefined : await resolveIso(this.#isoDir, spec.cdrom, undefined);
    const { accel } = chooseAccel(this.#accel, await probeKvm());
    const display = spec.display;
    if (display?.protocol === 'rdp' && spec.net === 'none') {
      throw new LabvirtError('DISPLAY_NEEDS_NETWORK', { name: spec.name });
    }
    const mac = parseMac(spec.nic.mac);
    await this.#checkNetwork(name, mac);
    // A bridged rdp guest is reached at its own address, a user-mode one through QEMU.
    const reach =
      display?.protocol === 'rdp'
        ? rdpReach(
            this.#network.network,
            { name, address: spec.address },
            display.guestPort ?? DEFAULT_RDP_PORT,
          )
        : undefined;
    const guestAddress = reach?.via === 'address' ? reach.host : undefined;
    const remoteDisplay: DisplayLaunch | undefined =
      display === undefined || display.protocol === 'rdp'
        ? undefined
        : { protocol: display.protocol, ticketed: display.ticketed };
    let hostPort: number | undefined;
    const start = async () => {
      const forwards: PortForward[] = [];
      if (display?.protocol === 'rdp' && reach?.via === 'forward') {
        // Terminals reach the guest's port only through the gateway: QEMU forwards a free
        // loopback port to it.
        hostPort = await this.#freePort();
        forwards.push({ hostPort, guestPort: display.guestPort ?? DEFAULT_RDP_PORT });
      }
      return this.#supervisor.start(
        {
          name,
          uuid,
          memoryMiB: spec.memoryMiB,
          cpus: spec.cpus,
          disks: [disk],
          scratchDisks: spec.dataDisks ?? [],
          cdrom,
          diskBus: spec.diskBus,
          boot: 'disk',
          nic: { model: spec.nic.model, mac },
          net: spec.net === 'none' ? { mode: 'none' } : await this.#network.prepare(name, forwards),
          accel,
          ...(spec.vncSocket === undefined ? {} : { vncSocket: spec.vncSocket }),
          ...(remoteDisplay === undefined ? {} : { remoteDisplay }),
        },
        { discardWrites: spec.writes === 'discard' },
      );
    };
    try {
      const status = await start().catch((error: unknown) => {
        // The port was free a moment ago: someone took it before QEMU bound it. Once more.
        if (hostPort !== undefined && forwardTaken(error)) return start();
        throw error;
      });
      await this.#attach(
        name,
        display === undefined ? undefined : { display, port: 0, hostPort, guestAddress },
      );
      return await this.#view(status);
    } catch (error) {
      // The supervisor may have lost it half-way (QMP up, then a failed query): never leave
      // a VM running that the caller was told did not start.
      const mine = !(isLabvirtError(error) && error.code === 'VM_ALREADY_RUNNING');
      if (mine && this.#supervisor.names().includes(name)) {
        await this.#supervisor.stop(name, { graceMs: 0, quitMs: 2_000 }).catch(() => undefined);
      }
      if (mine) await this.#network.release(name).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Before anything is made for a VM: its bridge is there, it does not run (its TAP would
   * be replaced), and no VM of this host has its MAC (two on one network break both).
   */
  async #checkNetwork(name: string, mac: string): Promise<void> {
    await this.#network.check();
    if (this.#supervisor.names().includes(name)) {
      throw new LabvirtError('VM_ALREADY_RUNNING', { name });
    }
    for (const other of this.#supervisor.names()) {
      const record = await this.#supervisor.runDir.readRecord(other);
      if (record?.spec.nic.mac === mac) throw new LabvirtError('MAC_IN_USE', { mac, vm: other });
    }
    // Its TAP of a previous run may still be going.
    await this.#releasing.get(name);
  }

  /** Removes the VM's TAP (when the agent made one) once it has ended. */
  #release(name: string): void {
    const done = this.#network
      .release(name)
      .catch(() => undefined)
      .finally(() => {
        if (this.#releasing.get(name) === done) this.#releasing.delete(name);
      });
    this.#releasing.set(name, done);
  }

  async stopVm(name: string, request: StopRequest = {}): Promise<VmEnded> {
    const graceMs = request.graceMs ?? 30_000;
    const exit = await this.#supervisor.stop(name, { graceMs });
    // Its gateway is closing with it (the exit event): once this answers, the port is shut.
    await this.#gateway.close(name).catch(() => undefined);
    return ended(exit);
  }

  async ticket(name: string, ttlSeconds: number): Promise<string | undefined> {
    if (!this.#supervisor.names().includes(name)) throw new LabvirtError('VM_NOT_FOUND', { name });
    return this.#displays.get(name)?.ticket(ttlSeconds);
  }

  async openDisplay(name: string): Promise<Duplex> {
    const vm = await this.vm(name);
    if (vm === undefined) throw new LabvirtError('VM_NOT_FOUND', { name });
    // A ticketed display's console has its own password-less server (DisplaySpec).
    const console = this.#supervisor.runDir.vmPaths(parseVmName(name)).consoleSocket;
    const path = (await exists(console)) ? console : vm.vncSocket;
    const socket = createConnection(path);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve).once('error', reject);
    });
    return socket;
  }

  async resetVm(name: string): Promise<void> {
    if (!this.#supervisor.names().includes(name)) throw new LabvirtError('VM_NOT_FOUND', { name });
    await this.#supervisor.qmp(name).execute('system_reset');
  }

  async serialLog(name: string, maxBytes = SERIAL_MAX_BYTES): Promise<string | undefined> {
    const path = this.#supervisor.runDir.defaultSerialLog(parseVmName(name));
    let file;
    try {
      file = await open(path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    try {
      const { size } = await file.stat();
      const length = Math.min(size, maxBytes);
      const buffer = Buffer.alloc(length);
      await file.read(buffer, 0, length, size - length);
      return buffer.toString('utf8');
    } finally {
      await file.close();
    }
  }

  async setDhcpHosts(hosts: readonly DhcpHost[]): Promise<void> {
    await this.#dhcp?.setHosts(hosts);
  }

  /**
   * Stops the DHCP server on the bridge. The agent's close leaves it running (guests renew
   * their leases while the agent restarts, and the next one adopts it): this is for
   * taking the host's network down, and for tests.
   */
  async stopDhcp(): Promise<void> {
    await this.#dhcp?.stop();
  }

  onVmEnded(listener: (ended: VmEnded) => void): () => void {
    this.#events.on('ended', listener);
    return () => this.#events.off('ended', listener);
  }

  async close(): Promise<void> {
    this.#supervisor.off('exit', this.#forward);
    this.#events.removeAllListeners();
    // The gateways stay in their daemon, connections and all, for the next agent.
    for (const display of this.#displays.values()) display.detach();
    this.#displays.clear();
    this.#gateway.detach();
    this.#supervisor.detach();
  }

  async #closeStaleGateways(running: readonly string[]): Promise<void> {
    const link = await this.#gateway.ensure(false);
    if (link === undefined) return;
    for (const vm of staleListeners(await link.client.list(), running)) {
      await link.client.close(vm);
    }
  }

  /**
   * The gateway daemon, spawned when none runs. One that was lost (killed, say) took the
   * listeners with it: the running VMs' are opened again, on the ports they had.
   */
  async #ensureGateway(): Promise<void> {
    const link = await this.#gateway.ensure(true);
    if (link?.reconnected !== true) return;
    for (const [name, display] of this.#displays) {
      const moved = await display.reopen().catch(() => false);
      if (moved && display.record !== undefined) {
        const path = this.#supervisor.runDir.vmPaths(name).gatewayRecord;
        await writeGatewayRecord(path, display.record).catch(() => undefined);
      }
    }
  }

  /**
   * Watches a VM's display: opens its gateway when it has a display for terminals (noting
   * it, with the port it got, in the run directory for re-adoption), or just observes
   * QEMU's display clients.
   */
  async #attach(name: string, gateway: GatewayRecord | undefined): Promise<void> {
    const paths = this.#supervisor.runDir.vmPaths(name);
    const record = await this.#supervisor.runDir.readRecord(name);
    if (gateway !== undefined) await this.#ensureGateway();
    const display = await VmDisplay.open({
      name,
      qmp: this.#supervisor.qmp(name),
      gateway:
        gateway === undefined
          ? undefined
          : {
              record: gateway,
              sockets: { vnc: record?.spec.vncSocket ?? paths.vncSocket, spice: paths.spiceSocket },
              bind: this.#gatewayBind,
              range: this.#gatewayPorts,
              control: this.#gateway,
            },
    });
    try {
      if (display.record !== undefined && display.record.port !== gateway?.port) {
        await writeGatewayRecord(paths.gatewayRecord, display.record);
      }
    } catch (error) {
      await display.close();
      throw error;
    }
    // It may have ended meanwhile (its exit found no display to close).
    if (!this.#supervisor.names().includes(name)) {
      await display.close();
      return;
    }
    this.#displays.get(name)?.detach();
    this.#displays.set(name, display);
  }

  /**
   * Terminals connected straight to a bridged rdp guest's port (not through the gateway),
   * from the host's connection tracking; the gateway's own relays come from the host's
   * address and are left out there (the gateway lists them).
   */
  async #straightConnections(name: string): Promise<DisplayConnection[]> {
    const record = this.#displays.get(name)?.record;
    if (record?.guestAddress === undefined || record.display.protocol !== 'rdp') return [];
    return this.#conntrack.connections(
      record.guestAddress,
      record.display.guestPort ?? DEFAULT_RDP_PORT,
    );
  }

  async #view(status: VmStatus): Promise<AgentVm> {
    const record = await this.#supervisor.runDir.readRecord(status.name);
    return {
      name: status.name,
      uuid: status.uuid,
      pid: status.pid,
      state: status.state,
      runStatus: status.runStatus,
      mac: record?.spec.nic.mac ?? '',
      vncSocket: status.vncSocket,
      discardWrites: status.discardWrites,
      startedAt: status.startedAt,
      display: this.#displays.get(status.name)?.summary ?? null,
      connections: [
        ...((await this.#displays.get(status.name)?.connections()) ?? []),
        ...(await this.#straightConnections(status.name)),
      ],
    };
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
