// The idle-cost benchmark's /proc parsing (bench/lib/proc-usage.ts) on golden text: CPU
// ticks from a stat line whose command holds spaces and parentheses, and VmRSS/VmHWM.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseStatCpuTicks, parseStatusKiB, readUsage } from '../../bench/lib/proc-usage.js';

// A node process's /proc/PID/stat (Linux 6.x): utime 1234, stime 567.
const STAT =
  '4242 (node) S 4200 4242 4200 0 -1 4194560 35013 0 12 0 1234 567 0 0 20 0 11 0 ' +
  '4955475 1200001024 20480 18446744073709551615 1 1 0 0 0 0 0 4096 134234626 0 0 0 17 1 0 0 0 0 0';
// A command may hold ") (" itself: only the last ')' ends it.
const TRICKY =
  '77 (qemu) (x) y) R 1 77 77 0 -1 4194560 10 0 0 0 5 7 0 0 20 0 3 0 100 2000 300 ' +
  '18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0';
const STATUS = [
  'Name:\tnode',
  'State:\tS (sleeping)',
  'VmPeak:\t 1234567 kB',
  'VmSize:\t 1171876 kB',
  'VmHWM:\t   98304 kB',
  'VmRSS:\t   81920 kB',
  'RssAnon:\t   40000 kB',
  'Threads:\t11',
  '',
].join('\n');
// A zombie's status has no memory lines.
const ZOMBIE = 'Name:\tqemu-system-x86\nState:\tZ (zombie)\nThreads:\t1\n';

describe('bench /proc parsing', () => {
  it('utime + stime of a stat line, also when the command holds spaces and parentheses', () => {
    assert.equal(parseStatCpuTicks(STAT), 1234 + 567);
    assert.equal(parseStatCpuTicks(TRICKY), 5 + 7);
    assert.throws(() => parseStatCpuTicks('garbage'), /not a \/proc stat line/);
    assert.throws(() => parseStatCpuTicks('1 (x) S 1'), /no utime\/stime/);
  });
  it('VmRSS and VmHWM in KiB; 0 for a process without them', () => {
    assert.equal(parseStatusKiB(STATUS, 'VmRSS'), 81920);
    assert.equal(parseStatusKiB(STATUS, 'VmHWM'), 98304);
    assert.equal(parseStatusKiB(ZOMBIE, 'VmRSS'), 0);
  });
  it('reads this process; undefined for one that does not exist', async () => {
    const own = await readUsage(process.pid);
    assert.ok(own !== undefined && own.rssKiB > 0 && own.hwmKiB >= own.rssKiB);
    assert.equal(await readUsage(2 ** 22 + 1), undefined);
  });
});
