// Whether a long-lived connection (the event stream, a VM console) opened with a session
// or token may go on: checked again while it lasts, so a sign-out, an expired or idle
// session, a revoked token, a disabled user or a changed role reaches it too.
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { SESSION_IDLE_MS } from './principal.js';
import type { Principal, Role } from './rules.js';

/** The user's role now, or undefined when the session or token no longer lets them in. */
export async function signedInRole(
  db: Kysely<Database>,
  principal: Principal,
  now: Date,
): Promise<Role | undefined> {
  const at = now.toISOString();
  if (principal.sessionId !== undefined) {
    const row = await db
      .selectFrom('web_sessions')
      .innerJoin('users', 'users.id', 'web_sessions.user_id')
      .select(['web_sessions.expires_at', 'web_sessions.last_seen_at', 'users.disabled'])
      .select('users.role')
      .where('web_sessions.id', '=', principal.sessionId)
      .executeTakeFirst();
    const valid =
      row !== undefined &&
      row.disabled !== 1 &&
      row.expires_at > at &&
      Date.parse(row.last_seen_at) >= now.getTime() - SESSION_IDLE_MS;
    return valid ? (row.role as Role) : undefined;
  }
  if (principal.tokenId !== undefined) {
    const row = await db
      .selectFrom('api_tokens')
      .innerJoin('users', 'users.id', 'api_tokens.user_id')
      .select(['api_tokens.expires_at', 'users.disabled', 'users.role'])
      .where('api_tokens.id', '=', principal.tokenId)
      .executeTakeFirst();
    const valid =
      row !== undefined && row.disabled !== 1 && (row.expires_at === null || row.expires_at > at);
    return valid ? (row.role as Role) : undefined;
  }
  return undefined;
}
