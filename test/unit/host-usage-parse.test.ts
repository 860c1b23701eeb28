// Golden readings of the /proc texts behind network counters and per-VM use:
// /proc/net/dev, /proc/PID/stat and /proc/PID/status, and the rates made of them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bytesPerSecond,
  parseNetDev,
  parsePidStat,
  parseVmRss,
  processCpuPercent,
} from '../../src/agent/host-usage-parse.js';
import type { HostUsage } from '../../src/agent/host-agent.js';
import { netRatesOf } from '../../src/controller/services/host-metrics.js';

const NET_DEV = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 4443312889 8434226    0    0    0     0          0         0 4443312889 8434226    0    0    0     0       0          0
  eth0: 2656395474  119337    0    0    0     0          0         0 11819388  100787    0    0    0     0       0          0
lvbr0:    1000      10    0    0    0     0          0         0     2000      20    0    0    0     0       0          0
 tap-a1b2c3:0 0 0 0 0 0 0 0 500 5 0 0 0 0 0 0
`;

// A QEMU whose command name holds a space and a ')' (set by -name process=…).
const QEMU_STAT =
  '4242 (qemu: vm) x) S 1 4241 4241 0 -1 4194624 51842 0 3 0 1234 567 0 0 20 0 5 0 3789778 1572864000 12345 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n';

const STATUS = `Name:\tqemu-system-x86
Umask:\t0022
State:\tS (sleeping)
VmPeak:\t 1600000 kB
VmSize:\t 1535000 kB
VmHWM:\t   60000 kB
VmRSS:\t   52224 kB
RssAnon:\t   40000 kB
Threads:\t5
`;

describe('parseNetDev', () => {
  it('sums receive and transmit bytes of every interface but lo', () => {
    assert.deepEqual(parseNetDev(NET_DEV), {
      rxBytes: 2656395474 + 1000,
      txBytes: 11819388 + 2000 + 500,
    });
  });

  it('is zero with only loopback or no interfaces', () => {
    const onlyLo = NET_DEV.split('\n').slice(0, 3).join('\n');
    assert.deepEqual(parseNetDev(onlyLo), { rxBytes: 0, txBytes: 0 });
    assert.deepEqual(parseNetDev(''), { rxBytes: 0, txBytes: 0 });
  });

  it('refuses a line without its transmit bytes', () => {
    assert.throws(() => parseNetDev('  eth0: 1 2 3\n'), /malformed line for eth0/);
  });
});

describe('parsePidStat', () => {
  it('is utime + stime, counted from the command name’s last parenthesis', () => {
    assert.equal(parsePidStat(QEMU_STAT), 1234 + 567);
  });

  it('reads a plain command name', () => {
    const cat =
      '22185 (cat) R 22141 22141 17478 0 -1 4194304 96 0 0 0 7 3 0 0 20 0 1 0 3789778 3133440 363\n';
    assert.equal(parsePidStat(cat), 10);
  });

  it('refuses a text without a command name or the time fields', () => {
    assert.throws(() => parsePidStat('4242 qemu S 1'), /no command name/);
    assert.throws(() => parsePidStat('4242 (qemu) S 1 2 3'), /no utime and stime/);
  });
});

describe('parseVmRss', () => {
  it('gives VmRSS in whole MiB', () => {
    assert.equal(parseVmRss(STATUS), 51);
  });

  it('is 0 for a process with no VmRSS (a zombie, a kernel thread)', () => {
    assert.equal(parseVmRss('Name:\tqemu\nState:\tZ (zombie)\n'), 0);
  });
});

describe('processCpuPercent', () => {
  it('is the share of one CPU, 100 ticks being one second, to a tenth', () => {
    assert.equal(processCpuPercent(100, 1000), 100);
    assert.equal(processCpuPercent(50, 10_000), 5);
    assert.equal(processCpuPercent(400, 2000), 200, 'two busy vCPUs');
    assert.equal(processCpuPercent(1, 3000), 0.3);
  });

  it('is 0 with no interval or a counter that went back', () => {
    assert.equal(processCpuPercent(100, 0), 0);
    assert.equal(processCpuPercent(-5, 1000), 0);
    assert.equal(processCpuPercent(0, 1000), 0);
  });
});

describe('bytesPerSecond', () => {
  it('is the counter’s growth per second, rounded', () => {
    assert.equal(bytesPerSecond(1000, 21_000, 10_000), 2000);
    assert.equal(bytesPerSecond(0, 1, 3000), 0);
    assert.equal(bytesPerSecond(0, 2, 3000), 1);
  });

  it('is 0 after a counter reset or with no interval', () => {
    assert.equal(bytesPerSecond(5000, 100, 10_000), 0);
    assert.equal(bytesPerSecond(0, 100, 0), 0);
  });
});

describe('netRatesOf', () => {
  const sample = (at: string, rx?: number, tx?: number): HostUsage => ({
    at,
    cpuPercent: 0,
    memoryUsedMiB: 1,
    memoryTotalMiB: 2,
    diskUsedMiB: 1,
    diskTotalMiB: 2,
    vms: 0,
    ...(rx === undefined ? {} : { netRxBytes: rx }),
    ...(tx === undefined ? {} : { netTxBytes: tx }),
  });

  it('gives bytes per second between consecutive samples, at the later one’s time', () => {
    assert.deepEqual(
      netRatesOf([
        sample('2026-01-01T00:00:00.000Z', 1000, 500),
        sample('2026-01-01T00:00:10.000Z', 21_000, 1500),
        sample('2026-01-01T00:00:20.000Z', 21_000, 2500),
      ]),
      [
        { at: '2026-01-01T00:00:10.000Z', rxBytesPerSecond: 2000, txBytesPerSecond: 100 },
        { at: '2026-01-01T00:00:20.000Z', rxBytesPerSecond: 0, txBytesPerSecond: 100 },
      ],
    );
  });

  it('skips pairs without counters (an older agent) and has nothing for one sample', () => {
    assert.deepEqual(netRatesOf([sample('2026-01-01T00:00:00.000Z', 1, 1)]), []);
    assert.deepEqual(
      netRatesOf([sample('2026-01-01T00:00:00.000Z'), sample('2026-01-01T00:00:10.000Z', 5, 5)]),
      [],
    );
  });
});
