// SQLite, tuned so a CLI and a running server can share one file:
// - WAL lets readers proceed while one writer writes; busy_timeout makes a connection wait
//   (up to 5 s) for another process's write lock instead of failing at once.
// - Transactions begin IMMEDIATE: they take the write lock up front, so a transaction that
//   reads then writes cannot fail half-way with SQLITE_BUSY when another process wrote in
//   between (a deferred transaction cannot wait for that).
// - The adapter claims transactional DDL (SQLite has it), so Kysely's Migrator runs each
//   migration batch in one such transaction. Kysely's own SQLite migration lock is a no-op
//   (it assumes a single process); the IMMEDIATE transaction is what serializes migrators.
import BetterSqlite3 from 'better-sqlite3';
import {
  CompiledQuery,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  type SqliteDialectConfig,
} from 'kysely';

export const SQLITE_BUSY_TIMEOUT_MS = 5000;

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

export class LabvirtSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }

  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

/** Opens a SQLite file with LabVirt's connection settings. */
export function openSqliteFile(file: string): BetterSqlite3.Database {
  const handle = new BetterSqlite3(file);
  try {
    // busy_timeout first, so switching to WAL also waits for other processes.
    handle.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    handle.pragma('journal_mode = WAL');
    // Off by default in SQLite; the schema relies on cascades and SET NULL.
    handle.pragma('foreign_keys = ON');
  } catch (error) {
    handle.close();
    throw error;
  }
  return handle;
}
