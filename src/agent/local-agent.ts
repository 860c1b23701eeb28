// The agent of the machine the controller runs on, in-process: the QEMU driver's
// supervisor behind the HostAgent interface. It re-adopts the VMs of its run directory at
// start, and reports what is missing (QEMU, KVM) instead of refusing to start. VMs boot
// versions of the image store: clients under per-VM overlays (the supervisor's overlay
// maker, StoreOverlayMaker, only layers on sealed versions), admin VMs on their draft.
// A VM's CD-ROM is named in the agent's ISO library; its data disks are scratch images
// in its overlay directory, which goes with the VM.
import { EventEmitter } from 'node:events';
import { open } from 'node:fs/promises';
import { cpus, hostname, totalmem } from 'node:os';
import { isLabvirtError } from '../domain/errors.js';
import type { ImageStore } from '../images/image-store.js';
import { resolveIso } from '../images/iso-library.js';
import { chooseAccel, probeKvm } from '../qemu/cmdline/accel.js';
import { QEMU_BINARY } from '../qemu/cmdline/build-argv.js';
import { parseMac, parseUuid, parseVmName } from '../qemu/cmdline/validate.js';
import type { Supervisor, VmStatus } from '../qemu/process/supervisor.js';
import type { VmExit } from '../qemu/process/running-vm.js';
import {
  CommandNotFoundError,
  nodeCommandRunner,
  type CommandRunner,
} from '../system/command-runner.js';
import type {
  AgentVm,
  AgentVmSpec,
  HostAgent,
  HostReport,
  StopRequest,
  VmEnded,
} from './host-agent.js';

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

export interface LocalAgentOptions {
  /** The image store VMs boot from; without it the agent runs no VM of a profile. */
  readonly images?: ImageStore | undefined;
  /** The ISO library VMs' CD-ROMs are named in; without it a VM with a CD-ROM is refused. */
  readonly isoDir?: string | undefined;
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
  #isoDir: string | undefined;
  #report: Promise<HostReport> | undefined;
  #events = new EventEmitter<{ ended: [VmEnded] }>();
  #forward = (exit: VmExit) => this.#events.emit('ended', ended(exit));

  private constructor(supervisor: Supervisor, options: LocalAgentOptions) {
    this.#supervisor = supervisor;
    this.#images = options.images;
    this.#isoDir = options.isoDir;
    this.#events.setMaxListeners(0);
    supervisor.on('exit', this.#forward);
  }

  static async start(
    supervisor: Supervisor,
    options: LocalAgentOptions = {},
  ): Promise<{ agent: LocalAgent; adopted: string[] }> {
    const agent = new LocalAgent(supervisor, options);
    const report = await agent.report();
    const { adopted } = report.qemu.available ? await supervisor.adopt() : { adopted: [] };
    return { agent, adopted };
  }

  report(): Promise<HostReport> {
    this.#report ??= (async () => ({
      name: hostname(),
      address: 'local',
      cpus: cpus().length,
      memoryMiB: Math.floor(totalmem() / 2 ** 20),
      qemu: await probeQemu(),
      kvm: await probeKvm(),
    }))();
    return this.#report;
  }

  async listVms(): Promise<AgentVm[]> {
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
    const images = this.#images;
    if (images === undefined) throw new Error('this agent has no image store');
    const name = parseVmName(spec.name);
    const uuid = parseUuid(spec.uuid);
    const disk = { path: images.pathOf(spec.image), format: 'qcow2' };
    // Before anything is made: a missing ISO leaves nothing behind.
    const cdrom =
      spec.cdrom === undefined ? undefined : await resolveIso(this.#isoDir, spec.cdrom, undefined);
    const { accel } = chooseAccel('auto', await probeKvm());
    try {
      const status = await this.#supervisor.start(
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
          nic: { model: spec.nic.model, mac: parseMac(spec.nic.mac) },
          net: spec.net === 'none' ? { mode: 'none' } : { mode: 'user', forwards: [] },
          accel,
          ...(spec.vncSocket === undefined ? {} : { vncSocket: spec.vncSocket }),
        },
        { discardWrites: spec.writes === 'discard' },
      );
      return await this.#view(status);
    } catch (error) {
      // The supervisor may have lost it half-way (QMP up, then a failed query): never leave
      // a VM running that the caller was told did not start.
      const mine = !(isLabvirtError(error) && error.code === 'VM_ALREADY_RUNNING');
      if (mine && this.#supervisor.names().includes(name)) {
        await this.#supervisor.stop(name, { graceMs: 0, quitMs: 2_000 }).catch(() => undefined);
      }
      throw error;
    }
  }

  async stopVm(name: string, request: StopRequest = {}): Promise<VmEnded> {
    const graceMs = request.graceMs ?? 30_000;
    return ended(await this.#supervisor.stop(name, { graceMs }));
  }

  async ticket(_name: string, _ttlSeconds: number): Promise<string | undefined> {
    return undefined; // TODO(issue 5): the gateway and QMP set_password
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

  onVmEnded(listener: (ended: VmEnded) => void): () => void {
    this.#events.on('ended', listener);
    return () => this.#events.off('ended', listener);
  }

  async close(): Promise<void> {
    this.#supervisor.off('exit', this.#forward);
    this.#events.removeAllListeners();
    this.#supervisor.detach();
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
      display: null,
      connections: [],
    };
  }
}
