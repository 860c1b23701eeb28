// The SQLite dialect keeps prepared statements by their SQL and queues queries for its one
// connection in order: a kept statement must answer like a fresh one (after a schema
// change too), the cache stays bounded, and no query is lost or reordered under load.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, sql } from 'kysely';
import { openDatabase, type LabvirtDb } from '../../src/db/index.js';
import { cachingStatements, LabvirtSqliteDialect } from '../../src/db/sqlite-dialect.js';
import { tempDir } from '../helpers/env.js';

async function withDatabase(test: (database: LabvirtDb) => Promise<void>): Promise<void> {
  const dir = await tempDir('lv-db-');
  const database = await openDatabase({ dataDir: dir.path });
  try {
    await test(database);
  } finally {
    await database.close();
    await dir.cleanup();
  }
}

describe('SQLite prepared statements', () => {
  it('answer after the schema changes under a kept statement', async () => {
    await withDatabase(async ({ db }) => {
      await sql`create table t (a integer)`.execute(db);
      await sql`insert into t values (1)`.execute(db);
      const all = async () => (await sql`select * from t`.execute(db)).rows;
      assert.deepEqual(await all(), [{ a: 1 }]);
      await sql`alter table t add column b integer default 7`.execute(db);
      assert.deepEqual(await all(), [{ a: 1, b: 7 }]);
      await sql`drop table t`.execute(db);
      await assert.rejects(all(), /no such table/);
      await sql`create table t (x text, y text)`.execute(db);
      await sql`insert into t values ('p', 'q')`.execute(db);
      assert.deepEqual(await all(), [{ x: 'p', y: 'q' }]);
    });
  });

  it('keeps at most the cache size, least recently used out first', () => {
    const database = new BetterSqlite3(':memory:');
    const prepared: string[] = [];
    const cached = cachingStatements(
      {
        close: () => database.close(),
        prepare: (text) => {
          prepared.push(text);
          return database.prepare(text);
        },
      },
      2,
    );
    try {
      const value = (n: number) => cached.prepare(`select ${n} as n`).all([]);
      assert.deepEqual(value(1), [{ n: 1 }]);
      assert.deepEqual(value(2), [{ n: 2 }]);
      assert.deepEqual(value(1), [{ n: 1 }]); // kept: 1 is now the most recent
      assert.deepEqual(value(3), [{ n: 3 }]); // 2 goes
      assert.deepEqual(value(1), [{ n: 1 }]);
      assert.deepEqual(value(2), [{ n: 2 }]); // prepared again
      assert.deepEqual(prepared, [
        'select 1 as n',
        'select 2 as n',
        'select 3 as n',
        'select 2 as n',
      ]);
    } finally {
      cached.close();
    }
  });

  it('answers many distinct statements, each with its own parameters', async () => {
    await withDatabase(async ({ db }) => {
      // More distinct statements than the cache keeps, twice over, each run twice.
      for (let round = 0; round < 2; round++)
        for (let n = 0; n < 1200; n++) {
          const { rows } = await sql<{
            n: number;
            p: number;
          }>`select ${sql.raw(String(n))} as n, ${n * 2} as p`.execute(db);
          assert.deepEqual(rows, [{ n, p: n * 2 }]);
        }
    });
  });

  it('prepares a fresh statement while the kept one is still iterating', () => {
    const cached = cachingStatements(new BetterSqlite3(':memory:'));
    try {
      cached.prepare('create table t (a integer)').run([]);
      cached.prepare('insert into t values (1), (2), (3)').run([]);
      const seen: unknown[] = [];
      for (const row of cached.prepare('select a from t').iterate([]))
        seen.push((row as { a: number }).a, cached.prepare('select a from t').all([]).length);
      assert.deepEqual(seen, [1, 3, 2, 3, 3, 3]);
    } finally {
      cached.close();
    }
  });

  it('queues queries for the connection in order, transactions included', async () => {
    await withDatabase(async ({ db }) => {
      await sql`create table t (n integer)`.execute(db);
      const order: string[] = [];
      let release: () => void = () => undefined;
      const held = new Promise<void>((resolve) => (release = resolve));
      // A transaction holds the connection across an await; everything else waits in line.
      const transaction = db.transaction().execute(async (tx) => {
        await sql`insert into t values (0)`.execute(tx);
        await held;
        order.push('transaction');
      });
      await new Promise((resolve) => setImmediate(resolve));
      const queries = Array.from({ length: 200 }, (_, n) =>
        sql`insert into t values (${n + 1})`.execute(db).then(() => order.push(`q${n + 1}`)),
      );
      release();
      await Promise.all([transaction, ...queries]);
      assert.deepEqual(order, ['transaction', ...queries.map((_, n) => `q${n + 1}`)]);
      const { rows } = await sql<{ count: number }>`select count(*) as count from t`.execute(db);
      assert.equal(rows[0]?.count, 201);
    });
  });

  it('gives the connection back when a query fails', async () => {
    const dir = await tempDir('lv-db-');
    const db = new Kysely<Record<string, never>>({
      dialect: new LabvirtSqliteDialect({
        database: async () => new BetterSqlite3(`${dir.path}/x.sqlite`),
      }),
    });
    try {
      await assert.rejects(sql`select * from missing`.execute(db), /no such table/);
      assert.deepEqual((await sql`select 1 as one`.execute(db)).rows, [{ one: 1 }]);
    } finally {
      await db.destroy();
      await dir.cleanup();
    }
  });
});
