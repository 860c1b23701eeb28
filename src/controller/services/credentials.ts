// Credentials: checking a password at login, and the secrets handed out for it (web
// sessions and API tokens). Only hashes of the secrets are stored.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database, User } from '../../db/schema.js';
import { dummyPasswordHash, verifyPassword } from '../auth/passwords.js';
import { SESSION_LIFETIME_MS } from '../auth/principal.js';
import { hashSecret, newApiToken, newSecret } from '../auth/tokens.js';
import { audit, type Actor } from './audit.js';

/** The user if the password is right; undefined otherwise, in about the same time either way. */
export async function checkCredentials(
  db: Kysely<Database>,
  username: string,
  password: string,
): Promise<User | undefined> {
  const user = await db
    .selectFrom('users')
    .selectAll()
    .where('username', '=', username)
    .executeTakeFirst();
  const ok = await verifyPassword(password, user?.password_hash ?? (await dummyPasswordHash()));
  return ok && user !== undefined && user.disabled === 0 ? user : undefined;
}

/** A web session for user; the login is audited (who logged in, from where). */
export async function openSession(
  db: Kysely<Database>,
  actor: Actor,
  user: User,
  now: Date,
): Promise<{ secret: string; csrfToken: string; expiresAt: Date }> {
  const secret = newSecret();
  const csrfToken = newSecret();
  const expiresAt = new Date(now.getTime() + SESSION_LIFETIME_MS);
  await db.transaction().execute(async (tx) => {
    await tx
      .insertInto('web_sessions')
      .values({
        id: randomUUID(),
        user_id: user.id,
        token_hash: hashSecret(secret),
        csrf_token: csrfToken,
        ip: actor.source,
        created_at: now.toISOString(),
        last_seen_at: now.toISOString(),
        expires_at: expiresAt.toISOString(),
      })
      .execute();
    await audit(tx, actor, { action: 'session.open', targetType: 'user', targetId: user.id }, now);
  });
  return { secret, csrfToken, expiresAt };
}

export async function createToken(
  db: Kysely<Database>,
  actor: Actor,
  user: User,
  name: string,
  now: Date,
): Promise<{ id: string; name: string; token: string }> {
  const id = randomUUID();
  const token = newApiToken();
  await db.transaction().execute(async (tx) => {
    await tx
      .insertInto('api_tokens')
      .values({
        id,
        user_id: user.id,
        name,
        token_hash: hashSecret(token),
        created_at: now.toISOString(),
        last_used_at: null,
        expires_at: null,
      })
      .execute();
    await audit(
      tx,
      actor,
      { action: 'token.create', targetType: 'user', targetId: user.id, details: { name } },
      now,
    );
  });
  return { id, name, token };
}
