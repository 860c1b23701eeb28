// Choosing and describing the database from configuration (no server needed: the
// PostgreSQL pool connects lazily).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { databaseUrlFromEnv, isPostgresUrl, openDatabase } from '../../src/db/index.js';

describe('database configuration', () => {
  it('reads LABVIRT_DATABASE_URL, treating blank as unset', () => {
    assert.equal(
      databaseUrlFromEnv({ LABVIRT_DATABASE_URL: ' postgres://h/db ' }),
      'postgres://h/db',
    );
    assert.equal(databaseUrlFromEnv({ LABVIRT_DATABASE_URL: '  ' }), undefined);
    assert.equal(databaseUrlFromEnv({}), undefined);
  });

  it('recognizes both PostgreSQL URL schemes', () => {
    assert.ok(isPostgresUrl('postgres://h/db'));
    assert.ok(isPostgresUrl('postgresql://h/db'));
    assert.ok(!isPostgresUrl('mysql://h/db'));
    assert.ok(!isPostgresUrl('/var/lib/labvirt'));
  });

  it('describes a PostgreSQL database without its password', async () => {
    const database = await openDatabase({
      url: 'postgresql://lv:s3cret@db.example:6543/labvirt',
      dataDir: '/nonexistent',
    });
    try {
      assert.equal(database.dialect, 'postgres');
      assert.equal(database.description, 'PostgreSQL db.example:6543/labvirt');
    } finally {
      await database.close();
    }
  });

  it('refuses other URL schemes instead of falling back to SQLite', async () => {
    await assert.rejects(openDatabase({ url: 'mysql://u:p@h/db', dataDir: '/tmp' }), {
      message: /unsupported database URL scheme "mysql"/,
    });
  });

  it('needs a data directory when there is no URL', async () => {
    await assert.rejects(openDatabase({ url: '' }), { message: /no database configured/ });
  });
});
