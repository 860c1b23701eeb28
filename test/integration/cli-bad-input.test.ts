// Bad input to `labvirt run`: one clear line naming the problem, exit code 2, nothing
// started and nothing left behind.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/io.js';
import { GuestMode, writeGuestDisk } from '../../scripts/guest.js';
import { runCli, tempDir, type CliResult } from '../helpers/env.js';
import { qcow2BackedBy } from '../helpers/hostile-images.js';

/** QEMU processes whose command line mentions this directory. */
function qemuProcessesUsing(dir: string): string {
  try {
    return execFileSync('pgrep', ['-af', `qemu-system.*${dir}`], { encoding: 'utf8' });
  } catch {
    return ''; // pgrep exits 1 when nothing matches
  }
}

/** The CLI in this process, for the one case that needs another user's view of the files. */
async function mainAs(uid: number, args: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    out: (text) => void (stdout += text),
    err: (text) => void (stderr += text),
    warn: (message) => void (stderr += `labvirt: warning: ${message}\n`),
  };
  process.seteuid?.(uid); // glibc switches every thread, libuv's pool included
  try {
    return { code: await main(args, io), stdout, stderr };
  } finally {
    process.seteuid?.(0);
  }
}

describe('labvirt run with bad input', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let good: string;
  const runRoot = () => join(dir, 'run');
  const serial = () => join(dir, 'serial.log');

  before(async () => {
    ({ path: dir, cleanup } = await tempDir());
    good = join(dir, 'good.img');
    await writeGuestDisk(good, GuestMode.powerOff);
  });
  after(() => cleanup());

  async function expectRefused(result: CliResult, pattern: RegExp): Promise<void> {
    assert.equal(result.code, 2, `exit code 2; stderr: ${result.stderr}`);
    assert.equal(result.stdout, '');
    const lines = result.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `one line: ${result.stderr}`);
    assert.match(lines[0]!, /^labvirt: error: /);
    assert.match(lines[0]!, pattern);
    assert.equal(existsSync(join(runRoot(), 'vms')), false, 'no VM directory was made');
    assert.equal(existsSync(serial()), false, 'no serial log was made');
    assert.equal(qemuProcessesUsing(dir), '', 'no QEMU was started');
  }

  const run = (...args: string[]) =>
    runCli(['run', '--memory', '32', '--serial', serial(), '--run-dir', runRoot(), ...args]);

  it('refuses a missing disk', async () => {
    const missing = join(dir, 'missing.img');
    await expectRefused(
      await run('--disk', missing),
      new RegExp(`disk image "${missing}" does not exist`),
    );
  });

  it('refuses a disk it cannot read', async () => {
    const secret = join(dir, 'locked', 'secret.img');
    await mkdir(join(dir, 'locked'));
    await writeGuestDisk(secret, GuestMode.powerOff);
    await chmod(secret, 0o000);
    await chmod(dir, 0o755);
    const args = ['run', '--disk', secret, '--serial', serial(), '--run-dir', runRoot()];
    // Root reads any file, so ask as "nobody" when the tests run as root.
    const result = process.getuid?.() === 0 ? await mainAs(65534, args) : await runCli(args);
    await expectRefused(result, /disk image ".*secret\.img" cannot be read: permission denied/);
  });

  it('refuses a file that is not a disk image', async () => {
    const text = join(dir, 'notes.txt');
    await writeFile(text, 'not a disk\n');
    await expectRefused(
      await run('--disk', text),
      /"[^"]*notes\.txt" is not a disk image: its size 11 bytes/,
    );
  });

  it('refuses an image whose backing file is outside the allowed directories', async () => {
    const sneaky = qcow2BackedBy(join(dir, 'sneaky.qcow2'));
    await expectRefused(
      await run('--disk', sneaky, '--snapshot'),
      /image "[^"]*sneaky\.qcow2" has backing file "\/etc\/passwd" outside the allowed directories/,
    );
  });

  it('refuses more IDE devices than there are slots', async () => {
    const disks = ['--disk', good, '--disk', good, '--disk', good, '--disk', good];
    await expectRefused(
      await run(...disks, '--cdrom', good),
      /5 IDE devices do not fit the 4 IDE slots/,
    );
  });

  it('refuses an unknown NIC model', async () => {
    await expectRefused(
      await run('--disk', good, '--nic', 'ne2k_pci'),
      /unknown NIC model "ne2k_pci"/,
    );
  });

  it('refuses a malformed MAC', async () => {
    await expectRefused(
      await run('--disk', good, '--mac', '52:54:00:zz:00:01'),
      /MAC address "52:54:00:zz:00:01" is malformed/,
    );
  });

  it('refuses an unknown option', async () => {
    await expectRefused(await run('--disk', good, '--disks', good), /unknown option "--disks"/);
  });
});
