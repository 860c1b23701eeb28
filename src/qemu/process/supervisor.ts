// Starts, watches, stops and re-adopts the QEMU processes of one host.
//
// QEMU is started with -daemonize: it detaches from us (new session, reparented), so a VM
// outlives whoever started it, and QEMU's parent only exits once the VM is fully set up,
// which makes a failed start an ordinary non-zero exit with the reason on stderr.
import { EventEmitter } from 'node:events';
import { LabvirtError } from '../../domain/errors.js';
import { CommandNotFoundError, type CommandRunner } from '../../system/command-runner.js';
import { sameArgv, type ProcessTable } from '../../system/process-table.js';
import { buildArgv, QEMU_BINARY } from '../cmdline/build-argv.js';
import { checkSocketPath } from '../cmdline/validate.js';
import type { DiskSpec, DisplaySpec, VmSpec } from '../cmdline/vm-spec.js';
import { noSpaceDetail } from '../image/no-space.js';
import type { QmpConnection, QmpConnector } from './qmp-connection.js';
import { RunDir, type VmPaths, type VmRecord } from './run-dir.js';
import { RunningVm, type VmExit } from './running-vm.js';

/** An empty qcow2 data disk made for one VM and deleted with it, like its overlays. */
export interface ScratchDisk {
  readonly sizeMiB: number;
}

/** A VM to start: where its sockets and serial log go is the supervisor's to fill in. */
export type VmLaunch = Omit<VmSpec, 'qmpSocket' | 'vncSocket' | 'serialLog' | 'display'> & {
  readonly vncSocket?: string | undefined;
  /** The spec's `display`, less the SPICE socket (which goes in the VM's run directory). */
  readonly remoteDisplay?: DisplayLaunch | undefined;
  readonly serialLog?: string | undefined;
  /** Scratch data disks, attached after `disks` (in the VM's overlay directory). */
  readonly scratchDisks?: readonly ScratchDisk[] | undefined;
};

export interface DisplayLaunch {
  readonly protocol: DisplaySpec['protocol'];
  readonly ticketed: boolean;
}

export interface OverlayMaker {
  createOverlay(dest: string, backing: string, backingFormat: string): Promise<unknown>;
  createImage(dest: string, format: 'qcow2', sizeBytes: number): Promise<unknown>;
}

/**
 * How often each VM's process is looked for in /proc. Only a backstop: a QEMU that exits
 * closes its QMP socket, which is seen at once (and then polled every 25 ms until the
 * process is gone). Every 500 ms, 20 idle VMs cost an embedded server 4–8% of a core (issue
 * 9's idle-cost benchmark).
 */
export const LIVENESS_POLL_MS = 5_000;

export interface SupervisorOptions {
  readonly runDir: RunDir;
  readonly runner: CommandRunner;
  readonly processes: ProcessTable;
  readonly connectQmp: QmpConnector;
  readonly images: OverlayMaker;
  readonly qemuBinary?: string;
  /** How often /proc is polled, as a backstop to the QMP socket closing (default 5 s). */
  readonly pollMs?: number;
}

export interface VmStatus {
  readonly name: string;
  readonly uuid: string;
  readonly pid: number;
  readonly state: RunningVm['state'];
  /** QEMU's own run state (running, paused, shutdown...). */
  readonly runStatus: string;
  readonly vncSocket: string;
  readonly serialLog: string;
  readonly discardWrites: boolean;
  readonly startedAt: string;
}

export interface StopOptions {
  /** How long the guest gets to power down after the ACPI button, before `quit`. */
  readonly graceMs?: number;
  readonly quitMs?: number;
  readonly killMs?: number;
}

/**
 * The spec of a VM placed in its run directory, with its overlays when writes are
 * discarded and its scratch data disks after its own disks.
 */
export function placeVm(
  launch: VmLaunch,
  paths: VmPaths,
  runDir: RunDir,
  overlays: boolean,
): VmSpec {
  const { scratchDisks = [], remoteDisplay, ...rest } = launch;
  const disks: DiskSpec[] = launch.disks.map((disk, index) =>
    overlays ? { path: paths.overlay(index), format: 'qcow2' } : disk,
  );
  for (const index of scratchDisks.keys()) {
    disks.push({ path: paths.scratch(index), format: 'qcow2' });
  }
  return {
    ...rest,
    disks,
    qmpSocket: checkSocketPath(paths.qmpSocket),
    vncSocket: checkSocketPath(launch.vncSocket ?? paths.vncSocket),
    serialLog: launch.serialLog ?? runDir.defaultSerialLog(launch.name),
    ...(remoteDisplay === undefined ? {} : { display: placeDisplay(remoteDisplay, paths) }),
  };
}

