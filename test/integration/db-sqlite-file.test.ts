// The SQLite file: private permissions and the connection settings that let a CLI and a
// running server share it.
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { openDatabase } from '../../src/db/index.js';
import { tempDir } from '../helpers/env.js';

describe('SQLite file', () => {
  it('is created owner-only, with WAL, foreign keys and a busy timeout', async () => {
    const dir = await tempDir('lv-db-');
    const dataDir = join(dir.path, 'data');
    const database = await openDatabase({ dataDir });
    try {
      assert.equal(database.dialect, 'sqlite');
      assert.equal(database.description, `SQLite ${join(dataDir, 'labvirt.sqlite')}`);
      assert.equal((await stat(dataDir)).mode & 0o777, 0o700);
      assert.equal((await stat(join(dataDir, 'labvirt.sqlite'))).mode & 0o777, 0o600);

      const pragma = async (name: string) =>
        Object.values((await sql.raw(`pragma ${name}`).execute(database.db)).rows[0] ?? {})[0];
      assert.equal(await pragma('journal_mode'), 'wal');
      assert.equal(await pragma('foreign_keys'), 1);
      assert.equal(await pragma('busy_timeout'), 5000);
    } finally {
      await database.close();
      await dir.cleanup();
    }
  });
});
