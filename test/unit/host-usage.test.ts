// The host's use from Linux's own files: golden readings of /proc/stat and /proc/meminfo,
// and one real reading.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cpuPercent,
  HostUsageReader,
  parseMeminfo,
  parseProcStat,
} from '../../src/agent/host-usage.js';

const PROC_STAT = `cpu  10132153 290696 3084719 46828483 16683 0 25195 0 175628 0
cpu0 1393280 32966 572056 13343292 6130 0 17875 0 23933 0
cpu1 1335202 38720 515413 13403476 3412 0 3162 0 22548 0
intr 199292 35 2 0 0 0 0 0 0 1 0 0 0 4 0 0 0
ctxt 1990473
btime 1062191376
processes 2915
procs_running 1
procs_blocked 0
`;

const MEMINFO = `MemTotal:       16318480 kB
MemFree:         1213164 kB
MemAvailable:   12069804 kB
Buffers:          524316 kB
Cached:         10205828 kB
SwapCached:            0 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
`;

describe('parseProcStat', () => {
  it('reads the aggregate cpu line: busy is user+nice+system+irq+softirq+steal, idle adds iowait', () => {
    assert.deepEqual(parseProcStat(PROC_STAT), { busy: 13532763, total: 60377929 });
  });

  it('counts guest time once (it is already in user) and tolerates a short line', () => {
    assert.deepEqual(parseProcStat('cpu  100 0 50 800 50 0 0 0 999 999\n'), {
      busy: 150,
      total: 1000,
    });
    assert.deepEqual(parseProcStat('cpu 10 20 30 40\n'), { busy: 60, total: 100 });
  });

  it('refuses a text without the aggregate line (cpu0 is not it)', () => {
    assert.throws(() => parseProcStat('cpu0 1 2 3 4\nintr 5\n'), /no aggregate cpu line/);
    assert.throws(() => parseProcStat(''), /no aggregate cpu line/);
  });
});

describe('cpuPercent', () => {
  it('is the busy share of the time between two readings, to a tenth', () => {
    assert.equal(cpuPercent({ busy: 100, total: 1000 }, { busy: 350, total: 1500 }), 50);
    assert.equal(cpuPercent({ busy: 0, total: 0 }, { busy: 1, total: 3 }), 33.3);
    assert.equal(cpuPercent({ busy: 0, total: 0 }, { busy: 2, total: 3 }), 66.7);
    assert.equal(cpuPercent({ busy: 10, total: 100 }, { busy: 10, total: 200 }), 0);
    assert.equal(cpuPercent({ busy: 10, total: 100 }, { busy: 110, total: 200 }), 100);
  });

  it('is 0 when no time passed or the counters went back, and never past 0-100', () => {
    assert.equal(cpuPercent({ busy: 5, total: 10 }, { busy: 5, total: 10 }), 0);
    assert.equal(cpuPercent({ busy: 500, total: 1000 }, { busy: 5, total: 10 }), 0);
    assert.equal(cpuPercent({ busy: 500, total: 1000 }, { busy: 400, total: 1100 }), 0);
    assert.equal(cpuPercent({ busy: 0, total: 100 }, { busy: 300, total: 200 }), 100);
  });
});

describe('parseMeminfo', () => {
  it('gives MemTotal and MemTotal - MemAvailable in whole MiB', () => {
    assert.deepEqual(parseMeminfo(MEMINFO), { totalMiB: 15936, usedMiB: 4149 });
  });

  it('refuses a text without MemTotal or MemAvailable', () => {
    assert.throws(
      () => parseMeminfo('MemTotal:       16318480 kB\nMemFree: 1 kB\n'),
      /no MemAvailable/,
    );
    assert.throws(() => parseMeminfo('MemAvailable: 1 kB\n'), /no MemTotal/);
  });
});

describe('HostUsageReader', () => {
  it('reads the disk of the nearest existing directory while the data directory is not made yet', async () => {
    const reader = new HostUsageReader(join(tmpdir(), 'labvirt-no-such-dir', 'run'));
    // Pids no process has: VMs that ended since the listing are counted, not measured.
    const gone = new Map([
      ['a', 2 ** 30 + 1],
      ['b', 2 ** 30 + 2],
      ['c', 2 ** 30 + 3],
    ]);
    const usage = await reader.read(gone);
    assert.ok(usage.diskTotalMiB > 0 && usage.diskUsedMiB <= usage.diskTotalMiB);
    assert.ok(usage.memoryTotalMiB > 0);
    assert.equal(usage.vms, 3);
    assert.equal(usage.cpuPercent, 0, 'the first reading has no interval to measure');
    assert.deepEqual(usage.vmUsage, []);
    assert.ok((usage.netRxBytes ?? -1) >= 0 && (usage.netTxBytes ?? -1) >= 0);
  });
});
