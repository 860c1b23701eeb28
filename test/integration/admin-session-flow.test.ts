// Admin sessions through the API on real QEMU with the boot-counting guest (invariants 1-3):
// open boots a writable draft (the count goes up), publish makes it the version later
// clients continue from while a client started before keeps its version, rollback gives new
// clients the old state again; discard deletes the draft; the exclusive policy; and the
// refusals (no published version, publishing while the admin VM runs, a second session)
// answer clear problems and change nothing.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { AdminSessionView } from '../../src/controller/services/admin-sessions.js';
import type { VmView } from '../../src/controller/services/vms.js';
import { fingerprint, problem } from '../helpers/api.js';
import { dialects } from '../helpers/databases.js';
import { processAlive, sha256File } from '../helpers/env.js';
import {
  bootCount,
  guestProfile,
  GuestMode,
  json,
  overlaysLeft,
  startClient,
  vmFixture,
  vmRow,
  type TestProfile,
  type VmFixture,
} from '../helpers/vm-fixture.js';

for (const dialect of dialects) {
  describe(`admin sessions on ${dialect.name}`, () => {
    let f: VmFixture;
    let p: TestProfile;
    before(async () => {
      f = await vmFixture(dialect);
      p = await guestProfile(f, { mode: GuestMode.waitForPowerButton });
    });
    after(() => f?.close());

    const session = (profile: string, action = '', payload: object = {}) =>
      f.request({
        method: 'POST',
        url: `/api/v1/profiles/${profile}/admin-session${action}`,
        as: f.users.admin,
        payload,
      });
    const stop = async (vm: string, force = false) =>
      json<VmView>(
        await f.request({
          method: 'POST',
          url: `/api/v1/vms/${vm}/stop`,
          as: f.users.admin,
          payload: { force },
        }),
        200,
      );
    /** Asserts the refusal, and that it changed nothing in the database. */
    const refused = async (
      request: () => ReturnType<VmFixture['request']>,
      status: number,
      code: string,
    ) => {
      const before = await fingerprint(f.database);
      problem(await request(), status, code);
      assert.deepEqual(await fingerprint(f.database), before, `${code} changed nothing`);
    };

    it('open, boot, power off, publish; old clients keep theirs, new ones continue; rollback', async () => {
      const v1 = p.version;
      const early = await startClient(f, p.name);
      assert.equal(await bootCount(f, early.id), 1);

      const opened = json<AdminSessionView>(await session(p.name), 201);
      assert.equal(opened.policy, 'shared');
      assert.equal(opened.baseVersionId, v1.ref.versionId);
      assert.equal(opened.vm?.kind, 'admin');
      assert.equal(opened.vm.state, 'running');
      assert.equal(await bootCount(f, opened.vm.id), 1, 'the admin VM booted the draft');

      // Refusals while it runs.
      await refused(() => session(p.name), 409, 'ADMIN_SESSION_EXISTS');
      await refused(() => session(p.name, '/publish'), 409, 'ADMIN_VM_RUNNING');
      await refused(() => session(p.name, '/discard'), 409, 'ADMIN_VM_RUNNING');
      await refused(
        () =>
          f.request({
            method: 'POST',
            url: `/api/v1/vms/${opened.vm!.id}/stop`,
            as: f.users.operator,
            payload: {},
          }),
        403,
        'FORBIDDEN',
      );

      assert.equal((await stop(opened.vm.id)).state, 'stopped', 'the guest powered off');
      const status = json<AdminSessionView>(
        await f.request({
          method: 'GET',
          url: `/api/v1/profiles/${p.name}/admin-session`,
          as: f.users.viewer,
        }),
        200,
      );
      assert.equal(status.vm?.state, 'stopped');

      const published = json<{ versionId: string; number: number; sha256: string }>(
        await session(p.name, '/publish', { note: 'count 1' }),
        200,
      );
      assert.equal(published.number, 2);
      assert.equal(published.versionId, opened.draftId);
      const profile = await f.database.db
        .selectFrom('profiles')
        .selectAll()
        .where('id', '=', p.id)
        .executeTakeFirstOrThrow();
      assert.equal(profile.published_version_id, published.versionId);
      const version = await f.database.db
        .selectFrom('versions')
        .selectAll()
        .where('id', '=', published.versionId)
        .executeTakeFirstOrThrow();
      assert.equal(version.parent_version_id, v1.ref.versionId);
      assert.equal(version.created_by, f.users.admin.id);
      assert.equal(version.note, 'count 1');
      problem(
        await f.request({
          method: 'GET',
          url: `/api/v1/profiles/${p.name}/admin-session`,
          as: f.users.viewer,
        }),
        404,
        'ADMIN_SESSION_NOT_FOUND',
      );

      const next = await startClient(f, p.name);
      assert.equal(next.versionId, published.versionId);
      assert.equal(await bootCount(f, next.id), 2, 'a new client continues from the admin count');

      // The client started before the publish still runs, on the old version.
      const old = await vmRow(f, early.id);
      assert.equal(old.state, 'running');
      assert.equal(old.versionId, v1.ref.versionId);
      assert.ok(old.pid !== null && (await processAlive(old.pid)));

      // Rollback (the versions route): new clients get the old state again.
      json(
        await f.request({
          method: 'POST',
          url: `/api/v1/profiles/${p.name}/rollback`,
          as: f.users.admin,
          payload: { version: v1.ref.versionId },
        }),
        200,
      );
      const rolled = await startClient(f, p.name);
      assert.equal(rolled.versionId, v1.ref.versionId);
      assert.equal(await bootCount(f, rolled.id), 1);

      await Promise.all([early, next, rolled].map((vm) => stop(vm.id)));
      assert.deepEqual(await overlaysLeft(f), []);
      assert.equal(await sha256File(v1.path), v1.sha256);
      const v2 = f.store.pathOf({ profileId: p.id, versionId: published.versionId });
      assert.equal(await sha256File(v2), published.sha256);
    });

    // These two decide nothing the database dialect changes (the concurrency test runs the
    // exclusive policy on both): once, on SQLite, to keep the suite fast on two cores.
    const once = dialect.name === 'sqlite' ? it : it.skip;

    once('boot again, then discard --force: the admin VM stopped, the draft gone', async () => {
      const opened = json<AdminSessionView>(await session(p.name), 201);
      const draft = f.store.pathOf({ profileId: p.id, versionId: opened.draftId });
      assert.ok(existsSync(draft));
      assert.equal(await bootCount(f, opened.vm!.id), 1);
      await refused(() => session(p.name, '/boot'), 409, 'ADMIN_VM_RUNNING');
      await stop(opened.vm!.id);
      // Booted again: the same draft, so the count goes on.
      const again = json<AdminSessionView>(await session(p.name, '/boot'), 200);
      assert.notEqual(again.vm?.id, opened.vm!.id);
      assert.equal(await bootCount(f, again.vm!.id), 2);
      const response = await session(p.name, '/discard', { force: true });
      assert.equal(response.statusCode, 204, response.body);
      assert.equal(existsSync(draft), false);
      assert.equal((await vmRow(f, again.vm!.id)).state, 'stopped');
      await refused(() => session(p.name, '/discard'), 404, 'ADMIN_SESSION_NOT_FOUND');
    });

    once(
      'exclusive: refused while clients run; --force stops them; no client starts meanwhile',
      async () => {
        const client = await startClient(f, p.name);
        await bootCount(f, client.id);
        await refused(
          () => session(p.name, '', { exclusive: true }),
          409,
          'ADMIN_SESSION_CLIENTS_RUNNING',
        );
        const opened = json<AdminSessionView>(
          await session(p.name, '', { exclusive: true, force: true }),
          201,
        );
        assert.equal(opened.policy, 'exclusive');
        await bootCount(f, opened.vm!.id); // a guest still booting would miss the power button
        assert.equal((await vmRow(f, client.id)).state, 'stopped', 'the client went first');
        await refused(
          () =>
            f.request({
              method: 'POST',
              url: '/api/v1/vms',
              as: f.users.operator,
              payload: { profile: p.name },
            }),
          409,
          'ADMIN_SESSION_EXCLUSIVE',
        );
        assert.equal((await session(p.name, '/discard', { force: true })).statusCode, 204);
        const after = await startClient(f, p.name);
        await stop(after.id, true);
      },
    );

    it('bad input: no published version, unknown profile or VM: clear problems, nothing changed', async () => {
      const now = new Date().toISOString();
      await f.database.db
        .insertInto('profiles')
        .values({
          id: crypto.randomUUID(),
          name: 'empty',
          memory_mib: 32,
          cpus: 1,
          nic_model: 'virtio',
          disk_bus: 'ide',
          display: 'vnc',
          admin_policy: 'shared',
          created_at: now,
          updated_at: now,
        })
        .execute();
      const post = (url: string, payload: object) => () =>
        f.request({ method: 'POST', url, as: f.users.admin, payload });
      await refused(post('/api/v1/vms', { profile: 'empty' }), 409, 'PROFILE_NO_IMAGE');
      await refused(post('/api/v1/profiles/empty/admin-session', {}), 409, 'PROFILE_NO_IMAGE');
      await refused(post('/api/v1/vms', { profile: 'nowhere' }), 404, 'PROFILE_NOT_FOUND');
      await refused(post('/api/v1/vms', { profile: 'empty', x: 1 }), 400, 'FIELD_UNKNOWN');
      await refused(
        post('/api/v1/profiles/empty/admin-session/publish', {}),
        404,
        'ADMIN_SESSION_NOT_FOUND',
      );
      await refused(post('/api/v1/vms/nothing/stop', {}), 404, 'VM_UNKNOWN');
      problem(
        await f.request({ method: 'GET', url: '/api/v1/vms/nothing/serial', as: f.users.viewer }),
        404,
        'VM_UNKNOWN',
      );
      const stopped = (
        await f.database.db
          .selectFrom('vms')
          .select('id')
          .where('state', '=', 'stopped')
          .executeTakeFirstOrThrow()
      ).id;
      await refused(post(`/api/v1/vms/${stopped}/stop`, {}), 409, 'VM_NOT_RUNNING');
    });
  });
}
