// SQLite, tuned so a CLI and a running server can share one file:
// - WAL lets readers proceed while one writer writes; busy_timeout makes a connection wait
//   (up to 5 s) for another process's write lock instead of failing at once.
// - Transactions begin IMMEDIATE: they take the write lock up front, so a transaction that
//   reads then writes cannot fail half-way with SQLITE_BUSY when another process wrote in
//   between (a deferred transaction cannot wait for that).
// - The adapter claims transactional DDL (SQLite has it), so Kysely's Migrator runs each
//   migration batch in one such transaction. Kysely's own SQLite migration lock is a no-op
//   (it assumes a single process); the IMMEDIATE transaction is what serializes migrators.
// - Prepared statements are kept by their SQL (Kysely's driver prepares every query again,
//   which cost about a third of the terminal endpoint's time); SQLite re-prepares a kept
//   statement by itself when the schema changes.
// - Queries waiting for the one connection queue in order: Kysely's mutex wakes every
//   waiter on each release (they all await one promise), 200 wake-ups a query under load.
import BetterSqlite3 from 'better-sqlite3';
import {
  CompiledQuery,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  type SqliteDatabase,
  type SqliteDialectConfig,
  type SqliteStatement,
} from 'kysely';

export const SQLITE_BUSY_TIMEOUT_MS = 5000;

/** Prepared statements kept per database; the least recently used goes beyond. */
export const STATEMENT_CACHE_SIZE = 500;

/** First come, first served; a release wakes only the next waiter. */
class FifoLock {
  #held = false;
  readonly #waiters: (() => void)[] = [];

  async lock(): Promise<void> {
    if (!this.#held) {
      this.#held = true;
      return;
    }
    // Handed over by unlock(): #held stays true.
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  unlock(): void {
    const next = this.#waiters.shift();
    if (next === undefined) this.#held = false;
    else next();
  }
}

class ImmediateSqliteDriver extends SqliteDriver {
  // In front of Kysely's own mutex, which then never has more than one taker.
  readonly #lock = new FifoLock();

  override async acquireConnection(): Promise<DatabaseConnection> {
    await this.#lock.lock();
    try {
      return await super.acquireConnection();
    } catch (error) {
      this.#lock.unlock();
      throw error;
    }
  }

  override async releaseConnection(): Promise<void> {
    await super.releaseConnection();
    this.#lock.unlock();
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

interface BetterStatement extends SqliteStatement {
  /** Still iterating (a stream): not to be run again until it ends. */
  readonly busy: boolean;
}

/**
 * The database as Kysely's driver sees it, with prepare() answering a kept statement for
 * SQL it saw before (the driver only runs them: all, run or iterate).
 */
export function cachingStatements(
  database: SqliteDatabase,
  size = STATEMENT_CACHE_SIZE,
): SqliteDatabase {
  const kept = new Map<string, BetterStatement>();
  return {
    close: () => {
      kept.clear();
      database.close();
    },
    prepare: (sql) => {
      const statement = kept.get(sql);
      if (statement !== undefined && !statement.busy) {
        // Most recently used last: Map keeps insertion order.
        kept.delete(sql);
        kept.set(sql, statement);
        return statement;
      }
      const prepared = database.prepare(sql) as BetterStatement;
      // A busy one (the same query inside a stream's loop) is left to its stream.
      if (statement === undefined) {
        kept.set(sql, prepared);
        if (kept.size > size) kept.delete(kept.keys().next().value as string);
      }
      return prepared;
    },
  };
}

class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

export class LabvirtSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    const { database } = config;
    const cached = {
      ...config,
      database:
        typeof database === 'function'
          ? async () => cachingStatements(await database())
          : cachingStatements(database),
    };
    super(cached);
    this.#config = cached;
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
