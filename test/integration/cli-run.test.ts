// `labvirt run` end to end: the real CLI, real QEMU, the project's test guest.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  bootsInLog,
  GuestMode,
  readBootCount,
  writeGuestDisk,
  writeGuestIso,
} from '../../scripts/guest.js';
import { readIfExists, runCli, sha256File, tempDir } from '../helpers/env.js';

describe('labvirt run', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ path: dir, cleanup } = await tempDir()));
  after(() => cleanup());

  let lastStderr = '';

  /** Boots the guest once (it powers itself off) and returns what it said on its serial port. */
  async function boot(disk: string, ...flags: string[]): Promise<string> {
    const serial = join(dir, `serial-${Math.random().toString(36).slice(2)}.log`);
    const result = await runCli([
      'run',
      '--disk',
      disk,
      '--memory',
      '32',
      '--net',
      'none',
      '--serial',
      serial,
      '--quiet',
      '--run-dir',
      join(dir, 'run'),
      ...flags,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /VM \S+ stopped \(guest-shutdown\)/);
    lastStderr = result.stderr;
    return readIfExists(serial);
  }

  it('with --snapshot, boots from the same image every time and never changes it', async () => {
    const disk = join(dir, 'snap.img');
    await writeGuestDisk(disk, GuestMode.powerOff);
    const before = await sha256File(disk);
    assert.deepEqual(bootsInLog(await boot(disk, '--snapshot')), ['1']);
    assert.deepEqual(bootsInLog(await boot(disk, '--snapshot')), ['1']);
    assert.equal(await sha256File(disk), before);
    assert.equal(await readBootCount(disk), 0);
  });

  it('without --snapshot, keeps the guest’s writes', async () => {
    const disk = join(dir, 'persist.img');
    await writeGuestDisk(disk, GuestMode.powerOff);
    assert.deepEqual(bootsInLog(await boot(disk)), ['1']);
    assert.deepEqual(bootsInLog(await boot(disk)), ['2']);
    assert.equal(await readBootCount(disk), 2);
  });

  it('runs under TCG software emulation with --accel tcg', async () => {
    const disk = join(dir, 'tcg.img');
    await writeGuestDisk(disk, GuestMode.powerOff);
    assert.deepEqual(bootsInLog(await boot(disk, '--snapshot', '--accel', 'tcg')), ['1']);
    assert.match(lastStderr, /running \(pid \d+, tcg, writes discarded\)/);
  });

  it('boots the CD-ROM with --boot cdrom, and the disk otherwise', async () => {
    const disk = join(dir, 'cd-disk.img');
    const iso = join(dir, 'guest.iso');
    await writeGuestDisk(disk, GuestMode.powerOff);
    await writeGuestIso(iso);
    const serial = join(dir, 'cd.log');
    const child = runCli([
      'run',
      '--disk',
      disk,
      '--cdrom',
      iso,
      '--boot',
      'cdrom',
      '--memory',
      '32',
      '--net',
      'none',
      '--serial',
      serial,
      '--run-dir',
      join(dir, 'run'),
      '--grace',
      '20',
    ]);
    // The guest booted from a CD-ROM counts nothing and waits for the power button,
    // which `labvirt run` presses on SIGTERM.
    const { waitForFileMatch } = await import('../helpers/env.js');
    await waitForFileMatch(serial, /boot=cdrom/);
    const { execFileSync } = await import('node:child_process');
    execFileSync('pkill', ['-TERM', '-f', `labvirt run --disk ${disk}`]);
    const result = await child;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /SIGTERM: powering VM \S+ down/);
    assert.match(result.stderr, /stopped \(powerdown\)/);
    assert.match(
      result.stdout,
      /LABVIRT-GUEST boot=cdrom/,
      'the serial console is copied to stdout',
    );
    assert.equal(await readBootCount(disk), 0);
    assert.deepEqual(bootsInLog(await boot(disk, '--cdrom', iso)), ['1']);
  });
});
