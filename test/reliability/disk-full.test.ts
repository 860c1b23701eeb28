// Disk full on the image store (import, full and linked clone, admin session open and
// publish) and on the overlay directory (VM start), each on a small tmpfs mounted by the
// test and squeezed to what is used plus a little (disk-small.ts), so the operation writes
// some of its file before it hits ENOSPC. Each must fail with a catalogued problem (no
// stack), register nothing in the database, leave no file and give the space back (statfs
// as before); then the same operation works once there is room. Publish seals the draft
// in place and must need no room at all. An overlay that fills under a running VM pauses
// QEMU (werror=enospc): the VM's view must say io-error, and a forced stop give the space
// back. Store operations run on both dialects; those with real QEMU on PostgreSQL only, to
// keep to the CI budget.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, afterEach, before, describe, it } from 'node:test';
import type { AdminSessionView } from '../../src/controller/services/admin-sessions.js';
import { ACTIVE_STATES, type VmView } from '../../src/controller/services/vms.js';
import { problem } from '../helpers/api.js';
import { waitFor } from '../helpers/env.js';
import { dialects } from '../helpers/databases.js';
import { storeFiles } from '../helpers/image-store.js';
import {
  imagesFixture,
  runJob,
  versionRows,
  type ImagesFixture,
  type JobBody,
} from '../helpers/profile-images.js';
import {
  bootCount,
  guestProfile,
  GuestMode,
  json,
  liveQemus,
  startClient,
  vmFixture,
  waitForState,
  type VmFixture,
} from '../helpers/vm-fixture.js';
import { faultInjected, invariant } from './ledger.js';
import { isRoot, MIB, mountSmallDisk, type SmallDisk } from './disk-small.js';

const run = promisify(execFile);
const skip = isRoot ? false : 'mounting a tmpfs needs root';
const NO_SPACE = /No space left on device|ENOSPC/;

/** What a disk looks like to the invariants: its files and its free bytes. */
async function diskState(disk: SmallDisk) {
  return { files: await storeFiles(disk.path), free: await disk.free() };
}

/** A job's error, or a problem+json answer: the catalogued code, its status, no stack. */
function assertCatalogued(
  error: { code: string; status: number; detail: string } | null | undefined,
  code: string,
  status: number,
  raw: string,
): void {
  assert.ok(error, `an error: ${raw}`);
  assert.equal(error.code, code, raw);
  assert.equal(error.status, status, raw);
  assert.match(error.detail, NO_SPACE, raw);
  assert.doesNotMatch(raw, /\n\s+at |"stack"/, 'no stack trace in the answer');
}

function assertJobFull(job: JobBody): void {
  assert.equal(job.state, 'failed', JSON.stringify(job));
  assertCatalogued(job.error, 'IMAGE_STORE_FULL', 507, JSON.stringify(job));
}

