// A profile's CD-ROM and data disks reach its VMs (real QEMU, the boot-counting guest): the
// ISO from the ISO library and a scratch qcow2 data disk show in QMP query-block at the IDE
// slots of the seed's rule (disk 0, data disk 1, CD-ROM 2); the scratch disk goes with the
// VM; a profile whose IDE devices do not fit is refused at the edge, nothing changed; a
// missing ISO at start fails the VM cleanly (no row running, no file left).
import assert from 'node:assert/strict';
import { writeFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dialects } from '../helpers/databases.js';
import {
  bootCount,
  guestProfile,
  GuestMode,
  json,
  overlaysLeft,
  startClient,
  vmFixture,
  type TestProfile,
  type VmFixture,
} from '../helpers/vm-fixture.js';
import { waitFor } from '../helpers/env.js';
import { fingerprint } from '../helpers/api.js';
import type { AdminSessionView } from '../../src/controller/services/admin-sessions.js';
import type { VmView } from '../../src/controller/services/vms.js';

interface BlockInfo {
  readonly qdev?: string;
  readonly removable: boolean;
  readonly inserted?: {
    readonly file: string;
    readonly drv: string;
    readonly ro: boolean;
    readonly image: { readonly format: string; readonly 'virtual-size': number };
  };
}

const sqlite = dialects.filter((dialect) => dialect.name === 'sqlite');

