// Processes a test started, found in /proc by their argv (a directory of the test's own in
// it): the QEMUs of a server or cluster, the qemu-img left by a killed controller.
import { readdir, readFile } from 'node:fs/promises';
import { processAlive } from './env.js';

export interface ProcEntry {
  readonly pid: number;
  readonly argv: readonly string[];
}

/** Live processes whose program matches `program` and whose argv names `dir`. */
export async function processesUnder(dir: string, program: RegExp): Promise<ProcEntry[]> {
  const found: ProcEntry[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    const argv = raw.split('\0').filter((arg) => arg !== '');
    if (!program.test(argv[0] ?? '')) continue;
    if (!argv.some((arg) => arg.includes(dir))) continue;
    if (await processAlive(pid)) found.push({ pid, argv });
  }
  return found;
}

export interface QemuUnder extends ProcEntry {
  /** -uuid: the VM's id. */
  readonly uuid: string;
  /** guest= of -name: the VM's name. */
  readonly name: string;
}

/** The live QEMUs whose argv names `dir`. */
export async function qemusUnder(dir: string): Promise<QemuUnder[]> {
  return (await processesUnder(dir, /qemu-system/)).map(({ pid, argv }) => {
    const after = (flag: string) => argv[argv.indexOf(flag) + 1];
    const uuid = argv.includes('-uuid') ? (after('-uuid') ?? '') : '';
    const name = /guest=([^,]+)/.exec(after('-name') ?? '')?.[1] ?? '';
    return { pid, uuid, name, argv };
  });
}