for (const dialect of dialects) {
  describe(`a full image store on ${dialect.name}`, { skip }, () => {
    let f: ImagesFixture;
    let disk: SmallDisk | undefined;
    let mountPoint = '';

    before(async () => {
      mountPoint = await mkdtemp(join(tmpdir(), 'lv-full-'));
      disk = await mountSmallDisk(mountPoint, 16);
      f = await imagesFixture(dialect, { storeRoot: mountPoint });
    });
    // Room again after each test, whatever it left: the next one starts from a roomy store.
    afterEach(() => disk?.release());
    after(async () => {
      await f?.close();
      await disk?.unmount();
      await rm(mountPoint, { recursive: true, force: true });
    });

    const newProfile = async (name: string) => {
      const created = await f.request({
        method: 'POST',
        url: '/api/v1/profiles',
        payload: { name },
        as: f.users.admin,
      });
      assert.equal(created.statusCode, 201, created.body);
      return created.json<{ id: string }>().id;
    };
    const importJob = (profile: string, path: string) =>
      runJob(f, {
        method: 'POST',
        url: `/api/v1/profiles/${profile}/import`,
        payload: { path, format: 'raw' },
        as: f.users.admin,
      });
    const clone = (source: string, name: string, mode: 'linked' | 'full') =>
      f.request({
        method: 'POST',
        url: `/api/v1/profiles/${source}/clone`,
        payload: { name, mode },
        as: f.users.admin,
      });
    const profileNamed = (name: string) =>
      f.database.db.selectFrom('profiles').selectAll().where('name', '=', name).execute();
    /** A profile with a published 3 MiB version (incompressible: qcow2 keeps it 3 MiB). */
    const sourceProfile = async (name: string) => {
      await newProfile(name);
      await writeFile(join(f.importDir, `${name}.img`), randomBytes(3 * MIB));
      const { job } = await importJob(name, `${name}.img`);
      assert.equal(job.state, 'succeeded', JSON.stringify(job));
    };

    it('import: IMAGE_STORE_FULL, no version row, no partial file, space back; then it fits', async () => {
      const id = await newProfile('big');
      await writeFile(join(f.importDir, 'big.img'), randomBytes(4 * MIB));
      assert.ok(disk);
      await disk.squeeze(1 * MIB);
      const before = await diskState(disk);
      faultInjected('disk full: image store during import');
      const { job, seen } = await importJob('big', 'big.img');
      await invariant('disk full on import: a catalogued IMAGE_STORE_FULL (507), no stack', () => {
        assertJobFull(job);
        assert.ok(!seen.includes(100), `progress never reached 100: ${seen.join(',')}`);
      });
      await invariant('disk full on import: no version registered', async () => {
        assert.deepEqual(await versionRows(f, id), []);
        assert.equal((await profileNamed('big'))[0]?.published_version_id, null);
      });
      await invariant('disk full on import: no partial file, the space given back', async () => {
        assert.deepEqual(await diskState(disk!), before);
      });

      await disk.release();
      const second = await importJob('big', 'big.img');
      await invariant('disk full on import: the same import works once there is room', async () => {
        assert.equal(second.job.state, 'succeeded', JSON.stringify(second.job));
        assert.equal((await versionRows(f, id)).length, 1);
      });
    });

    it('full clone: IMAGE_STORE_FULL, no profile or version row, no file, space back; then it works', async () => {
      await sourceProfile('fsrc');
      assert.ok(disk);
      const versions = (await versionRows(f)).length;
      await disk.squeeze(1 * MIB);
      const before = await diskState(disk);
      faultInjected('disk full: image store during full clone');
      const { job } = await runJob(f, {
        method: 'POST',
        url: '/api/v1/profiles/fsrc/clone',
        payload: { name: 'fcopy', mode: 'full' },
        as: f.users.admin,
      });
      await invariant(
        'disk full on full clone: a catalogued IMAGE_STORE_FULL (507), no stack',
        () => assertJobFull(job),
      );
      await invariant('disk full on full clone: no clone profile, no version row', async () => {
        assert.deepEqual(await profileNamed('fcopy'), []);
        assert.equal((await versionRows(f)).length, versions);
      });
      await invariant(
        'disk full on full clone: no partial file, the space given back',
        async () => {
          assert.deepEqual(await diskState(disk!), before);
        },
      );

      await disk.release();
      const second = await runJob(f, {
        method: 'POST',
        url: '/api/v1/profiles/fsrc/clone',
        payload: { name: 'fcopy', mode: 'full' },
        as: f.users.admin,
      });
      await invariant(
        'disk full on full clone: the same clone works once there is room',
        async () => {
          assert.equal(second.job.state, 'succeeded', JSON.stringify(second.job));
          const [copy] = await profileNamed('fcopy');
          assert.ok(copy?.published_version_id, 'the clone has a published version');
        },
      );
    });

    it('linked clone: 507 IMAGE_STORE_FULL at once, nothing registered, space back; then it works', async () => {
      await sourceProfile('lsrc');
      assert.ok(disk);
      const versions = (await versionRows(f)).length;
      // A new layer is a few qcow2 clusters: it gets one of them.
      await disk.squeeze(64 * 1024);
      const before = await diskState(disk);
      faultInjected('disk full: image store during linked clone');
      const answer = await clone('lsrc', 'lcopy', 'linked');
      await invariant(
        'disk full on linked clone: problem+json IMAGE_STORE_FULL (507), no stack',
        () => {
          const body = problem(answer, 507, 'IMAGE_STORE_FULL');
          assertCatalogued(body, 'IMAGE_STORE_FULL', 507, answer.body);
        },
      );
      await invariant('disk full on linked clone: no clone profile, no version row', async () => {
        assert.deepEqual(await profileNamed('lcopy'), []);
        assert.equal((await versionRows(f)).length, versions);
      });
      await invariant(
        'disk full on linked clone: no partial file, the space given back',
        async () => {
          assert.deepEqual(await diskState(disk!), before);
        },
      );

      await disk.release();
      const second = await clone('lsrc', 'lcopy', 'linked');
      await invariant('disk full on linked clone: the same clone works once there is room', () => {
        assert.equal(second.statusCode, 201, second.body);
      });
    });
  });
}

