// The schema's own guarantees, on both dialects: uniqueness (invariants 3 and 4 of the
// design among them) and what deleting a parent row does to its children.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { constraintViolation, type Flag } from '../../src/db/index.js';
import { dialects, rows, type TestDatabase } from '../helpers/databases.js';

/** Asserts that the promise fails on a constraint of this kind (not on anything else). */
async function violates(kind: string, promise: Promise<unknown>): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.equal(
      constraintViolation(error),
      kind,
      `expected a ${kind} violation, got ${String(error)}`,
    );
    return true;
  });
}

const now = () => new Date().toISOString();

for (const dialect of dialects) {
  describe(`constraints on ${dialect.name}`, () => {
    let database: TestDatabase;
    before(async () => (database = await dialect.create()));
    after(() => database?.drop());
    const db = () => database.db;

    it('usernames are unique', async () => {
      await db()
        .insertInto('users')
        .values(rows.user({ username: 'ana' }))
        .execute();
      await violates(
        'unique',
        db()
          .insertInto('users')
          .values(rows.user({ username: 'ana' }))
          .execute(),
      );
    });

    it('terminal MACs are unique', async () => {
      const mac = '52:54:00:aa:bb:01';
      await db().insertInto('terminals').values(rows.terminal({ mac })).execute();
      await violates(
        'unique',
        db().insertInto('terminals').values(rows.terminal({ mac })).execute(),
      );
    });

    it('a terminal is served by at most one VM, while many VMs serve none', async () => {
      const terminal = rows.terminal();
      await db().insertInto('terminals').values(terminal).execute();
      await db()
        .insertInto('vms')
        .values(rows.vm({ terminal_id: terminal.id }))
        .execute();
      await violates(
        'unique',
        db()
          .insertInto('vms')
          .values(rows.vm({ terminal_id: terminal.id }))
          .execute(),
      );
      await db().insertInto('vms').values([rows.vm(), rows.vm()]).execute();
    });

    it('a profile has at most one admin session', async () => {
      const profile = rows.profile();
      await db().insertInto('profiles').values(profile).execute();
      const session = () => ({
        id: randomUUID(),
        profile_id: profile.id,
        base_version_id: randomUUID(),
        draft_file: 'draft.qcow2',
        policy: 'shared' as const,
        opened_at: now(),
      });
      await db().insertInto('admin_sessions').values(session()).execute();
      await violates('unique', db().insertInto('admin_sessions').values(session()).execute());
    });

    it('version numbers are unique within a profile only', async () => {
      const [a, b] = [rows.profile(), rows.profile()];
      await db().insertInto('profiles').values([a, b]).execute();
      const version = (profile_id: string) => ({
        id: randomUUID(),
        profile_id,
        number: 1,
        file: `${randomUUID()}.qcow2`,
        format: 'qcow2',
        size_bytes: 1,
        sha256: '0'.repeat(64),
        created_at: now(),
      });
      await db()
        .insertInto('versions')
        .values([version(a.id), version(b.id)])
        .execute();
      await violates('unique', db().insertInto('versions').values(version(a.id)).execute());
    });

    it('foreign keys are enforced (on SQLite too)', async () => {
      await violates(
        'foreign_key',
        db()
          .insertInto('terminals')
          .values(rows.terminal({ lab_id: randomUUID() }))
          .execute(),
      );
    });

    it('booleans accept only 0 and 1', async () => {
      await violates(
        'check',
        db()
          .insertInto('terminals')
          .values({ ...rows.terminal(), enabled: sql<Flag>`2` })
          .execute(),
      );
    });

    it('deleting a lab un-assigns its terminals and drops its grants', async () => {
      const [lab, profile, user] = [rows.lab(), rows.profile(), rows.user()];
      await db().insertInto('labs').values(lab).execute();
      await db().insertInto('profiles').values(profile).execute();
      await db().insertInto('users').values(user).execute();
      const terminal = rows.terminal({ lab_id: lab.id });
      await db().insertInto('terminals').values(terminal).execute();
      await db()
        .insertInto('lab_profiles')
        .values({ lab_id: lab.id, profile_id: profile.id })
        .execute();
      await db().insertInto('user_labs').values({ user_id: user.id, lab_id: lab.id }).execute();

      await db().deleteFrom('labs').where('id', '=', lab.id).execute();

      const left = await db()
        .selectFrom('terminals')
        .select('lab_id')
        .where('id', '=', terminal.id)
        .executeTakeFirstOrThrow();
      assert.equal(left.lab_id, null);
      assert.deepEqual(
        await db().selectFrom('lab_profiles').selectAll().where('lab_id', '=', lab.id).execute(),
        [],
      );
      assert.deepEqual(
        await db().selectFrom('user_labs').selectAll().where('lab_id', '=', lab.id).execute(),
        [],
      );
      // Only the links go: the profile and the user stay.
      await db()
        .selectFrom('profiles')
        .select('id')
        .where('id', '=', profile.id)
        .executeTakeFirstOrThrow();
      await db()
        .selectFrom('users')
        .select('id')
        .where('id', '=', user.id)
        .executeTakeFirstOrThrow();
    });

    it('deleting a profile removes its versions and session, and detaches labs and VMs', async () => {
      const [profile, host] = [rows.profile(), rows.host()];
      await db().insertInto('profiles').values(profile).execute();
      await db().insertInto('hosts').values(host).execute();
      const lab = rows.lab({ default_profile_id: profile.id });
      await db().insertInto('labs').values(lab).execute();
      await db()
        .insertInto('lab_profiles')
        .values({ lab_id: lab.id, profile_id: profile.id })
        .execute();
      await db()
        .insertInto('profile_hosts')
        .values({ profile_id: profile.id, host_id: host.id })
        .execute();
      await db()
        .insertInto('versions')
        .values({
          id: randomUUID(),
          profile_id: profile.id,
          number: 1,
          file: 'v1.qcow2',
          format: 'qcow2',
          size_bytes: 1,
          sha256: '0'.repeat(64),
          created_at: now(),
        })
        .execute();
      await db()
        .insertInto('admin_sessions')
        .values({
          id: randomUUID(),
          profile_id: profile.id,
          base_version_id: randomUUID(),
          draft_file: 'd.qcow2',
          policy: 'exclusive',
          opened_at: now(),
        })
        .execute();
      const vm = rows.vm({ profile_id: profile.id });
      await db().insertInto('vms').values(vm).execute();

      await db().deleteFrom('profiles').where('id', '=', profile.id).execute();

      for (const table of [
        'versions',
        'admin_sessions',
        'lab_profiles',
        'profile_hosts',
      ] as const) {
        const left = await db()
          .selectFrom(table)
          .select('profile_id')
          .where('profile_id', '=', profile.id)
          .execute();
        assert.deepEqual(left, [], `${table} rows of the deleted profile`);
      }
      const labRow = await db()
        .selectFrom('labs')
        .select('default_profile_id')
        .where('id', '=', lab.id)
        .executeTakeFirstOrThrow();
      assert.equal(labRow.default_profile_id, null);
      const vmRow = await db()
        .selectFrom('vms')
        .select('profile_id')
        .where('id', '=', vm.id)
        .executeTakeFirstOrThrow();
      assert.equal(vmRow.profile_id, null);
    });

    it('deleting a terminal or a host detaches its VM', async () => {
      const [terminal, host] = [rows.terminal(), rows.host()];
      await db().insertInto('terminals').values(terminal).execute();
      await db().insertInto('hosts').values(host).execute();
      const vm = rows.vm({ terminal_id: terminal.id, host_id: host.id });
      await db().insertInto('vms').values(vm).execute();

      await db().deleteFrom('terminals').where('id', '=', terminal.id).execute();
      await db().deleteFrom('hosts').where('id', '=', host.id).execute();

      const row = await db()
        .selectFrom('vms')
        .select(['terminal_id', 'host_id'])
        .where('id', '=', vm.id)
        .executeTakeFirstOrThrow();
      assert.deepEqual(row, { terminal_id: null, host_id: null });
    });

    it('deleting a user removes their tokens, sessions and lab grants', async () => {
      const [user, lab] = [rows.user(), rows.lab()];
      await db().insertInto('users').values(user).execute();
      await db().insertInto('labs').values(lab).execute();
      await db().insertInto('user_labs').values({ user_id: user.id, lab_id: lab.id }).execute();
      await db()
        .insertInto('api_tokens')
        .values({
          id: randomUUID(),
          user_id: user.id,
          name: 'ci',
          token_hash: randomUUID(),
          created_at: now(),
        })
        .execute();
      await db()
        .insertInto('web_sessions')
        .values({
          id: randomUUID(),
          user_id: user.id,
          token_hash: randomUUID(),
          csrf_token: 'c',
          created_at: now(),
          last_seen_at: now(),
          expires_at: now(),
        })
        .execute();

      await db().deleteFrom('users').where('id', '=', user.id).execute();

      for (const table of ['api_tokens', 'web_sessions', 'user_labs'] as const) {
        const left = await db()
          .selectFrom(table)
          .select('user_id')
          .where('user_id', '=', user.id)
          .execute();
        assert.deepEqual(left, [], `${table} rows of the deleted user`);
      }
      await db().selectFrom('labs').select('id').where('id', '=', lab.id).executeTakeFirstOrThrow();
    });
  });
}
