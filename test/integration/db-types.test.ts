// Values come back with the same JS types on both dialects, so repositories need no
// per-dialect conversions: numbers for integers, bigints and auto-increment ids, 0/1 for
// booleans, the exact ISO string for timestamps.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { dialects, rows, type TestDatabase } from '../helpers/databases.js';

for (const dialect of dialects) {
  describe(`value types on ${dialect.name}`, () => {
    let database: TestDatabase;
    before(async () => (database = await dialect.create()));
    after(() => database?.drop());
    const db = () => database.db;

    it('booleans are the numbers 0 and 1, with their defaults', async () => {
      const terminal = rows.terminal();
      const user = rows.user();
      await db().insertInto('terminals').values(terminal).execute();
      await db().insertInto('users').values(user).execute();
      const t = await db()
        .selectFrom('terminals')
        .select('enabled')
        .where('id', '=', terminal.id)
        .executeTakeFirstOrThrow();
      const u = await db()
        .selectFrom('users')
        .select('disabled')
        .where('id', '=', user.id)
        .executeTakeFirstOrThrow();
      assert.deepEqual([t.enabled, u.disabled], [1, 0]);

      await db().updateTable('users').set({ disabled: 1 }).where('id', '=', user.id).execute();
      const changed = await db()
        .selectFrom('users')
        .select('disabled')
        .where('id', '=', user.id)
        .executeTakeFirstOrThrow();
      assert.equal(changed.disabled, 1);
    });

    it('timestamps round-trip as the same string and sort as text', async () => {
      const early = '2024-02-29T23:59:59.999Z';
      const late = '2024-03-01T00:00:00.000Z';
      const [a, b] = [rows.host({ last_seen_at: late }), rows.host({ last_seen_at: early })];
      await db().insertInto('hosts').values([a, b]).execute();
      const found = await db()
        .selectFrom('hosts')
        .select(['id', 'last_seen_at', 'created_at'])
        .where('id', 'in', [a.id, b.id])
        .orderBy('last_seen_at')
        .execute();
      assert.deepEqual(
        found.map((row) => [row.id, row.last_seen_at]),
        [
          [b.id, early],
          [a.id, late],
        ],
      );
      assert.equal(found[0]!.created_at, b.created_at);
    });

    it('audit ids are increasing numbers and details default to an empty JSON object', async () => {
      const event = (action: string) => ({
        at: new Date().toISOString(),
        actor_name: 'ana',
        action,
      });
      const inserted = await db()
        .insertInto('audit_events')
        .values([event('lab.create'), event('lab.update'), event('lab.delete')])
        .returning('id')
        .execute();
      const ids = inserted.map((row) => row.id);
      for (const id of ids) assert.equal(typeof id, 'number');
      assert.ok(ids[0]! < ids[1]! && ids[1]! < ids[2]!, `ids ${ids.join(', ')} not increasing`);

      const row = await db()
        .selectFrom('audit_events')
        .selectAll()
        .where('id', '=', ids[0]!)
        .executeTakeFirstOrThrow();
      assert.equal(row.id, ids[0]);
      assert.deepEqual(JSON.parse(row.details), {});
      assert.equal(row.target_type, null);
    });

    it('image sizes beyond 32 bits and counts are numbers', async () => {
      const profile = rows.profile();
      await db().insertInto('profiles').values(profile).execute();
      const size = 2 ** 40 + 3;
      await db()
        .insertInto('versions')
        .values({
          id: randomUUID(),
          profile_id: profile.id,
          number: 1,
          file: 'v.qcow2',
          format: 'qcow2',
          size_bytes: size,
          sha256: 'a'.repeat(64),
          created_at: new Date().toISOString(),
        })
        .execute();
      const version = await db()
        .selectFrom('versions')
        .select(['size_bytes', 'number', 'note'])
        .where('profile_id', '=', profile.id)
        .executeTakeFirstOrThrow();
      assert.deepEqual(version, { size_bytes: size, number: 1, note: '' });

      const { n } = await db()
        .selectFrom('versions')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow();
      assert.equal(typeof n, 'number');
    });

    it('text defaults apply', async () => {
      const lab = rows.lab();
      await db().insertInto('labs').values(lab).execute();
      const row = await db()
        .selectFrom('labs')
        .select(['description', 'timezone', 'idle_minutes'])
        .where('id', '=', lab.id)
        .executeTakeFirstOrThrow();
      assert.deepEqual(row, { description: '', timezone: 'UTC', idle_minutes: null });
    });
  });
}