const postgres = dialects.find((dialect) => dialect.name === 'postgres');
assert.ok(postgres);

describe('full disks under admin sessions and VM starts (real QEMU, PostgreSQL)', { skip }, () => {
  let f: VmFixture | undefined;
  let store: SmallDisk | undefined;
  let overlays: SmallDisk | undefined;

  before(async () => {
    f = await vmFixture(postgres);
    // Over the fixture's (still empty) store and overlay directories.
    store = await mountSmallDisk(join(f.dir, 'images'), 16);
    overlays = await mountSmallDisk(f.overlayRoot, 4);
  });
  afterEach(async () => {
    await store?.release();
    await overlays?.release();
  });
  after(async () => {
    // Unmounted first (lazily), so the fixture can remove its directory.
    await overlays?.unmount();
    await store?.unmount();
    await f?.close();
  });

  const activeVms = async (profileId: string) =>
    f!.database.db
      .selectFrom('vms')
      .select(['name', 'state', 'kind'])
      .where('profile_id', '=', profileId)
      .where('state', 'in', ACTIVE_STATES)
      .execute();
  const sessions = (profileId: string) =>
    f!.database.db
      .selectFrom('admin_sessions')
      .selectAll()
      .where('profile_id', '=', profileId)
      .execute();
  const session = (profile: string, action = '') =>
    f!.request({
      method: 'POST',
      url: `/api/v1/profiles/${profile}/admin-session${action}`,
      as: f!.users.admin,
      payload: {},
    });

  it('admin session: open on a full store fails cleanly; publish on a full store needs no room', async () => {
    assert.ok(f && store);
    const p = await guestProfile(f, { mode: GuestMode.waitForPowerButton });
    await store.squeeze(64 * 1024);
    const before = await diskState(store);
    faultInjected('disk full: image store during admin session open');
    const refused = await session(p.name);
    await invariant(
      'disk full on admin session open: problem+json IMAGE_STORE_FULL, no stack',
      () => {
        const body = problem(refused, 507, 'IMAGE_STORE_FULL');
        assertCatalogued(body, 'IMAGE_STORE_FULL', 507, refused.body);
      },
    );
    await invariant('disk full on admin session open: no session row, no VM running', async () => {
      assert.deepEqual(await sessions(p.id), []);
      assert.deepEqual(await activeVms(p.id), []);
      assert.deepEqual([...(await liveQemus(f!.supervisor.runDir)).keys()], []);
    });
    await invariant(
      'disk full on admin session open: no draft file, the space given back',
      async () => {
        assert.deepEqual(await diskState(store!), before);
      },
    );

    await store.release();
    const opened = json<AdminSessionView>(await session(p.name), 201);
    assert.ok(opened.vm);
    assert.equal(await bootCount(f, opened.vm.id), 1, 'the admin VM booted the draft');
    json<VmView>(
      await f.request({
        method: 'POST',
        url: `/api/v1/vms/${opened.vm.id}/stop`,
        as: f.users.admin,
        payload: {},
      }),
      200,
    );
    await waitForState(f, opened.vm.id, 'stopped');

    // Publishing seals the draft where it is: it must not need a byte of the full store.
    await store.squeeze(0);
    const full = await diskState(store);
    faultInjected('disk full: image store during publish');
    const published = await session(p.name, '/publish');
    await invariant(
      'disk full on publish: the draft is published in place, no room needed',
      async () => {
        const body = json<{ versionId: string }>(published, 200);
        assert.equal(body.versionId, opened.draftId);
        const [profile] = await f!.database.db
          .selectFrom('profiles')
          .select('published_version_id')
          .where('id', '=', p.id)
          .execute();
        assert.equal(profile?.published_version_id, opened.draftId);
        assert.deepEqual(await sessions(p.id), []);
        assert.deepEqual(await diskState(store!), full, 'no file added, no space taken');
      },
    );
    await store.release();
  });

  it('VM start with the overlay directory full: a catalogued problem, no VM, no QEMU, no overlay; then it starts', async () => {
    assert.ok(f && overlays);
    const p = await guestProfile(f, { mode: GuestMode.waitForPowerButton });
    await overlays.squeeze(64 * 1024);
    const before = await diskState(overlays);
    faultInjected('disk full: overlay dir during VM start');
    const refused = await f.request({
      method: 'POST',
      url: '/api/v1/vms',
      as: f.users.operator,
      payload: { profile: p.name },
    });
    await invariant('disk full on VM start: problem+json OVERLAY_DIR_FULL (507), no stack', () => {
      const body = problem(refused, 507, 'OVERLAY_DIR_FULL');
      assertCatalogued(body, 'OVERLAY_DIR_FULL', 507, refused.body);
    });
    await invariant('disk full on VM start: no VM row left active, no QEMU left', async () => {
      assert.deepEqual(await activeVms(p.id), []);
      assert.deepEqual([...(await liveQemus(f!.supervisor.runDir)).keys()], []);
    });
    await invariant(
      'disk full on VM start: no overlay file left, the space given back',
      async () => {
        assert.deepEqual(await diskState(overlays!), before);
      },
    );

    await overlays.release();
    const vm = await startClient(f, p.name);
    await invariant('disk full on VM start: the same start works once there is room', async () => {
      assert.equal(await bootCount(f!, vm.id), 1);
      assert.equal((await activeVms(p.id)).length, 1);
    });
  });

  it('overlay directory full under a running VM: shown as io-error, a forced stop gives the space back', async () => {
    assert.ok(f && overlays);
    const p = await guestProfile(f, { mode: GuestMode.waitForPowerButton });
    // Room for the VM's overlay and less than the cluster its guest's first write needs:
    // the overlay's size measured with a probe made like it, beside it.
    const probe = join(overlays.path, 'probe.qcow2');
    await run('qemu-img', [
      'create',
      '-q',
      '-f',
      'qcow2',
      '-b',
      p.version.path,
      '-F',
      'qcow2',
      probe,
    ]);
    const overlaySize = (await stat(probe)).blocks * 512;
    await rm(probe);
    await overlays.squeeze(overlaySize + 16 * 1024);
    const before = await diskState(overlays);
    faultInjected('disk full: overlay dir under a running VM');
    const vm = await startClient(f, p.name);
    await invariant(
      'disk full under a running VM: its view says io-error, not just running',
      async () => {
        const paused = await waitFor(
          `VM ${vm.name} paused on its full overlay`,
          async () => {
            const view = json<VmView>(
              await f!.request({ method: 'GET', url: `/api/v1/vms/${vm.id}`, as: f!.users.viewer }),
              200,
            );
            return view.runStatus === 'io-error' ? view : undefined;
          },
          90_000,
          250,
        );
        assert.equal(paused.state, 'running');
      },
    );
    json<VmView>(
      await f.request({
        method: 'POST',
        url: `/api/v1/vms/${vm.id}/stop`,
        as: f.users.operator,
        payload: { force: true },
      }),
      200,
    );
    await invariant(
      'disk full under a running VM: a forced stop ends it, no QEMU, no row active',
      async () => {
        await waitForState(f!, vm.id, 'stopped');
        assert.deepEqual(await activeVms(p.id), []);
        assert.ok(!(await liveQemus(f!.supervisor.runDir)).has(vm.name), 'its QEMU is gone');
      },
    );
    await invariant(
      'disk full under a running VM: its overlay removed, the space given back',
      async () => {
        assert.deepEqual(await diskState(overlays!), before);
      },
    );
  });
});
