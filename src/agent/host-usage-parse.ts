// Pure readers of the /proc texts behind a host's network counters and its VMs' use:
// /proc/net/dev, /proc/PID/stat and /proc/PID/status. Golden-tested (host-usage-parse.test.ts).

/** Bytes received and sent by all interfaces but loopback, since boot. */
export interface NetBytes {
  readonly rxBytes: number;
  readonly txBytes: number;
}

/**
 * Sums /proc/net/dev: two header lines, then `iface: rx_bytes rx_packets … (8 receive
 * fields) tx_bytes …`. Loopback is left out: it is the host talking to itself.
 */
export function parseNetDev(text: string): NetBytes {
  let rxBytes = 0;
  let txBytes = 0;
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue; // the headers have none
    const name = line.slice(0, colon).trim();
    if (name === 'lo' || name === '') continue;
    const fields = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    const rx = fields[0];
    const tx = fields[8];
    if (rx === undefined || tx === undefined || !Number.isFinite(rx) || !Number.isFinite(tx)) {
      throw new Error(`/proc/net/dev has a malformed line for ${name}`);
    }
    rxBytes += rx;
    txBytes += tx;
  }
  return { rxBytes, txBytes };
}

/**
 * utime + stime of /proc/PID/stat, in clock ticks: all the process's threads (a QEMU's
 * vCPU threads included). The command name in parentheses may hold spaces and ')', so the
 * fields are counted from its last ')': state is the first after it, utime the 12th.
 */
export function parsePidStat(text: string): number {
  const end = text.lastIndexOf(')');
  if (end < 0) throw new Error('/proc/PID/stat has no command name');
  const fields = text
    .slice(end + 1)
    .trim()
    .split(/\s+/);
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isInteger(utime) || !Number.isInteger(stime)) {
    throw new Error('/proc/PID/stat has no utime and stime');
  }
  return utime + stime;
}

/** VmRSS of /proc/PID/status in whole MiB (0 for a process with none, e.g. a zombie). */
export function parseVmRss(text: string): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(text);
  return match?.[1] === undefined ? 0 : Math.floor(Number(match[1]) / 1024);
}

/** Linux's USER_HZ: /proc counts process times in hundredths of a second on every arch. */
export const CLOCK_TICKS_PER_SECOND = 100;

/**
 * A process's CPU use between two readings, as a share of one CPU (a VM busy on two vCPUs
 * reads 200), to a tenth; 0 when no time passed or the counter went back (another process).
 */
export function processCpuPercent(ticks: number, elapsedMs: number): number {
  if (elapsedMs <= 0 || ticks <= 0) return 0;
  const share = ((ticks / CLOCK_TICKS_PER_SECOND) * 1000 * 100) / elapsedMs;
  return Math.round(share * 10) / 10;
}

/** Bytes per second between two counter readings; 0 after a reset (the counters went back). */
export function bytesPerSecond(before: number, after: number, elapsedMs: number): number {
  if (elapsedMs <= 0 || after < before) return 0;
  return Math.round(((after - before) * 1000) / elapsedMs);
}
