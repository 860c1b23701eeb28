// What a host is using now, read from Linux itself: CPU busy share between two readings of
// /proc/stat, memory from /proc/meminfo (MemAvailable, as free(1) counts "used"), the
// file system of the agent's data from statfs, network counters from /proc/net/dev, and
// each VM's QEMU process from /proc/PID/stat and status. The parsers are pure, for golden
// tests (here and in host-usage-parse.ts).
import { readFile, statfs } from 'node:fs/promises';
import type { StatsFs } from 'node:fs';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { HostUsage, VmUsage } from './host-agent.js';
import { parseNetDev, parsePidStat, parseVmRss, processCpuPercent } from './host-usage-parse.js';

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

/** A VM's QEMU process at the previous reading: its CPU ticks then. */
interface ProcessTimes {
  readonly pid: number;
  readonly ticks: number;
}

/** One VM's process now, or undefined when it is gone (ended between the listing and now). */
async function readProcess(pid: number): Promise<{ ticks: number; memoryMiB: number } | undefined> {
  try {
    const [stat, status] = await Promise.all([
      readFile(`/proc/${pid}/stat`, 'utf8'),
      readFile(`/proc/${pid}/status`, 'utf8'),
    ]);
    return { ticks: parsePidStat(stat), memoryMiB: parseVmRss(status) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Reads the host's use; keeps the last CPU readings (the host's and each VM process's) so
 * each sample covers the time since.
 */
export class HostUsageReader {
  #previous: CpuTimes | undefined;
  #previousVms = new Map<string, ProcessTimes>();
  #previousAt = 0;
  readonly #dataDir: string;
  readonly #now: () => Date;
  readonly #monotonicMs: () => number;

  constructor(
    dataDir: string,
    now: () => Date = () => new Date(),
    monotonicMs: () => number = () => performance.now(),
  ) {
    this.#dataDir = dataDir;
    this.#now = now;
    this.#monotonicMs = monotonicMs;
  }

  /** `vms`: the agent's running VMs, name → QEMU's pid. */
  async read(vms: ReadonlyMap<string, number>): Promise<HostUsage> {
    const [stat, meminfo, fs, netDev, vmUsage] = await Promise.all([
      readFile('/proc/stat', 'utf8'),
      readFile('/proc/meminfo', 'utf8'),
      statfsNearest(this.#dataDir),
      readFile('/proc/net/dev', 'utf8'),
      this.#readVms(vms),
    ]);
    const times = parseProcStat(stat);
    const cpu = this.#previous === undefined ? 0 : cpuPercent(this.#previous, times);
    this.#previous = times;
    const memory = parseMeminfo(meminfo);
    const net = parseNetDev(netDev);
    const mib = (blocks: number): number => Math.floor((blocks * fs.bsize) / 2 ** 20);
    return {
      at: this.#now().toISOString(),
      cpuPercent: cpu,
      memoryUsedMiB: memory.usedMiB,
      memoryTotalMiB: memory.totalMiB,
      diskUsedMiB: mib(fs.blocks - fs.bfree),
      diskTotalMiB: mib(fs.blocks),
      vms: vms.size,
      netRxBytes: net.rxBytes,
      netTxBytes: net.txBytes,
      vmUsage,
    };
  }

  async #readVms(vms: ReadonlyMap<string, number>): Promise<VmUsage[]> {
    const at = this.#monotonicMs();
    const elapsedMs = at - this.#previousAt;
    const read = await Promise.all(
      [...vms].map(async ([name, pid]) => ({ name, pid, now: await readProcess(pid) })),
    );
    const next = new Map<string, ProcessTimes>();
    const usage: VmUsage[] = [];
    for (const { name, pid, now } of read) {
      if (now === undefined) continue;
      next.set(name, { pid, ticks: now.ticks });
      // A VM seen for the first time (or restarted under a new pid) has no interval yet.
      const before = this.#previousVms.get(name);
      const ticks = before?.pid === pid ? now.ticks - before.ticks : 0;
      usage.push({
        name,
        cpuPercent: processCpuPercent(ticks, elapsedMs),
        memoryMiB: now.memoryMiB,
      });
    }
    this.#previousVms = next;
    this.#previousAt = at;
    return usage.sort((a, b) => a.name.localeCompare(b.name));
  }
}
