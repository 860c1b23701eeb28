// Brings a database to the latest schema with Kysely's Migrator. Concurrent migrators
// (a CLI and a server starting together, several controllers on one PostgreSQL) are
// serialized by the database: an advisory lock on PostgreSQL, an IMMEDIATE transaction
// on SQLite (see sqlite-dialect.ts). Either way the whole batch is one transaction.
import { Migrator, type Kysely, type Migration } from 'kysely';
import { migrationProvider, migrations } from './migrations/index.js';
import type { Database } from './schema.js';

export interface MigrationReport {
  /** Names of the migrations this call applied, in order; empty if already up to date. */
  readonly applied: readonly string[];
}

export async function migrateToLatest(
  db: Kysely<Database>,
  all: Readonly<Record<string, Migration>> = migrations,
): Promise<MigrationReport> {
  const migrator = new Migrator({ db, provider: migrationProvider(all) });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((result) => result.status === 'Error');
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      failed
        ? `database migration ${failed.migrationName} failed, nothing was applied: ${reason}`
        : `database migration failed: ${reason}`,
      { cause: error },
    );
  }
  return {
    applied: results
      .filter((result) => result.status === 'Success')
      .map((result) => result.migrationName),
  };
}
