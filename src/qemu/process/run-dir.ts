// The run directory is what lets a VM outlive whoever started it: each running VM has
// ROOT/vms/NAME/ with the record of how it was started (vm.json: spec and exact argv),
// QEMU's pidfile, its QMP and VNC sockets and its per-VM overlays and scratch data disks. A new supervisor
// re-adopts VMs from here. Serial logs live in ROOT/logs/, so they survive the VM.
// Overlays may live elsewhere (OVERLAYS/NAME/, say on a tmpfs): they go with the VM too.
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { VmSpec } from '../cmdline/vm-spec.js';

export interface VmRecord {
  readonly spec: VmSpec;
  /** The exact argv QEMU was started with, compared with /proc/PID/cmdline on adoption. */
  readonly argv: readonly string[];
  /** Overlays and scratch disks created for this VM (deleted when it ends). */
  readonly overlays: readonly string[];
  readonly discardWrites: boolean;
  readonly startedAt: string;
}

export interface VmPaths {
  readonly dir: string;
  /** Where the VM's overlays live: `dir` itself unless an overlay root is configured. */
  readonly overlayDir: string;
  readonly record: string;
  readonly pidfile: string;
  readonly qmpSocket: string;
  readonly vncSocket: string;
  /** The web console's password-less VNC server beside a ticketed display's. */
  readonly consoleSocket: string;
  /** The SPICE server's socket, for VMs with a SPICE display. */
  readonly spiceSocket: string;
  /** The agent's note of the VM's gateway (display spec, port), for re-adoption. */
  readonly gatewayRecord: string;
  overlay(index: number): string;
  /** A scratch data disk, made empty at start and deleted with the overlays. */
  scratch(index: number): string;
}

export class RunDir {
  readonly root: string;
  /** Where per-VM overlay directories go (may be a tmpfs); undefined: in each VM's dir. */
  readonly overlayRoot: string | undefined;

  constructor(root: string, options: { readonly overlayRoot?: string | undefined } = {}) {
    this.root = root;
    this.overlayRoot = options.overlayRoot;
  }

  vmPaths(name: string): VmPaths {
    const dir = join(this.root, 'vms', name);
    const overlayDir = this.overlayRoot === undefined ? dir : join(this.overlayRoot, name);
    return {
      dir,
      overlayDir,
      record: join(dir, 'vm.json'),
      pidfile: join(dir, 'qemu.pid'),
      qmpSocket: join(dir, 'qmp.sock'),
      vncSocket: join(dir, 'vnc.sock'),
      consoleSocket: join(dir, 'console.sock'),
      spiceSocket: join(dir, 'spice.sock'),
      gatewayRecord: join(dir, 'gateway.json'),
      overlay: (index) => join(overlayDir, `disk${index}.overlay.qcow2`),
      scratch: (index) => join(overlayDir, `data${index}.scratch.qcow2`),
    };
  }

  defaultSerialLog(name: string): string {
    return join(this.root, 'logs', `${name}.serial.log`);
  }

  async prepare(name: string): Promise<VmPaths> {
    const paths = this.vmPaths(name);
    await mkdir(join(this.root, 'logs'), { recursive: true, mode: 0o700 });
    await mkdir(paths.dir, { recursive: true, mode: 0o700 });
    await mkdir(paths.overlayDir, { recursive: true, mode: 0o700 });
    return paths;
  }

  /** Names of the VMs that have a directory, running or not. */
  async names(): Promise<string[]> {
    try {
      const entries = await readdir(join(this.root, 'vms'), { withFileTypes: true });
      return entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  /** Written to a temporary file then renamed, so a reader never sees half a record. */
  async writeRecord(name: string, record: VmRecord): Promise<void> {
    const paths = this.vmPaths(name);
    const temporary = `${paths.record}.tmp`;
    await writeFile(temporary, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
    await rename(temporary, paths.record);
  }

  async readRecord(name: string): Promise<VmRecord | undefined> {
    try {
      return JSON.parse(await readFile(this.vmPaths(name).record, 'utf8')) as VmRecord;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      if (error instanceof SyntaxError) return undefined;
      throw error;
    }
  }

  async readPid(name: string): Promise<number | undefined> {
    try {
      const pid = Number.parseInt(await readFile(this.vmPaths(name).pidfile, 'utf8'), 10);
      return Number.isInteger(pid) && pid > 1 ? pid : undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** Everything of a VM that ended: overlays, sockets, pidfile, record. The serial log stays. */
  async remove(name: string): Promise<void> {
    const paths = this.vmPaths(name);
    await rm(paths.overlayDir, { recursive: true, force: true });
    await rm(paths.dir, { recursive: true, force: true });
  }
}
