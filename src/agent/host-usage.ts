// What a host is using now, read from Linux itself: CPU busy share between two readings of
// /proc/stat, memory from /proc/meminfo (MemAvailable, as free(1) counts "used"), and the
// file system of the agent's data from statfs. The parsers are pure, for golden tests.
import { readFile, statfs } from 'node:fs/promises';
import type { StatsFs } from 'node:fs';
import { dirname } from 'node:path';
import type { HostUsage } from './host-agent.js';

/** The aggregate "cpu" line of /proc/stat: jiffies busy and in all. */
export interface CpuTimes {
  readonly busy: number;
  readonly total: number;
}

export function parseProcStat(text: string): CpuTimes {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (line === undefined) throw new Error('/proc/stat has no aggregate cpu line');
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user).
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] =
    fields;
  const idleAll = idle + iowait;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idleAll };
}

/** Busy share between two readings, 0–100 (0 when no time passed). */
export function cpuPercent(before: CpuTimes, after: CpuTimes): number {
  const total = after.total - before.total;
  if (total <= 0) return 0;
  const share = ((after.busy - before.busy) / total) * 100;
  return Math.round(Math.min(100, Math.max(0, share)) * 10) / 10;
}

/** MemTotal and MemAvailable of /proc/meminfo, in MiB. */
export function parseMeminfo(text: string): { totalMiB: number; usedMiB: number } {
  const kib = (key: string): number => {
    const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
    if (match?.[1] === undefined) throw new Error(`/proc/meminfo has no ${key}`);
    return Number(match[1]);
  };
  const total = kib('MemTotal');
  const available = kib('MemAvailable');
  return { totalMiB: Math.floor(total / 1024), usedMiB: Math.floor((total - available) / 1024) };
}

/** statfs of the directory, or of its nearest existing parent (a fresh data directory). */
async function statfsNearest(path: string): Promise<StatsFs> {
  try {
    return await statfs(path);
  } catch (error) {
    const parent = dirname(path);
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || parent === path) throw error;
    return statfsNearest(parent);
  }
}

/** Reads the host's use; keeps the last CPU reading so each sample covers the time since. */
export class HostUsageReader {
  #previous: CpuTimes | undefined;
  readonly #dataDir: string;
  readonly #now: () => Date;

  constructor(dataDir: string, now: () => Date = () => new Date()) {
    this.#dataDir = dataDir;
    this.#now = now;
  }

  async read(vms: number): Promise<HostUsage> {
    const [stat, meminfo, fs] = await Promise.all([
      readFile('/proc/stat', 'utf8'),
      readFile('/proc/meminfo', 'utf8'),
      statfsNearest(this.#dataDir),
    ]);
    const times = parseProcStat(stat);
    const cpu = this.#previous === undefined ? 0 : cpuPercent(this.#previous, times);
    this.#previous = times;
    const memory = parseMeminfo(meminfo);
    const mib = (blocks: number): number => Math.floor((blocks * fs.bsize) / 2 ** 20);
    return {
      at: this.#now().toISOString(),
      cpuPercent: cpu,
      memoryUsedMiB: memory.usedMiB,
      memoryTotalMiB: memory.totalMiB,
      diskUsedMiB: mib(fs.blocks - fs.bfree),
      diskTotalMiB: mib(fs.blocks),
      vms,
    };
  }
}