for (const dialect of sqlite) {
  describe(`profile CD-ROM and data disks on ${dialect.name}`, () => {
    let f: VmFixture;
    let guest: TestProfile;
    const iso = 'tools.iso';
    before(async () => {
      f = await vmFixture(dialect);
      guest = await guestProfile(f, { mode: GuestMode.waitForPowerButton });
      await writeFile(join(f.isoDir, iso), Buffer.alloc(2048 * 16, 0x41));
    });
    after(() => f?.close());

    const patch = (payload: Record<string, unknown>) =>
      f.request({
        method: 'PATCH',
        url: `/api/v1/profiles/${guest.name}`,
        as: f.users.admin,
        payload,
      });

    it('a client VM gets the ISO at slot 2 and a 64 MiB scratch qcow2 at slot 1; it goes with the VM', async () => {
      json(await patch({ cdrom: iso, dataDisks: [{ sizeMiB: 64 }] }), 200);
      const vm = await startClient(f, guest.name);
      assert.equal(await bootCount(f, vm.id), 1, 'the guest still boots its system disk');
      const qmp = f.supervisor.qmp(vm.name);
      const blocks = await qmp.execute<BlockInfo[]>('query-block');
      const byDevice = new Map(blocks.map((block) => [block.qdev ?? '', block]));
      const cd = byDevice.get('cd0');
      assert.ok(cd?.inserted, JSON.stringify(blocks));
      assert.equal(cd.removable, true);
      assert.equal(cd.inserted.file, join(f.isoDir, iso));
      assert.equal(cd.inserted.ro, true);
      assert.equal(cd.inserted.drv, 'raw');
      const data = byDevice.get('disk1');
      assert.ok(data?.inserted, JSON.stringify(blocks));
      assert.equal(data.inserted.drv, 'qcow2');
      assert.equal(data.inserted.image.format, 'qcow2');
      assert.equal(data.inserted.image['virtual-size'], 64 * 2 ** 20);
      const scratch = data.inserted.file;
      assert.ok(scratch.startsWith(join(f.overlayRoot, vm.name) + '/'), scratch);
      assert.ok((await stat(scratch)).isFile());
      // The seed's slots: system disk primary master, data disk primary slave, CD secondary master.
      const slots = await Promise.all(
        ['disk0', 'disk1', 'cd0'].map(async (id) => {
          const path = `/machine/peripheral/${id}`;
          const unit = await qmp.execute<number>('qom-get', { path, property: 'unit' });
          const bus = await qmp.execute<string>('qom-get', { path, property: 'parent_bus' });
          return `${id}:${bus.split('/').pop() ?? ''}:${String(unit)}`;
        }),
      );
      assert.deepEqual(slots, ['disk0:ide.0:0', 'disk1:ide.0:1', 'cd0:ide.1:0']);

      json<VmView>(
        await f.request({
          method: 'POST',
          url: `/api/v1/vms/${vm.id}/stop`,
          as: f.users.operator,
          payload: { force: true },
        }),
        200,
      );
      await waitFor('the scratch disk to go', async () =>
        (await stat(scratch).catch(() => undefined)) === undefined ? true : undefined,
      );
      assert.deepEqual(await overlaysLeft(f), []);
    });

    it('too many IDE devices: 400 at PATCH and POST naming the field, nothing changed', async () => {
      const disks = (n: number) => Array.from({ length: n }, () => ({ sizeMiB: 1 }));
      const refusedFor = async (request: () => ReturnType<typeof patch>, field: string) => {
        const before = await fingerprint(f.database);
        const response = await request();
        assert.deepEqual(await fingerprint(f.database), before, 'the refusal changed nothing');
        assert.equal(response.statusCode, 400, response.body);
        const problem = response.json<{ code: string; field?: string; detail: string }>();
        assert.equal(problem.code, 'IDE_SLOTS_EXHAUSTED');
        assert.equal(problem.field, field);
        assert.match(problem.detail, /^5 IDE devices do not fit the 4 IDE slots/);
      };
      const settings = async () => {
        const p = json<{ diskBus: string; cdrom: string | null; dataDisks: unknown[] }>(
          await f.request({
            method: 'GET',
            url: `/api/v1/profiles/${guest.name}`,
            as: f.users.viewer,
          }),
          200,
        );
        return { diskBus: p.diskBus, cdrom: p.cdrom, disks: p.dataDisks.length };
      };
      json(await patch({ cdrom: null, dataDisks: disks(2) }), 200);
      await refusedFor(() => patch({ cdrom: iso, dataDisks: disks(3) }), 'dataDisks');
      assert.deepEqual(await settings(), { diskBus: 'ide', cdrom: null, disks: 2 });
      // The system disk and three data disks fit; a CD-ROM on top does not.
      json(await patch({ dataDisks: disks(3) }), 200);
      await refusedFor(() => patch({ cdrom: iso }), 'cdrom');
      assert.deepEqual(await settings(), { diskBus: 'ide', cdrom: null, disks: 3 });
      // On the virtio bus only the CD-ROM is IDE; back to ide is refused, naming diskBus.
      json(await patch({ diskBus: 'virtio', cdrom: iso }), 200);
      await refusedFor(() => patch({ diskBus: 'ide' }), 'diskBus');
      assert.deepEqual(await settings(), { diskBus: 'virtio', cdrom: iso, disks: 3 });

      const create = () =>
        f.request({
          method: 'POST',
          url: '/api/v1/profiles',
          as: f.users.admin,
          payload: { name: 'too-many-ide', cdrom: iso, dataDisks: disks(3) },
        });
      await refusedFor(create, 'dataDisks');
      const missing = await f.request({
        method: 'GET',
        url: '/api/v1/profiles/too-many-ide',
        as: f.users.viewer,
      });
      assert.equal(missing.statusCode, 404);
      json(await patch({ diskBus: 'ide', cdrom: null, dataDisks: [] }), 200);
    });

    it('the admin VM of a session gets them too', async () => {
      json(await patch({ cdrom: iso, dataDisks: [{ sizeMiB: 16 }] }), 200);
      const opened = json<AdminSessionView>(
        await f.request({
          method: 'POST',
          url: `/api/v1/profiles/${guest.name}/admin-session`,
          as: f.users.admin,
          payload: {},
        }),
        201,
      );
      assert.ok(opened.vm);
      assert.equal(await bootCount(f, opened.vm.id), 1);
      const blocks = await f.supervisor.qmp(opened.vm.name).execute<BlockInfo[]>('query-block');
      const byDevice = new Map(blocks.map((block) => [block.qdev ?? '', block]));
      assert.equal(byDevice.get('cd0')?.inserted?.file, join(f.isoDir, iso));
      const data = byDevice.get('disk1')?.inserted;
      assert.equal(data?.image.format, 'qcow2');
      assert.equal(data.image['virtual-size'], 16 * 2 ** 20);
      const discarded = await f.request({
        method: 'POST',
        url: `/api/v1/profiles/${guest.name}/admin-session/discard`,
        as: f.users.admin,
        payload: { force: true },
      });
      assert.ok(discarded.statusCode < 300, discarded.body);
      await waitFor('the scratch disk to go', async () =>
        (await stat(data.file).catch(() => undefined)) === undefined ? true : undefined,
      );
      assert.deepEqual(await overlaysLeft(f), []);
      json(await patch({ cdrom: null, dataDisks: [] }), 200);
    });

    it('an ISO gone from the library: a clear error at start, the row failed, nothing left', async () => {
      const gone = 'gone.iso';
      await writeFile(join(f.isoDir, gone), Buffer.alloc(2048));
      json(await patch({ cdrom: gone, dataDisks: [{ sizeMiB: 8 }] }), 200);
      await rm(join(f.isoDir, gone));
      const response = await f.request({
        method: 'POST',
        url: '/api/v1/vms',
        as: f.users.operator,
        payload: { profile: guest.name },
      });
      assert.equal(response.statusCode, 400, response.body);
      const problem = response.json<{ code: string; detail: string }>();
      assert.equal(problem.code, 'ISO_NOT_FOUND');
      assert.match(problem.detail, /no ISO image "gone\.iso" in the ISO library/);
      const rows = json<VmView[]>(
        await f.request({
          method: 'GET',
          url: `/api/v1/vms?profile=${guest.name}&state=active`,
          as: f.users.viewer,
        }),
        200,
      );
      assert.deepEqual(rows, [], 'no row starting or running');
      const failed = json<VmView[]>(
        await f.request({
          method: 'GET',
          url: `/api/v1/vms?profile=${guest.name}&state=failed`,
          as: f.users.viewer,
        }),
        200,
      );
      assert.equal(failed.length, 1);
      assert.deepEqual(await overlaysLeft(f), []);
      assert.deepEqual(await f.supervisor.runDir.names(), []);
      json(await patch({ cdrom: null, dataDisks: [] }), 200);
    });
  });
}
