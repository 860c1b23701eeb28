// Recognizes constraint violations from either driver, so callers can map them to
// LabVirt error codes (e.g. a duplicate name) without knowing the dialect.

export type ConstraintKind = 'unique' | 'foreign_key' | 'check' | 'not_null';

// better-sqlite3 extended result codes, and PostgreSQL SQLSTATEs (class 23).
const kinds: Readonly<Record<string, ConstraintKind>> = {
  SQLITE_CONSTRAINT_UNIQUE: 'unique',
  SQLITE_CONSTRAINT_PRIMARYKEY: 'unique',
  SQLITE_CONSTRAINT_FOREIGNKEY: 'foreign_key',
  SQLITE_CONSTRAINT_CHECK: 'check',
  SQLITE_CONSTRAINT_NOTNULL: 'not_null',
  '23505': 'unique',
  '23503': 'foreign_key',
  '23514': 'check',
  '23502': 'not_null',
};

/** The kind of constraint a database error violated, or undefined for any other error. */
export function constraintViolation(error: unknown): ConstraintKind | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  const { code } = error;
  return typeof code === 'string' ? kinds[code] : undefined;
}

export function isUniqueViolation(error: unknown): boolean {
  return constraintViolation(error) === 'unique';
}

export function isForeignKeyViolation(error: unknown): boolean {
  return constraintViolation(error) === 'foreign_key';
}
