// Who is calling: an API token (Authorization: Bearer) or a web session cookie.
import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { LabvirtError } from '../../domain/errors.js';
import type { Database } from '../../db/schema.js';
import type { Principal, Role } from './rules.js';
import { hashSecret } from './tokens.js';

export const SESSION_COOKIE = 'labvirt_session';
/** A session ends 12 hours after login, or after 2 idle hours. */
export const SESSION_LIFETIME_MS = 12 * 3600_000;
export const SESSION_IDLE_MS = 2 * 3600_000;
/** last_seen_at is written at most this often, not on every request. */
const TOUCH_EVERY_MS = 60_000;

/** The user columns both credential lookups read, and the principal fields they give. */
const USER_COLUMNS = [
  'users.id',
  'users.username',
  'users.role',
  'users.language',
  'users.disabled',
] as const;

interface UserRow {
  readonly id: string;
  readonly username: string;
  readonly role: string;
  readonly language: string | null;
}

function userFields(row: UserRow): Pick<Principal, 'userId' | 'username' | 'role' | 'language'> {
  return { userId: row.id, username: row.username, role: row.role as Role, language: row.language };
}

export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return match?.[1];
}

export async function principalFromToken(
  db: Kysely<Database>,
  token: string,
  now: Date,
): Promise<Principal | undefined> {
  const row = await db
    .selectFrom('api_tokens')
    .innerJoin('users', 'users.id', 'api_tokens.user_id')
    .select([
      'api_tokens.id as tokenId',
      'api_tokens.expires_at',
      'api_tokens.last_used_at',
      ...USER_COLUMNS,
    ])
    .where('api_tokens.token_hash', '=', hashSecret(token))
    .executeTakeFirst();
  if (row === undefined || row.disabled === 1) return undefined;
  if (row.expires_at !== null && row.expires_at <= now.toISOString()) return undefined;
  if (row.last_used_at === null || Date.parse(row.last_used_at) < now.getTime() - TOUCH_EVERY_MS) {
    await db
      .updateTable('api_tokens')
      .set({ last_used_at: now.toISOString() })
      .where('id', '=', row.tokenId)
      .execute();
  }
  return {
    ...userFields(row),
    via: 'token',
    tokenId: row.tokenId,
  };
}

export async function principalFromSession(
  db: Kysely<Database>,
  secret: string,
  now: Date,
): Promise<Principal | undefined> {
  const row = await db
    .selectFrom('web_sessions')
    .innerJoin('users', 'users.id', 'web_sessions.user_id')
    .select([
      'web_sessions.id as sessionId',
      'web_sessions.csrf_token',
      'web_sessions.expires_at',
      'web_sessions.last_seen_at',
      ...USER_COLUMNS,
    ])
    .where('web_sessions.token_hash', '=', hashSecret(secret))
    .executeTakeFirst();
  if (row === undefined || row.disabled === 1) return undefined;
  const idleSince = Date.parse(row.last_seen_at);
  if (row.expires_at <= now.toISOString() || idleSince < now.getTime() - SESSION_IDLE_MS) {
    await db.deleteFrom('web_sessions').where('id', '=', row.sessionId).execute();
    return undefined;
  }
  if (idleSince < now.getTime() - TOUCH_EVERY_MS) {
    await db
      .updateTable('web_sessions')
      .set({ last_seen_at: now.toISOString() })
      .where('id', '=', row.sessionId)
      .execute();
  }
  return {
    ...userFields(row),
    via: 'session',
    sessionId: row.sessionId,
    csrfToken: row.csrf_token,
  };
}

/** The caller of a route whose rule requires one (the auth hook has already refused anonymous callers). */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === undefined) throw new LabvirtError('AUTH_REQUIRED');
  return request.principal;
}
