// What a process costs, read from Linux's /proc: its CPU time (utime + stime of
// /proc/PID/stat, in clock ticks) and its resident memory (VmRSS and the peak VmHWM of
// /proc/PID/status). The parsing is pure (unit-tested on golden text); reading, finding
// processes by their argv and sampling over a window are the rest.
import { readdir, readFile } from 'node:fs/promises';

/** USER_HZ: the unit of /proc's CPU times; 100 on every Linux architecture Node runs on. */
export const CLOCK_TICKS_PER_SECOND = 100;

/** utime + stime of a /proc/PID/stat line, in clock ticks. */
export function parseStatCpuTicks(stat: string): number {
  // The command (field 2) is in parentheses and may hold spaces and ')': the fields after
  // it start after the last ')'. There, state is field 3, utime 14 and stime 15.
  const close = stat.lastIndexOf(')');
  if (close === -1) throw new Error(`not a /proc stat line: ${JSON.stringify(stat.slice(0, 80))}`);
  const fields = stat
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  if (!Number.isInteger(utime) || !Number.isInteger(stime))
    throw new Error(`no utime/stime in /proc stat line: ${JSON.stringify(stat.slice(0, 80))}`);
  return utime + stime;
}

/** A "Name:   1234 kB" field of /proc/PID/status in KiB; 0 when absent (a zombie has none). */
export function parseStatusKiB(status: string, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s*(\\d+)\\s*kB\\s*$`, 'm').exec(status);
  return match?.[1] === undefined ? 0 : Number(match[1]);
}

export interface ProcUsage {
  readonly cpuTicks: number;
  readonly rssKiB: number;
  readonly hwmKiB: number;
}

/** The process's usage now; undefined once it is gone. */
export async function readUsage(pid: number): Promise<ProcUsage | undefined> {
  try {
    const [stat, status] = await Promise.all([
      readFile(`/proc/${pid}/stat`, 'utf8'),
      readFile(`/proc/${pid}/status`, 'utf8'),
    ]);
    return {
      cpuTicks: parseStatCpuTicks(stat),
      rssKiB: parseStatusKiB(status, 'VmRSS'),
      hwmKiB: parseStatusKiB(status, 'VmHWM'),
    };
  } catch {
    return undefined;
  }
}

/** The pids of live processes whose argv `test` accepts (argv from /proc/PID/cmdline). */
export async function findPids(test: (argv: readonly string[]) => boolean): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const raw = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const argv = raw.split('\0').filter((arg) => arg !== '');
    if (argv.length > 0 && test(argv)) pids.push(Number(entry));
  }
  return pids;
}

/** A group's cost over a window: CPU as % of one core, RSS mean and peak (MiB). */
export interface WindowUsage {
  readonly cpuPercent: number;
  readonly rssMeanMiB: number;
  /** The largest VmHWM (each process's own peak since it started), summed over the group. */
  readonly hwmMiB: number;
  /** Processes of the group that ended during the window (their figures are partial). */
  readonly lost: number;
}

/**
 * Samples groups of processes over `seconds`: CPU ticks at the start and the end, RSS
 * once a second (summed per group).
 */
export async function sampleWindow(
  groups: ReadonlyMap<string, readonly number[]>,
  seconds: number,
): Promise<Map<string, WindowUsage>> {
  const read = async () =>
    new Map(
      await Promise.all(
        [...groups].map(
          async ([name, pids]) =>
            [name, await Promise.all(pids.map((pid) => readUsage(pid)))] as const,
        ),
      ),
    );
  const first = await read();
  const startedAt = performance.now();
  const rssSums = new Map<string, number[]>([...groups.keys()].map((name) => [name, []]));
  let last = first;
  while (performance.now() - startedAt < seconds * 1000) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    last = await read();
    for (const [name, usages] of last)
      rssSums.get(name)?.push(usages.reduce((sum, u) => sum + (u?.rssKiB ?? 0), 0));
  }
  const elapsed = (performance.now() - startedAt) / 1000;
  const result = new Map<string, WindowUsage>();
  for (const [name, before] of first) {
    const after = last.get(name) ?? [];
    let ticks = 0;
    let lost = 0;
    let hwm = 0;
    before.forEach((start, i) => {
      const end = after[i];
      if (start === undefined || end === undefined) {
        lost++;
        return;
      }
      ticks += end.cpuTicks - start.cpuTicks;
      hwm += end.hwmKiB;
    });
    const rss = rssSums.get(name) ?? [];
    result.set(name, {
      cpuPercent: (100 * ticks) / CLOCK_TICKS_PER_SECOND / elapsed,
      rssMeanMiB: rss.reduce((a, b) => a + b, 0) / Math.max(1, rss.length) / 1024,
      hwmMiB: hwm / 1024,
      lost,
    });
  }
  return result;
}
