// What the supervisor needs to know about processes it did not spawn (QEMU daemonizes,
// and an adopted VM was started by someone else): read from /proc.
import { readFile } from 'node:fs/promises';

export interface ProcessTable {
  /** The argv of a live (non-zombie) process, or undefined if there is none. */
  liveCmdline(pid: number): Promise<string[] | undefined>;
  signal(pid: number, signal: NodeJS.Signals): void;
}

async function readProc(pid: number, file: string): Promise<string | undefined> {
  try {
    return (await readFile(`/proc/${pid}/${file}`)).toString('utf8');
  } catch {
    return undefined;
  }
}

/** The state letter of /proc/PID/stat: after the last ')' (the name may contain one). */
export function procState(stat: string): string | undefined {
  return stat.slice(stat.lastIndexOf(')') + 2).charAt(0) || undefined;
}

export const procProcessTable: ProcessTable = {
  async liveCmdline(pid) {
    const stat = await readProc(pid, 'stat');
    // A zombie has exited; its parent (not us, QEMU daemonizes) just has not reaped it.
    if (stat === undefined || procState(stat) === 'Z' || procState(stat) === 'X') return undefined;
    const cmdline = await readProc(pid, 'cmdline');
    if (cmdline === undefined || cmdline.length === 0) return undefined;
    return cmdline.replace(/\0$/, '').split('\0');
  },
  signal(pid, signal) {
    try {
      process.kill(pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  },
};

export function sameArgv(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((arg, index) => arg === b[index]);
}
