// The bare side of the boot storm: QEMU launched the way LabVirt's supervisor launches it
// (the exact argv it recorded, with -daemonize and -pidfile, so the parent exits once the
// VM is set up), over an overlay made by a bare `qemu-img create`, and asked over QMP until
// it runs, with nothing else: no database, no HTTP, no store checks, no run-dir record.
// Also the helpers that find and end this benchmark's own QEMUs (by its temp dir in argv).
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { QmpClient } from '../../src/qemu/qmp/qmp-client.js';

const run = promisify(execFile);

/** An overlay as LabVirt made it: its path, and the image and format it is layered on. */
export interface OverlayOf {
  readonly path: string;
  readonly backing: string;
  readonly backingFormat: string;
}

/** Everything needed to start one VM again bare: LabVirt's argv and what it names. */
export interface BareLaunch {
  readonly argv: readonly string[];
  readonly overlays: readonly OverlayOf[];
  /** Directories the argv names (run dir, serial log dir), made before the launch. */
  readonly dirs: readonly string[];
  readonly pidfile: string;
  readonly qmpSocket: string;
}

/** What a running overlay is layered on (-U: QEMU holds its lock). */
export async function overlayOf(path: string): Promise<OverlayOf> {
  const { stdout } = await run('qemu-img', ['info', '-U', '--output=json', path]);
  const info = JSON.parse(stdout) as {
    'full-backing-filename'?: string;
    'backing-filename'?: string;
    'backing-filename-format'?: string;
  };
  const backing = info['full-backing-filename'] ?? info['backing-filename'];
  const backingFormat = info['backing-filename-format'];
  if (backing === undefined || backingFormat === undefined) {
    throw new Error(`${path} has no backing file`);
  }
  return { path, backing, backingFormat };
}

/** The argv's value after `flag` (the first one). */
export function argAfter(argv: readonly string[], flag: string): string {
  const value = argv[argv.indexOf(flag) + 1];
  if (!argv.includes(flag) || value === undefined) throw new Error(`no ${flag} in the argv`);
  return value;
}

/**
 * Starts one VM bare: its directories, its overlays (`qemu-img create -f qcow2 -F FMT -b
 * BACKING`), QEMU (waiting for the daemonizing parent, as LabVirt does), then QMP
 * `query-status` until it says running. Returns QEMU's pid.
 */
export async function bareStart(launch: BareLaunch): Promise<number> {
  for (const dir of launch.dirs) await mkdir(dir, { recursive: true, mode: 0o700 });
  for (const overlay of launch.overlays) {
    await mkdir(dirname(overlay.path), { recursive: true, mode: 0o700 });
    await run('qemu-img', [
      'create',
      '-q',
      '-f',
      'qcow2',
      '-F',
      overlay.backingFormat,
      '-b',
      overlay.backing,
      overlay.path,
    ]);
  }
  const [binary, ...args] = launch.argv;
  if (binary === undefined) throw new Error('an empty argv');
  await run(binary, args);
  const pid = Number.parseInt(await readFile(launch.pidfile, 'utf8'), 10);
  const qmp = await QmpClient.connect(launch.qmpSocket, { connectTimeoutMs: 5_000 });
  try {
    for (;;) {
      const { status } = await qmp.execute<{ status: string }>('query-status');
      if (status === 'running') return pid;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } finally {
    await qmp.close();
  }
}

/** The live QEMU processes whose argv mentions `marker` (this benchmark's temp dir). */
export async function qemusOf(marker: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const [cmdline, stat] = await Promise.all([
      readFile(`/proc/${entry}/cmdline`, 'latin1').catch(() => ''),
      readFile(`/proc/${entry}/stat`, 'latin1').catch(() => ''),
    ]);
    const state = stat.slice(stat.lastIndexOf(')') + 2).charAt(0);
    const argv = cmdline.split('\0');
    if (state === 'Z' || state === 'X' || state === '') continue;
    if (argv[0]?.includes('qemu-system') && argv.some((arg) => arg.includes(marker))) {
      pids.push(Number(entry));
    }
  }
  return pids;
}

/** SIGKILLs these QEMUs (ours, found by qemusOf) and waits until they are gone. */
export async function killQemus(marker: string, pids: readonly number[]): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + 10_000;
  while ((await qemusOf(marker)).some((pid) => pids.includes(pid))) {
    if (Date.now() > deadline) throw new Error(`QEMU ${pids.join(' ')} still alive after SIGKILL`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Ends the bare VMs (not timed) and removes their overlays and directories. */
export async function bareCleanup(marker: string, launches: readonly BareLaunch[]): Promise<void> {
  await killQemus(marker, await qemusOf(marker));
  for (const launch of launches) {
    for (const overlay of launch.overlays)
      await rm(dirname(overlay.path), { recursive: true, force: true });
    await rm(dirname(launch.pidfile), { recursive: true, force: true });
  }
}
