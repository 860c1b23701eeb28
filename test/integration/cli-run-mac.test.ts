// `labvirt run --mac` with a MAC a running VM already has: MAC_IN_USE naming that VM, exit
// code 2, and no second QEMU. The real CLI, real QEMU, the project's test guest.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GuestMode, writeGuestDisk } from '../../scripts/guest.js';
import { RunDir } from '../../src/qemu/process/run-dir.js';
import { LABVIRT_BIN, runCli, tempDir, waitFor } from '../helpers/env.js';
import { liveQemus } from '../helpers/vm-fixture.js';

describe('labvirt run --mac', () => {
  let dir = '';
  let cleanup: () => Promise<void> = async () => undefined;
  before(async () => ({ path: dir, cleanup } = await tempDir('lv-rmac-')));
  after(() => cleanup());

  it('refuses a MAC a running VM has, naming it, and starts nothing', async () => {
    const disk = join(dir, 'guest.img');
    await writeGuestDisk(disk, GuestMode.waitForPowerButton);
    const runDir = join(dir, 'run');
    const flags = (name: string, mac: string) => [
      'run',
      '--disk',
      disk,
      '--snapshot',
      '--memory',
      '32',
      '--net',
      'user',
      '--name',
      name,
      '--mac',
      mac,
      '--quiet',
      '--run-dir',
      runDir,
    ];
    const first = spawn(LABVIRT_BIN, flags('mac-first', '52:54:00:4d:41:43'), {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    first.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => first.on('exit', resolve));
    try {
      await waitFor('the first VM to run', async () =>
        /VM mac-first running/.test(stderr) ? true : undefined,
      );
      const second = await runCli(flags('mac-second', '52:54:00:4D:41:43'));
      assert.equal(second.code, 2, second.stderr);
      assert.equal(
        second.stderr,
        'labvirt: error: MAC address 52:54:00:4d:41:43 is already used by VM mac-first, which is active: two VMs with one MAC would break the network (stop that VM first)\n',
      );
      assert.deepEqual([...(await liveQemus(new RunDir(runDir))).keys()], ['mac-first']);
    } finally {
      first.kill('SIGTERM');
      await exited;
    }
    assert.match(stderr, /VM mac-first stopped/);
  });
});
