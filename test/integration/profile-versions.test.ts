// A profile's versions through the API, on both dialects: list, rollback, flatten (a job
// with progress), delete with its dependency rules; linked clones read through to their
// source, full clones are independent copies made with progress.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { registerVersion } from '../../src/controller/services/version-jobs.js';
import { fails } from '../helpers/assertions.js';
import { problem } from '../helpers/api.js';
import { dialects } from '../helpers/databases.js';
import { qemuImgCli } from '../helpers/image-store.js';
import {
  filesIn,
  imagesFixture,
  MIB,
  runJob,
  versionRows,
  writeRawImage,
  type ImagesFixture,
} from '../helpers/profile-images.js';

const setup = { principal: undefined, source: 'test' };

interface VersionBody {
  id: string;
  number: number;
  parentVersion: string | null;
  chainDepth: number;
  published: boolean;
  createdBy: string | null;
  sizeBytes: number;
  note: string;
}

for (const dialect of dialects) {
  describe(`profile versions and clones on ${dialect.name}`, () => {
    let f: ImagesFixture;
    let rawA = '';
    let rawB = '';
    const admin = () => f.users.admin;
    const versions = async (profile: string): Promise<VersionBody[]> => {
      const response = await f.request({
        method: 'GET',
        url: `/api/v1/profiles/${profile}/versions`,
        as: f.users.viewer,
      });
      assert.equal(response.statusCode, 200, response.body);
      return response.json<VersionBody[]>();
    };
    const fileOf = async (versionId: string) => {
      const row = await f.database.db
        .selectFrom('versions')
        .select('file')
        .where('id', '=', versionId)
        .executeTakeFirstOrThrow();
      return join(f.storeRoot, row.file);
    };
    const profileOf = (name: string) =>
      f.database.db
        .selectFrom('profiles')
        .selectAll()
        .where('name', '=', name)
        .executeTakeFirstOrThrow();
    const importInto = async (profile: string, path: string) => {
      const { job } = await runJob(f, {
        method: 'POST',
        url: `/api/v1/profiles/${profile}/import`,
        payload: { path, format: 'raw' },
        as: admin(),
      });
      assert.equal(job.state, 'succeeded', JSON.stringify(job));
      return job.result as VersionBody;
    };
    const post = (url: string, payload?: object) =>
      f.request({
        method: 'POST',
        url: `/api/v1${url}`,
        as: admin(),
        ...(payload ? { payload } : {}),
      });

    before(async () => {
      f = await imagesFixture(dialect);
      rawA = join(f.importDir, 'a.img');
      rawB = join(f.importDir, 'b.img');
      await writeRawImage(rawA, 4 * MIB, 'a');
      await writeRawImage(rawB, 4 * MIB, 'b');
      for (const name of ['golden', 'deps']) {
        const created = await post('/profiles', { name, memoryMiB: 1024 });
        assert.equal(created.statusCode, 201, created.body);
      }
      await importInto('golden', rawA);
      await importInto('golden', rawB);
    });
    after(() => f?.close());

    it('settings: a CD-ROM from the ISO library only, and up to three data disks', async () => {
      await writeFile(join(f.isoDir, 'install.iso'), 'an ISO');
      await symlink('/etc/passwd', join(f.isoDir, 'passwd.iso'));
      await mkdir(join(f.isoDir, 'sub'));
      await writeFile(join(f.isoDir, 'sub', 'x.iso'), 'nested');
      const patch = (payload: object) =>
        f.request({ method: 'PATCH', url: '/api/v1/profiles/deps', payload, as: admin() });
      const ok = await patch({ cdrom: 'install.iso', dataDisks: [{ sizeMiB: 512 }] });
      assert.equal(ok.statusCode, 200, ok.body);
      assert.equal(ok.json<{ cdrom: string }>().cdrom, 'install.iso');
      assert.deepEqual(ok.json<{ dataDisks: unknown }>().dataDisks, [{ sizeMiB: 512 }]);
      for (const [cdrom, code] of [
        ['../install.iso', 'FIELD_INVALID'],
        ['..', 'ISO_NAME_INVALID'],
        ['.hidden.iso', 'ISO_NAME_INVALID'],
        ['sub/x.iso', 'FIELD_INVALID'],
        ['passwd.iso', 'ISO_NOT_FOUND'],
        ['sub', 'ISO_NOT_FOUND'],
        ['missing.iso', 'ISO_NOT_FOUND'],
      ] as const) {
        const refused = problem(await patch({ cdrom }), 400, code, cdrom);
        assert.equal(refused.field, 'cdrom');
      }
      problem(await patch({ dataDisks: [1, 2, 3, 4].map(() => ({ sizeMiB: 1 })) }), 400);
      const cleared = await patch({ cdrom: null, dataDisks: [] });
      assert.equal(cleared.json<{ cdrom: null }>().cdrom, null);
      const row = await profileOf('deps');
      assert.equal(row.cdrom, null);
      assert.equal(row.data_disks, '[]');
    });

    it('lists versions with who, when, size, chain depth and which is published', async () => {
      const list = await versions('golden');
      assert.deepEqual(
        list.map((v) => [v.number, v.published, v.chainDepth, v.createdBy]),
        [
          [1, true, 1, 'admin'],
          [2, false, 1, 'admin'],
        ],
      );
      assert.ok(list.every((v) => v.sizeBytes > 0));
      problem(
        await f.request({ method: 'GET', url: '/api/v1/profiles/nope/versions', as: admin() }),
        404,
        'PROFILE_NOT_FOUND',
      );
    });

    it('rollback: another version becomes the published one (admins only)', async () => {
      problem(
        await f.request({
          method: 'POST',
          url: '/api/v1/profiles/golden/rollback',
          payload: { version: '2' },
          as: f.users.operator,
        }),
        403,
      );
      const response = await post('/profiles/golden/rollback', { version: '2' });
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(response.json<VersionBody>().published, true);
      assert.deepEqual(
        (await versions('golden')).map((v) => v.published),
        [false, true],
      );
      assert.equal((await post('/profiles/golden/rollback', { version: '1' })).statusCode, 200);
      problem(await post('/profiles/golden/rollback', { version: '9' }), 404, 'VERSION_NOT_FOUND');
    });

    it('a linked clone is a layer on the published version, and reads through to it', async () => {
      const response = await post('/profiles/golden/clone', { name: 'linked', mode: 'linked' });
      assert.equal(response.statusCode, 201, response.body);
      const list = await versions('linked');
      assert.equal(list.length, 1);
      const source = (await versions('golden')).find((v) => v.published)!;
      assert.equal(list[0]!.parentVersion, source.id);
      assert.equal(list[0]!.chainDepth, 2);
      assert.equal(list[0]!.published, true);
      const path = await fileOf(list[0]!.id);
      assert.equal((await stat(path)).mode & 0o777, 0o444);
      assert.ok((await stat(path)).size < 1 * MIB, 'a thin layer');
      qemuImgCli('compare', '-f', 'raw', '-F', 'qcow2', rawA, path);
      const clone = await profileOf('linked');
      assert.equal(clone.memory_mib, 1024, 'settings are copied');
      const body = response.json<{ profile: { name: string; memoryMiB: number } }>();
      assert.equal(body.profile.name, 'linked');
      assert.equal(body.profile.memoryMiB, 1024);
      // The source cannot be deleted while a clone is layered on it.
      const refused = await f.request({
        method: 'DELETE',
        url: '/api/v1/profiles/golden',
        as: admin(),
      });
      assert.match(problem(refused, 409, 'PROFILE_IN_USE').detail, /linked clones/);
      assert.equal((await versions('golden')).length, 2);
      problem(await post('/profiles/golden/clone', { name: 'linked' }), 409, 'PROFILE_EXISTS');
      problem(await post('/profiles/deps/clone', { name: 'x' }), 409, 'PROFILE_NO_IMAGE');
    });

    it('flatten collapses the linked clone’s chain into a new published version, with progress', async () => {
      const { job, seen } = await runJob(f, {
        method: 'POST',
        url: '/api/v1/profiles/linked/flatten',
        payload: {},
        as: admin(),
      });
      assert.equal(job.state, 'succeeded', JSON.stringify(job));
      assert.ok(seen.length >= 2, `progress: ${seen.join(', ')}`);
      const list = await versions('linked');
      assert.deepEqual(
        list.map((v) => [v.number, v.chainDepth, v.published]),
        [
          [1, 2, false],
          [2, 1, true],
        ],
      );
      qemuImgCli('compare', '-f', 'raw', '-F', 'qcow2', rawA, await fileOf(list[1]!.id));
    });

    it('delete: never the published one, nor one a VM, admin session or layer depends on', async () => {
      const golden = await profileOf('golden');
      const [v1, v2] = await versions('golden');
      problem(
        await f.request({
          method: 'DELETE',
          url: '/api/v1/profiles/golden/versions/1',
          as: admin(),
        }),
        409,
        'VERSION_PUBLISHED',
      );
      // Version 1 has the linked clone's version 1 layered on it.
      assert.equal((await post('/profiles/golden/rollback', { version: '2' })).statusCode, 200);
      problem(
        await f.request({
          method: 'DELETE',
          url: '/api/v1/profiles/golden/versions/1',
          as: admin(),
        }),
        409,
        'VERSION_IN_USE',
      );
      // A VM on version 1 of "deps", then an admin session on it.
      const deps = await profileOf('deps');
      const depV1 = await importInto('deps', rawA);
      const depV2 = await importInto('deps', rawB);
      assert.equal((await post('/profiles/deps/rollback', { version: '2' })).statusCode, 200);
      const now = new Date().toISOString();
      const vmId = randomUUID();
      await f.database.db
        .insertInto('vms')
        .values({
          id: vmId,
          name: 'vm-dep',
          kind: 'client',
          profile_id: deps.id,
          version_id: depV1.id,
          terminal_id: null,
          host_id: null,
          state: 'running',
          mac: '52:54:00:aa:bb:01',
          created_at: now,
          updated_at: now,
        })
        .execute();
      const del = () =>
        f.request({ method: 'DELETE', url: '/api/v1/profiles/deps/versions/1', as: admin() });
      const inUse = problem(await del(), 409, 'VERSION_IN_USE');
      assert.match(inUse.detail, /VMs \(1\)/);
      await f.database.db.deleteFrom('vms').where('id', '=', vmId).execute();
      await f.database.db
        .insertInto('admin_sessions')
        .values({
          id: randomUUID(),
          profile_id: deps.id,
          base_version_id: depV1.id,
          draft_file: 'x',
          vm_id: null,
          policy: 'shared',
          opened_by: null,
          opened_at: now,
        })
        .execute();
      assert.match(problem(await del(), 409, 'VERSION_IN_USE').detail, /admin sessions \(1\)/);
      const whole = await f.request({
        method: 'DELETE',
        url: '/api/v1/profiles/deps',
        as: admin(),
      });
      problem(whole, 409, 'PROFILE_IN_USE', 'a profile with an open admin session');
      await f.database.db.deleteFrom('admin_sessions').execute();
      const path = await fileOf(depV1.id);
      const response = await del();
      assert.equal(response.statusCode, 204, response.body);
      await assert.rejects(stat(path), { code: 'ENOENT' }, 'its file is removed');
      assert.deepEqual(
        (await versionRows(f, deps.id)).map((v) => v.id),
        [depV2.id],
      );
      problem(await del(), 404, 'VERSION_NOT_FOUND');
      assert.ok(golden && v1 && v2);
    });

    it('a version whose row cannot be written leaves no file (its profile was deleted meanwhile)', async () => {
      const before = await filesIn(f);
      const ref = { profileId: randomUUID(), versionId: randomUUID() };
      const sealed = await f.store.import(rawA, ref, { format: 'raw' });
      assert.ok((await filesIn(f)).includes(sealed.file));
      await assert.rejects(
        registerVersion({ db: f.database.db, images: f.store, now: () => new Date() }, setup, {
          profileId: ref.profileId,
          sealed,
          parentVersionId: null,
          note: '',
          publish: 'if-none',
          action: 'profile.import',
        }),
        fails('PROFILE_NOT_FOUND'),
      );
      assert.deepEqual(await filesIn(f), before, 'the file is removed again');
      assert.equal((await versionRows(f)).filter((v) => v.id === ref.versionId).length, 0);
    });

    it('a full clone is an independent copy, made with progress', async () => {
      const { job, seen } = await runJob(f, {
        method: 'POST',
        url: '/api/v1/profiles/golden/clone',
        payload: { name: 'full', mode: 'full' },
        as: admin(),
      });
      assert.equal(job.state, 'succeeded', JSON.stringify(job));
      assert.ok(seen.length >= 2, `progress: ${seen.join(', ')}`);
      const jobs = await f.request({ method: 'GET', url: '/api/v1/jobs', as: f.users.viewer });
      const listed = jobs.json<{ id: string; kind: string; startedBy: string; target: string }[]>();
      assert.deepEqual(
        listed.filter((j) => j.id === job.id).map((j) => [j.kind, j.startedBy, j.target]),
        [['clone', 'admin', 'golden']],
      );
      problem(
        await f.request({ method: 'GET', url: '/api/v1/jobs/nope', as: f.users.viewer }),
        404,
        'JOB_NOT_FOUND',
      );
      const result = job.result as { profile: { name: string; dataDisks: unknown[] } };
      assert.equal(result.profile.name, 'full');
      assert.deepEqual(result.profile.dataDisks, []);
      const [only] = await versions('full');
      assert.equal(only?.chainDepth, 1);
      assert.equal(only?.parentVersion, null);
      const path = await fileOf(only!.id);
      // Deleting the source's versions (here the whole source profile) does not touch it.
      assert.equal(
        (await f.request({ method: 'DELETE', url: '/api/v1/profiles/linked', as: admin() }))
          .statusCode,
        204,
      );
      assert.equal((await post('/profiles/golden/rollback', { version: '2' })).statusCode, 200);
      const del1 = await f.request({
        method: 'DELETE',
        url: '/api/v1/profiles/golden/versions/1',
        as: admin(),
      });
      assert.equal(del1.statusCode, 204, del1.body);
      qemuImgCli('check', '-f', 'qcow2', path);
      qemuImgCli('compare', '-f', 'raw', '-F', 'qcow2', rawB, path);
      // No version row points at a missing file, no file is unnamed.
      const rows = await versionRows(f);
      assert.deepEqual(rows.map((r) => r.file).sort(), await filesIn(f));
    });
  });
}
