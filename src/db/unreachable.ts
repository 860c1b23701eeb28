// Recognizes "the database cannot be reached" among driver errors, so a request that meets a
// stopped PostgreSQL answers 503 (try again) rather than 500, and the background loops say
// it once instead of failing loudly every round. Pure: golden cases in test/unit.

/** Why the database could not be reached, in a few words; none for any other error. */
export type UnreachableReason =
  | 'connection refused'
  | 'connection lost'
  | 'connection timed out'
  | 'server unreachable'
  | 'server shutting down'
  | 'server starting up'
  | 'too many connections';

// Socket errors of node (connect, read, write) and PostgreSQL SQLSTATEs.
const byCode: Readonly<Record<string, UnreachableReason>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection lost',
  EPIPE: 'connection lost',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'server unreachable',
  ENETUNREACH: 'server unreachable',
  EHOSTDOWN: 'server unreachable',
  ENOTFOUND: 'server unreachable',
  EAI_AGAIN: 'server unreachable',
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

// pg and pg-pool say these with a bare Error (no code).
const byMessage: readonly (readonly [RegExp, UnreachableReason])[] = [
  [/^Connection terminated due to connection timeout/, 'connection timed out'],
  [/^timeout exceeded when trying to connect/, 'connection timed out'],
  [/^Connection terminated( unexpectedly)?$/, 'connection lost'],
  [/^Client has encountered a connection error and is not queryable/, 'connection lost'],
  [/^Client was closed and is not queryable/, 'connection lost'],
];

/**
 * The reason when `error` (or what it wraps: its cause, an AggregateError's errors, as node
 * gives for a name with several addresses) is the database being out of reach.
 */
export function databaseUnreachable(error: unknown, depth = 0): UnreachableReason | undefined {
  if (typeof error !== 'object' || error === null || depth > 4) return undefined;
  const { code, message, cause, errors } = error as {
    code?: unknown;
    message?: unknown;
    cause?: unknown;
    errors?: unknown;
  };
  if (typeof code === 'string' && Object.hasOwn(byCode, code)) return byCode[code];
  if (typeof message === 'string') {
    const found = byMessage.find(([pattern]) => pattern.test(message));
    if (found !== undefined) return found[1];
  }
  if (Array.isArray(errors)) {
    for (const inner of errors) {
      const reason = databaseUnreachable(inner, depth + 1);
      if (reason !== undefined) return reason;
    }
  }
  return databaseUnreachable(cause, depth + 1);
}
