// Picks the database from configuration: a postgres:// URL means PostgreSQL, no URL means
// the embedded SQLite file in the data directory.
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { Kysely, PostgresDialect, type PostgresPool, type PostgresPoolClient } from 'kysely';
import type pg from 'pg';
import type { Database } from './schema.js';
import { LabvirtSqliteDialect, openSqliteFile } from './sqlite-dialect.js';
import { fromDatabaseDriver } from './unreachable.js';

export type DialectName = 'sqlite' | 'postgres';

export interface OpenDatabaseOptions {
  /** postgres:// or postgresql:// URL; unset or empty for SQLite. */
  readonly url?: string | undefined;
  /** Directory of the SQLite file (labvirt.sqlite); required when there is no URL. */
  readonly dataDir?: string | undefined;
}

export interface LabvirtDb {
  readonly db: Kysely<Database>;
  readonly dialect: DialectName;
  /** For logs: 'SQLite data/labvirt.sqlite' or 'PostgreSQL host:5432/name' (no password). */
  readonly description: string;
  close(): Promise<void>;
}

export const SQLITE_FILE_NAME = 'labvirt.sqlite';

/** LABVIRT_DATABASE_URL, or undefined when unset or blank. */
export function databaseUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const url = env['LABVIRT_DATABASE_URL']?.trim();
  return url ? url : undefined;
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/** Opens (without migrating) the configured database. */
export async function openDatabase(options: OpenDatabaseOptions): Promise<LabvirtDb> {
  const url = options.url?.trim();
  if (url) {
    if (isPostgresUrl(url)) return openPostgres(url);
    // Refuse rather than silently fall back to SQLite on a typo or another scheme.
    throw new Error(
      `unsupported database URL scheme "${url.split(':')[0]}": use postgres://... or leave it unset for SQLite`,
    );
  }
  if (!options.dataDir) {
    throw new Error('no database configured: give a data directory (SQLite) or a postgres:// URL');
  }
  return openSqlite(options.dataDir);
}

async function openSqlite(dataDir: string): Promise<LabvirtDb> {
  // The file holds password hashes and session tokens: owner-only. SQLite gives its -wal
  // and -shm files the main file's permissions.
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, SQLITE_FILE_NAME);
  closeSync(openSync(file, 'a', 0o600));
  const db = new Kysely<Database>({
    dialect: new LabvirtSqliteDialect({ database: openSqliteFile(file) }),
  });
  return { db, dialect: 'sqlite', description: `SQLite ${file}`, close: () => db.destroy() };
}

/**
 * How long a request may wait for a PostgreSQL connection (pg's default: forever). pg-pool
 * counts the wait for a free client of a busy pool too, so this is not shorter: a burst is
 * queued, a database that does not answer (a host gone, a firewall) is 503 within it.
 */
export const POSTGRES_CONNECT_TIMEOUT_MS = 10_000;

const INT8_OID = 20;

/** bigint columns (version sizes, count(*)) as JS numbers, like SQLite returns them. */
function parseInt8(value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed)) throw new Error(`integer ${value} exceeds 2^53`);
  return parsed;
}

// Per pool rather than pg.types.setTypeParser, which would change every pg user in the process.
function typeParsers(types: typeof pg.types): typeof pg.types.getTypeParser {
  return ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? parseInt8
      : types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser;
}

async function openPostgres(url: string): Promise<LabvirtDb> {
  // Loaded only for PostgreSQL: the embedded default's start-up does not pay for it.
  const { default: pg } = await import('pg');
  const getTypeParser = typeParsers(pg.types);
  // A database that does not answer fails a request in seconds (503, try again) rather
  // than holding it, and every request after it, until the socket gives up.
  const pool = new pg.Pool({
    connectionString: url,
    types: { getTypeParser },
    connectionTimeoutMillis: POSTGRES_CONNECT_TIMEOUT_MS,
  });
  // An idle client that loses its connection emits 'error' on the pool; the pool already
  // discards it and the next query reconnects, so this must not crash the process.
  pool.on('error', () => undefined);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: markingErrors(pool) }) });
  return {
    db,
    dialect: 'postgres',
    description: describePostgresUrl(url),
    close: () => db.destroy(),
  };
}

/** The pool as Kysely uses it, its connect and query failures marked as the driver's. */
function markingErrors(pool: pg.Pool): PostgresPool {
  const mark = (error: unknown) => {
    throw fromDatabaseDriver(error);
  };
  return {
    connect: async () => {
      const client = await pool.connect().catch(mark);
      return {
        query: ((sql: unknown, parameters?: unknown[]) =>
          typeof sql === 'string'
            ? client.query(sql, parameters).catch(mark)
            : client.query(sql as never)) as unknown as PostgresPoolClient['query'],
        release: (destroy?: boolean) => client.release(destroy),
      };
    },
    end: () => pool.end(),
  };
}

function describePostgresUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `PostgreSQL ${parsed.hostname || 'localhost'}:${parsed.port || '5432'}${parsed.pathname}`;
  } catch {
    return 'PostgreSQL (unparsable URL)';
  }
}
