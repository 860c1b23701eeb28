// Invariants 1 and 2 at the image store's level, on real QEMU with the boot-counting test
// guest: client VMs boot a sealed version through per-VM overlays (on a tmpfs) made by the
// store's overlay maker, and never change it; an admin draft layered on it keeps its writes
// and, once sealed, is what new clients continue from. And QEMU's image lock keeps writers
// off a version while clients run on it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { SealedVersion } from '../../src/images/image-store.js';
import { StoreOverlayMaker } from '../../src/images/store-overlays.js';
import { QemuImg } from '../../src/qemu/image/qemu-img.js';
import { RunDir } from '../../src/qemu/process/run-dir.js';
import { Supervisor, type VmStatus } from '../../src/qemu/process/supervisor.js';
import { QmpClient } from '../../src/qemu/qmp/qmp-client.js';
import { nodeCommandRunner } from '../../src/system/command-runner.js';
import { procProcessTable } from '../../src/system/process-table.js';
import { bootsInLog, GuestMode, writeGuestDisk } from '../../scripts/guest.js';
import { fails } from '../helpers/assertions.js';
import {
  processAlive,
  readIfExists,
  sha256File,
  waitFor,
  waitForFileMatch,
} from '../helpers/env.js';
import { newRef, storeFixture, type StoreFixture } from '../helpers/image-store.js';
import { guestLaunch } from '../helpers/supervisor.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;

describe('image store versions booted by real QEMU', () => {
  let fx: StoreFixture;
  let overlayRoot = '';
  let tmpfsMounted = false;
  let supervisor: Supervisor;
  let runDir: RunDir;
  let base: SealedVersion;
  let published: SealedVersion;
  let counter = 0;

  before(async () => {
    fx = await storeFixture();
    overlayRoot = join(fx.dir, 'overlays');
    await mkdir(overlayRoot);
    if (isRoot) {
      // Overlays on a tmpfs, as a host short of disk bandwidth would have them.
      await run('mount', ['-t', 'tmpfs', '-o', 'size=64m,mode=0700', 'tmpfs', overlayRoot]);
      tmpfsMounted = true;
    }
    runDir = new RunDir(join(fx.dir, 'run'), { overlayRoot });
    supervisor = new Supervisor({
      runDir,
      runner: nodeCommandRunner,
      processes: procProcessTable,
      images: new StoreOverlayMaker(fx.store, new QemuImg()),
      connectQmp: (socket) => QmpClient.connect(socket, { connectTimeoutMs: 5_000 }),
    });
    const disk = join(fx.importDir, 'guest.img');
    await writeGuestDisk(disk, GuestMode.waitForPowerButton);
    const profile = newRef().profileId;
    base = await fx.store.import(disk, newRef(profile), { format: 'raw' });
    // The published version is itself a layer (as after an admin session).
    const layer = await fx.store.createLayer(base.ref, newRef(profile));
    published = await fx.store.seal(layer.ref);
  });

  after(async () => {
    for (const name of await runDir.names()) {
      const pid = await runDir.readPid(name);
      if (pid === undefined || !(await processAlive(pid))) continue;
      process.kill(pid, 'SIGKILL');
      await waitFor('a killed QEMU to go', async () =>
        (await processAlive(pid)) ? undefined : true,
      );
    }
    supervisor.detach();
    if (tmpfsMounted) await run('umount', [overlayRoot]);
    await fx.cleanup();
  });

  async function start(path: string, discardWrites: boolean): Promise<VmStatus> {
    const name = `vm${++counter}`;
    const launch = await guestLaunch(name, [path]);
    return supervisor.start({ ...launch, disks: [{ path, format: 'qcow2' }] }, { discardWrites });
  }

  /** The boot count the guest printed, once it has. */
  async function bootCount(status: VmStatus): Promise<number> {
    await waitForFileMatch(status.serialLog, /boot=\d+ mode=/);
    const boots = bootsInLog(await readIfExists(status.serialLog));
    assert.equal(boots.length, 1, 'one boot per VM');
    return Number(boots[0]);
  }

  /** Boots a VM on `path`, returns its boot count, powers it off. */
  async function boot(path: string, discardWrites: boolean): Promise<number> {
    const status = await start(path, discardWrites);
    const count = await bootCount(status);
    const exit = await supervisor.stop(status.name, { graceMs: 15_000 });
    assert.equal(exit.shutdownReason, 'guest-shutdown');
    return count;
  }

  const overlaysLeft = () => readdir(overlayRoot);

  it('invariants 1 and 2: three client sessions, each a first boot, the version unchanged', async () => {
    const before = [await sha256File(base.path), await sha256File(published.path)];
    assert.deepEqual(before, [base.sha256, published.sha256]);
    for (let session = 1; session <= 3; session++) {
      assert.equal(await boot(published.path, true), 1, `session ${session} is a first boot`);
      assert.deepEqual(await overlaysLeft(), [], 'the overlay went with the VM');
    }
    assert.deepEqual([await sha256File(base.path), await sha256File(published.path)], before);
    assert.equal((await fx.store.verify(published.ref, published.sha256)).ok, true);
    assert.equal((await stat(published.path)).mode & 0o777, 0o444);
  });

  it('an admin draft keeps its writes; sealed, new clients continue from it', async () => {
    const draft = await fx.store.createLayer(published.ref, newRef(published.ref.profileId));
    assert.equal(await boot(draft.path, false), 1);
    // While the admin VM runs, the draft cannot be sealed: QEMU holds its lock.
    const admin = await start(draft.path, false);
    assert.equal(await bootCount(admin), 2);
    await assert.rejects(fx.store.seal(draft.ref), fails('IMAGE_IN_USE'));
    assert.equal((await stat(draft.path)).mode & 0o777, 0o644, 'still a draft');
    await supervisor.stop(admin.name, { graceMs: 15_000 });

    const next = await fx.store.seal(draft.ref);
    assert.equal(await boot(next.path, true), 3, 'a client continues from the admin count');
    assert.equal(await boot(next.path, true), 3, 'and so does the next one');
    assert.equal(await sha256File(next.path), next.sha256);
    assert.equal(await boot(published.path, true), 1, 'the older version is untouched');
    assert.equal(await sha256File(published.path), published.sha256);
    assert.deepEqual(await overlaysLeft(), []);
  });

  it("QEMU's lock: no writer on a version while a client runs on it", async () => {
    const client = await start(published.path, true);
    assert.equal(await bootCount(client), 1);
    // Running as root, the 0444 mode alone would not stop a writer: the lock does.
    await assert.rejects(start(published.path, false), (error: Error) => {
      assert.ok(fails('QEMU_START_FAILED')(error));
      assert.match(error.message, /Failed to get "write" lock/);
      return true;
    });
    await assert.rejects(
      run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 9 0 512', published.path]),
      (error: Error & { stderr?: string }) => {
        assert.match(error.stderr ?? '', /Failed to get "write" lock/);
        return true;
      },
    );
    // Readers share it: a check, and a layer on it (a new draft) are fine meanwhile.
    await run('qemu-img', ['check', '-f', 'qcow2', published.path]);
    const draft = await fx.store.createLayer(published.ref, newRef(published.ref.profileId));
    await supervisor.stop(client.name, { graceMs: 15_000 });
    assert.equal(await sha256File(published.path), published.sha256);
    await fx.store.remove(draft.ref);
  });
});
