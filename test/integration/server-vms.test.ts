// `labvirt server` and running VMs (invariant 5): it re-adopts the VMs of its run directory
// at start, says so, and SIGTERM leaves them running for the next start.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GuestMode, writeGuestDisk } from '../../scripts/guest.js';
import { processAlive, tempDir } from '../helpers/env.js';
import { guestLaunch, realSupervisor } from '../helpers/supervisor.js';
import { cliEnv, spawnServer } from '../helpers/cli-server.js';

function adoptedIn(output: string): string[] | undefined {
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { adopted?: string[] };
    if (entry.adopted !== undefined) return entry.adopted;
  }
  return undefined;
}

describe('labvirt server with running VMs', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let data: string;
  before(async () => {
    ({ path: dir, cleanup } = await tempDir('lv-vms-'));
    data = join(dir, 'data');
  });
  after(async () => {
    // Whatever happened, power the VM off.
    const supervisor = realSupervisor(join(data, 'run'));
    await supervisor.adopt();
    for (const name of supervisor.names()) await supervisor.stop(name, { graceMs: 5_000 });
    await cleanup();
  });

  it('adopts a running VM at start and leaves it running on SIGTERM, twice', async () => {
    const disk = join(dir, 'guest.img');
    await writeGuestDisk(disk, GuestMode.waitForPowerButton);
    const starter = realSupervisor(join(data, 'run'));
    const status = await starter.start(await guestLaunch('kept', [disk]), { discardWrites: true });
    starter.detach();

    for (let round = 1; round <= 2; round++) {
      const server = await spawnServer(['--data', data], { env: cliEnv(), cwd: dir });
      try {
        assert.deepEqual(adoptedIn(server.output()), ['kept'], `round ${round}`);
        assert.match(server.output(), /adopted 1 running VM: kept/);
      } finally {
        assert.equal(await server.stop(), 0);
      }
      assert.equal(await processAlive(status.pid), true, `the VM survives round ${round}`);
    }
  });
});
