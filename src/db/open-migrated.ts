// Opening and migrating the configured database for `labvirt server` and `user add`, with
// what goes wrong said as one of LabVirt's errors (not a stack trace).
import { LabvirtError } from '../domain/errors.js';
import { migrateToLatest, openDatabase, type LabvirtDb } from './index.js';
import { fileError } from '../system/file-errors.js';

export interface OpenedDatabase {
  readonly database: LabvirtDb;
  /** Migrations this call applied. */
  readonly applied: readonly string[];
}

/** The error to show for a failure to open or migrate the database. */
export function databaseError(
  error: unknown,
  url: string | undefined,
  dataDir: string,
  what: string,
): unknown {
  if (error instanceof LabvirtError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  // File-system trouble with the SQLite file or its directory.
  if (!url && typeof code === 'string' && /^E[A-Z]+$/.test(code))
    return fileError(dataDir, what, error);
  return new LabvirtError(
    'DATABASE_UNAVAILABLE',
    { detail: error instanceof Error ? error.message : String(error) },
    { cause: error },
  );
}

/** Opens the database (PostgreSQL with a URL, else SQLite in dataDir) and migrates it. */
export async function openMigrated(
  url: string | undefined,
  dataDir: string,
  what: string,
): Promise<OpenedDatabase> {
  let database: LabvirtDb;
  try {
    database = await openDatabase({ url, dataDir });
  } catch (error) {
    throw databaseError(error, url, dataDir, what);
  }
  try {
    const { applied } = await migrateToLatest(database.db);
    return { database, applied };
  } catch (error) {
    await database.close().catch(() => undefined);
    throw databaseError(error, url, dataDir, what);
  }
}
