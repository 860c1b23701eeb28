// Recognizes "the database cannot be reached" among driver errors, so a request that meets a
// stopped PostgreSQL answers 503 (try again) rather than 500, and the background loops say
// it once instead of failing loudly every round. Golden cases in test/unit.
//
// Socket errors (ECONNREFUSED, ECONNRESET…) and pg's bare messages count only on an error the
// database driver raised (fromDatabaseDriver, applied by connect.ts to the pool): the same
// codes from an agent, a QMP socket or a client aborting an upload are not the database.
// PostgreSQL's own SQLSTATEs count wherever they are found.
import { LabvirtError } from '../domain/errors.js';

/** Why the database could not be reached, in a few words; none for any other error. */
export type UnreachableReason =
  | 'connection refused'
  | 'connection lost'
  | 'connection timed out'
  | 'server unreachable'
  | 'server shutting down'
  | 'server starting up'
  | 'too many connections';

const driverErrors = new WeakSet<object>();

/** Marks an error as raised by the database driver (a connect or a query); returns it. */
export function fromDatabaseDriver<T>(error: T): T {
  if (typeof error === 'object' && error !== null) driverErrors.add(error);
  return error;
}

// Socket errors of node (connect, read, write): only from the driver.
const bySocketCode: Readonly<Record<string, UnreachableReason>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection lost',
  EPIPE: 'connection lost',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'server unreachable',
  ENETUNREACH: 'server unreachable',
  EHOSTDOWN: 'server unreachable',
  ENOTFOUND: 'server unreachable',
  EAI_AGAIN: 'server unreachable',
};

// PostgreSQL's SQLSTATEs.
const bySqlState: Readonly<Record<string, UnreachableReason>> = {
  '57P01': 'server shutting down', // admin_shutdown: pg_ctl stop -m fast
  '57P02': 'server shutting down', // crash_shutdown: pg_ctl stop -m immediate
  '57P03': 'server starting up', // cannot_connect_now
  '53300': 'too many connections',
  '08000': 'connection lost', // class 08: connection exception
  '08001': 'connection refused',
  '08003': 'connection lost',
  '08004': 'connection refused',
  '08006': 'connection lost',
};

// pg and pg-pool say these with a bare Error (no code): only from the driver.
const byMessage: readonly (readonly [RegExp, UnreachableReason])[] = [
  [/^Connection terminated due to connection timeout/, 'connection timed out'],
  [/^timeout exceeded when trying to connect/, 'connection timed out'],
  [/^Connection terminated( unexpectedly)?$/, 'connection lost'],
  [/^Client has encountered a connection error and is not queryable/, 'connection lost'],
  [/^Client was closed and is not queryable/, 'connection lost'],
];

/**
 * The reason when `error` (or what it wraps: its cause, an AggregateError's errors, as node
 * gives for a name with several addresses) is the database being out of reach. A
 * LabvirtError is already classified: DATABASE_UNAVAILABLE is, any other (an agent's
 * AGENT_UNREACHABLE wrapping its socket error) is not.
 */
export function databaseUnreachable(
  error: unknown,
  depth = 0,
  fromDriver = false,
): UnreachableReason | undefined {
  if (typeof error !== 'object' || error === null || depth > 4) return undefined;
  if (error instanceof LabvirtError) {
    if (error.code !== 'DATABASE_UNAVAILABLE') return undefined;
    return databaseUnreachable(error.cause, depth + 1, true) ?? 'server unreachable';
  }
  const driver = fromDriver || driverErrors.has(error);
  const { code, message, cause, errors } = error as {
    code?: unknown;
    message?: unknown;
    cause?: unknown;
    errors?: unknown;
  };
  if (typeof code === 'string' && Object.hasOwn(bySqlState, code)) return bySqlState[code];
  if (driver) {
    if (typeof code === 'string' && Object.hasOwn(bySocketCode, code)) return bySocketCode[code];
    if (typeof message === 'string') {
      const found = byMessage.find(([pattern]) => pattern.test(message));
      if (found !== undefined) return found[1];
    }
  }
  if (Array.isArray(errors)) {
    for (const inner of errors) {
      const reason = databaseUnreachable(inner, depth + 1, driver);
      if (reason !== undefined) return reason;
    }
  }
  return databaseUnreachable(cause, depth + 1, driver);
}