function placeDisplay(display: DisplayLaunch, paths: VmPaths): DisplaySpec {
  if (display.protocol === 'vnc') {
    return display.ticketed
      ? { protocol: 'vnc', ticketed: true, consoleSocket: checkSocketPath(paths.consoleSocket) }
      : { protocol: 'vnc', ticketed: false };
  }
  return {
    protocol: 'spice',
    ticketed: display.ticketed,
    socket: checkSocketPath(paths.spiceSocket),
  };
}

/** The first line of QEMU's stderr that says something, without the program name. */
function qemuError(stderr: string): string {
  const lines = stderr.split('\n').map((line) => line.replace(/^qemu-system-\w+: /, '').trim());
  return lines.find((line) => line.length > 0 && !line.startsWith('warning:')) ?? 'no reason given';
}

export class Supervisor extends EventEmitter<{ exit: [VmExit] }> {
  #options: SupervisorOptions;
  #vms = new Map<string, RunningVm>();
  #starting = new Set<string>();

  constructor(options: SupervisorOptions) {
    super();
    this.#options = options;
  }

  get runDir(): RunDir {
    return this.#options.runDir;
  }

  async start(launch: VmLaunch, options: { discardWrites: boolean }): Promise<VmStatus> {
    const { name } = launch;
    const { runDir, runner } = this.#options;
    if (this.#vms.has(name) || this.#starting.has(name) || (await this.#liveOnDisk(name))) {
      throw new LabvirtError('VM_ALREADY_RUNNING', { name });
    }
    this.#starting.add(name);
    try {
      await runDir.remove(name); // leftovers of a VM that ended while nobody watched
      const paths = await runDir.prepare(name);
      const spec = placeVm(launch, paths, runDir, options.discardWrites);
      // The argv first: a VM that cannot be built (IDE slots, say) makes no image.
      const qemuBinary = this.#options.qemuBinary ?? QEMU_BINARY;
      const argv = [...buildArgv(spec, qemuBinary), '-daemonize', '-pidfile', paths.pidfile];
      const overlays = await this.#makeDisks(launch, paths, options.discardWrites);
      const record: VmRecord = {
        spec,
        argv,
        overlays,
        discardWrites: options.discardWrites,
        startedAt: new Date().toISOString(),
      };
      await runDir.writeRecord(name, record);
      const result = await runner.run(argv).catch((error: unknown) => {
        if (error instanceof CommandNotFoundError) {
          throw new LabvirtError('QEMU_NOT_INSTALLED', {
            binary: qemuBinary,
            package: 'qemu-system-x86',
          });
        }
        throw error;
      });
      if (result.code !== 0) {
        throw new LabvirtError('QEMU_START_FAILED', { name, detail: qemuError(result.stderr) });
      }
      const pid = await runDir.readPid(name);
      if (pid === undefined) {
        throw new LabvirtError('QEMU_START_FAILED', { name, detail: 'QEMU wrote no pidfile' });
      }
      const vm = await this.#watch(name, record, pid).catch((error: unknown) => {
        this.#options.processes.signal(pid, 'SIGKILL');
        throw error;
      });
      return await this.status(vm.name);
    } catch (error) {
      await runDir.remove(name);
      throw error;
    } finally {
      this.#starting.delete(name);
    }
  }

  /**
   * Re-attach to the VMs of the run directory that still run (checking each pidfile's
   * process against the recorded argv, against PID reuse), and clean up after those
   * that ended while nobody watched.
   */
  async adopt(): Promise<{ adopted: string[]; cleaned: string[] }> {
    const adopted: string[] = [];
    const cleaned: string[] = [];
    for (const name of await this.runDir.names()) {
      if (this.#vms.has(name) || this.#starting.has(name)) continue;
      const record = await this.runDir.readRecord(name);
      const pid = await this.runDir.readPid(name);
      if (record === undefined || pid === undefined || !(await this.#alive(pid, record))) {
        await this.runDir.remove(name);
        cleaned.push(name);
        continue;
      }
      await this.#watch(name, record, pid);
      adopted.push(name);
    }
    return { adopted, cleaned };
  }

  async status(name: string): Promise<VmStatus> {
    const vm = this.#get(name);
    const { status } = await vm.qmp.execute<{ status: string }>('query-status');
    const { spec } = vm.record;
    return {
      name,
      uuid: spec.uuid,
      pid: vm.pid,
      state: vm.state,
      runStatus: status,
      vncSocket: spec.vncSocket,
      serialLog: spec.serialLog,
      discardWrites: vm.record.discardWrites,
      startedAt: vm.record.startedAt,
    };
  }

  /** The VM's QMP connection, for commands the supervisor has no verb for. */
  qmp(name: string): QmpConnection {
    return this.#get(name).qmp;
  }

  names(): string[] {
    return [...this.#vms.keys()];
  }

  async waitForExit(name: string): Promise<VmExit> {
    return this.#get(name).exited;
  }

  /** ACPI power button, then `quit` after the grace period, then SIGKILL. */
  async stop(name: string, options: StopOptions = {}): Promise<VmExit> {
    const vm = this.#get(name);
    if (vm.state === 'running') vm.markStopping();
    const steps: [NonNullable<VmExit['stopMethod']>, () => Promise<unknown>, number][] = [
      ['powerdown', () => vm.qmp.execute('system_powerdown'), options.graceMs ?? 30_000],
      ['quit', () => vm.qmp.execute('quit'), options.quitMs ?? 5_000],
      [
        'kill',
        async () => this.#options.processes.signal(vm.pid, 'SIGKILL'),
        options.killMs ?? 5_000,
      ],
    ];
    for (const [method, action, waitMs] of steps) {
      vm.stopMethod = method;
      // A closed QMP connection (QEMU already going away) is not a reason to stop trying.
      await action().catch(() => undefined);
      const exit = await within(vm.exited, waitMs);
      if (exit !== undefined) return exit;
      await vm.check();
    }
    throw new LabvirtError('VM_STOP_FAILED', { name, detail: 'still running after SIGKILL' });
  }

  /** Stop watching; the VMs keep running and a later supervisor can adopt them. */
  detach(): void {
    for (const vm of this.#vms.values()) vm.detach();
    this.#vms.clear();
  }

  /**
   * The VM's overlays (when its writes are discarded) and scratch disks, in its overlay
   * directory. A full one is OVERLAY_DIR_FULL: what was made goes with RunDir.remove.
   */
  async #makeDisks(launch: VmLaunch, paths: VmPaths, discardWrites: boolean): Promise<string[]> {
    const { images } = this.#options;
    const made: string[] = [];
    try {
      if (discardWrites) {
        for (const [index, disk] of launch.disks.entries()) {
          await images.createOverlay(paths.overlay(index), disk.path, disk.format);
          made.push(paths.overlay(index));
        }
      }
      for (const [index, disk] of (launch.scratchDisks ?? []).entries()) {
        await images.createImage(paths.scratch(index), 'qcow2', disk.sizeMiB * 2 ** 20);
        made.push(paths.scratch(index));
      }
    } catch (error) {
      const detail = noSpaceDetail(error);
      if (detail === undefined) throw error;
      throw new LabvirtError(
        'OVERLAY_DIR_FULL',
        { name: launch.name, dir: paths.overlayDir, detail },
        { cause: error },
      );
    }
    return made;
  }

  #get(name: string): RunningVm {
    const vm = this.#vms.get(name);
    if (vm === undefined) throw new LabvirtError('VM_NOT_FOUND', { name });
    return vm;
  }

  async #alive(pid: number, record: VmRecord): Promise<boolean> {
    const cmdline = await this.#options.processes.liveCmdline(pid);
    return cmdline !== undefined && sameArgv(cmdline, record.argv);
  }

  async #liveOnDisk(name: string): Promise<boolean> {
    const record = await this.runDir.readRecord(name);
    const pid = await this.runDir.readPid(name);
    return record !== undefined && pid !== undefined && (await this.#alive(pid, record));
  }

  async #watch(name: string, record: VmRecord, pid: number): Promise<RunningVm> {
    const qmp = await this.#options.connectQmp(record.spec.qmpSocket);
    const vm = new RunningVm({
      name,
      record,
      pid,
      qmp,
      processes: this.#options.processes,
      pollMs: this.#options.pollMs ?? LIVENESS_POLL_MS,
      onExit: async (ended, exit) => {
        if (this.#vms.get(name) === ended) this.#vms.delete(name);
        await this.runDir.remove(name);
        this.emit('exit', exit);
      },
    });
    this.#vms.set(name, vm);
    return vm;
  }
}

/** The promise's value, or undefined once `ms` have passed (the timer is always cleared). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>(
    (resolve) => (timer = setTimeout(() => resolve(undefined), ms)),
  );
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
