// The terminal endpoint's lookup: the asking terminal and its active VM in one precompiled
// query (terminal-identity.ts, terminal-queries.ts), on both dialects. It must answer as
// the plain queries do, for any number of MACs, in the order the terminal listed them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../src/db/index.js';
import { identifyTerminal } from '../../src/controller/services/terminal-identity.js';
import { PrecompiledQuery } from '../../src/controller/services/terminal-queries.js';
import { dialects, type TestDatabase } from '../helpers/databases.js';
import { seedLoadLab, type LoadLab } from '../helpers/terminal-load.js';

for (const dialect of dialects) {
  describe(`the terminal lookup on ${dialect.name}`, () => {
    let database: TestDatabase;
    let lab: LoadLab;
    before(async () => {
      database = await dialect.create();
      lab = await seedLoadLab(database.db, 4, { running: true });
    });
    after(() => database?.drop());
    const db = () => database.db;
    const terminal = (index: number) => lab.terminals[index]!;
    const ask = (macs: readonly string[], source = '192.0.2.1') =>
      identifyTerminal(db(), { macs, source, now: new Date() });
    const vmRow = (index: number) =>
      db()
        .selectFrom('vms')
        .selectAll()
        .where('terminal_id', '=', terminal(index).id)
        .executeTakeFirstOrThrow();

    it('finds the first listed MAC it knows, with its active VM as a plain select reads it', async () => {
      const unknown = '52:54:99:00:00:01';
      for (const [macs, index] of [
        [[terminal(1).mac], 1],
        [[unknown, terminal(2).mac, terminal(1).mac], 2],
        [[terminal(1).mac, terminal(2).mac], 1],
        [[unknown, unknown.replace('01', '02'), terminal(0).mac], 0],
      ] as const) {
        const row = await db()
          .selectFrom('terminals')
          .selectAll()
          .where('id', '=', terminal(index).id)
          .executeTakeFirstOrThrow();
        const asking = await ask(macs); // as read, before it notes the terminal seen
        assert.deepEqual(asking.terminal, row, macs.join(','));
        assert.deepEqual(asking.vm, await vmRow(index), macs.join(','));
      }
    });

    it('gives no VM when the terminal’s VM has ended', async () => {
      await db()
        .updateTable('vms')
        .set({ state: 'stopped' })
        .where('terminal_id', '=', terminal(3).id)
        .execute();
      const asking = await ask([terminal(3).mac]);
      assert.equal(asking.terminal.id, terminal(3).id);
      assert.equal(asking.vm, undefined);
    });

    it('finds a terminal that sent no MAC by its registered address', async () => {
      await db()
        .updateTable('terminals')
        .set({ ip: '192.0.2.44' })
        .where('id', '=', terminal(2).id)
        .execute();
      const asking = await ask([], '192.0.2.44');
      assert.equal(asking.terminal.id, terminal(2).id);
      assert.deepEqual(asking.vm, await vmRow(2));
      await assert.rejects(ask([], '192.0.2.45'), /no terminal is registered by the address/);
    });

    it('runs a precompiled query with any number of values, each its own', async () => {
      const names = new PrecompiledQuery((kysely: Kysely<Database>, macs: readonly string[]) =>
        kysely.selectFrom('terminals').select('name').where('mac', 'in', macs).orderBy('name'),
      );
      const of = (...indexes: number[]) => indexes.map((i) => terminal(i).mac);
      const expect = (...indexes: number[]) => indexes.map((i) => ({ name: terminal(i).name }));
      for (let round = 0; round < 2; round++) {
        assert.deepEqual(await names.execute(db(), of(0)), expect(0));
        assert.deepEqual(await names.execute(db(), of(3, 1)), expect(1, 3));
        assert.deepEqual(await names.execute(db(), of(2)), expect(2));
        assert.deepEqual(await names.execute(db(), of(1, 2, 0)), expect(0, 1, 2));
      }
    });

    it('refuses to precompile a query that does not pass each value as a parameter', async () => {
      const raw = new PrecompiledQuery((kysely: Kysely<Database>, [mac]: readonly string[]) =>
        kysely
          .selectFrom('terminals')
          .select('name')
          .where(sql<boolean>`mac = ${sql.lit(mac ?? '')}`),
      );
      await assert.rejects(raw.execute(db(), [terminal(0).mac]), /each value as one parameter/);
      // Two parameters, but both the first value: the second value would never be used.
      const twice = new PrecompiledQuery((kysely: Kysely<Database>, [first]: readonly string[]) =>
        kysely
          .selectFrom('terminals')
          .select('name')
          .where('mac', '=', first ?? '')
          .where('name', '!=', first ?? ''),
      );
      await assert.rejects(
        twice.execute(db(), [terminal(0).mac, terminal(1).mac]),
        /each value as one parameter/,
      );
    });
  });
}
