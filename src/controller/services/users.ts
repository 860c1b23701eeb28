// Users, their roles and the labs granted to operators (their sessions and API tokens are
// in credentials.ts).
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { LabvirtError } from '../../domain/errors.js';
import type { Database, User } from '../../db/schema.js';
import { checkPasswordPolicy, hashPassword } from '../auth/passwords.js';
import type { Role } from '../auth/rules.js';
import { audit, type Actor } from './audit.js';
import { isUniqueViolation } from '../../db/errors.js';
import { findLab } from './labs.js';
import { onlyOne } from './only-one.js';

export interface UserView {
  readonly id: string;
  readonly username: string;
  readonly role: Role;
  readonly labs: string[];
  readonly language: string | null;
  readonly disabled: boolean;
  readonly createdAt: string;
}

export async function findUser(db: Kysely<Database>, ref: string): Promise<User> {
  const user = await db
    .selectFrom('users')
    .selectAll()
    .where((eb) => eb.or([eb('id', '=', ref), eb('username', '=', ref)]))
    .executeTakeFirst();
  if (user === undefined) throw new LabvirtError('USER_NOT_FOUND', { user: ref });
  return user;
}

async function view(db: Kysely<Database>, users: User[]): Promise<UserView[]> {
  const grants = await db
    .selectFrom('user_labs')
    .innerJoin('labs', 'labs.id', 'user_labs.lab_id')
    .select(['user_labs.user_id', 'labs.name'])
    .orderBy('labs.name')
    .execute();
  return users.map((user) => ({
    id: user.id,
    username: user.username,
    role: user.role as Role,
    labs: grants.filter((grant) => grant.user_id === user.id).map((grant) => grant.name),
    language: user.language,
    disabled: user.disabled === 1,
    createdAt: user.created_at,
  }));
}

export async function listUsers(db: Kysely<Database>): Promise<UserView[]> {
  return view(db, await db.selectFrom('users').selectAll().orderBy('username').execute());
}

export async function showUser(db: Kysely<Database>, ref: string): Promise<UserView> {
  return onlyOne(await view(db, [await findUser(db, ref)]));
}

async function labIds(db: Kysely<Database>, labs: readonly string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const lab of labs) ids.push((await findLab(db, lab, 'labs')).id);
  return [...new Set(ids)];
}

export interface NewUserInput {
  readonly username: string;
  readonly role: Role;
  readonly password: string;
  readonly labs?: readonly string[];
  readonly language?: string | null;
}

export async function createUser(
  db: Kysely<Database>,
  actor: Actor,
  input: NewUserInput,
  now: Date,
): Promise<UserView> {
  checkPasswordPolicy(input.password);
  const id = randomUUID();
  const grants = await labIds(db, input.labs ?? []);
  const passwordHash = await hashPassword(input.password);
  try {
    await db.transaction().execute(async (tx) => {
      await tx
        .insertInto('users')
        .values({
          id,
          username: input.username,
          role: input.role,
          password_hash: passwordHash,
          language: input.language ?? null,
          created_at: now.toISOString(),
          updated_at: now.toISOString(),
        })
        .execute();
      if (grants.length > 0)
        await tx
          .insertInto('user_labs')
          .values(grants.map((lab_id) => ({ user_id: id, lab_id })))
          .execute();
      await audit(
        tx,
        actor,
        {
          action: 'user.create',
          targetType: 'user',
          targetId: id,
          details: { username: input.username, role: input.role },
        },
        now,
      );
    });
  } catch (error) {
    if (isUniqueViolation(error))
      throw new LabvirtError('USER_EXISTS', { name: input.username }, { field: 'username' });
    throw error;
  }
  return showUser(db, id);
}

async function otherAdmins(db: Kysely<Database>, userId: string): Promise<number> {
  const row = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('role', '=', 'admin')
    .where('disabled', '=', 0)
    .where('id', '!=', userId)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

export interface UserChanges {
  readonly role?: Role;
  readonly labs?: readonly string[];
  readonly disabled?: boolean;
  readonly language?: string | null;
}

export async function updateUser(
  db: Kysely<Database>,
  actor: Actor,
  ref: string,
  changes: UserChanges,
  now: Date,
): Promise<UserView> {
  const user = await findUser(db, ref);
  const losesAdmin =
    user.role === 'admin' &&
    ((changes.role !== undefined && changes.role !== 'admin') || changes.disabled === true);
  if (losesAdmin && (await otherAdmins(db, user.id)) === 0) throw new LabvirtError('LAST_ADMIN');
  const grants = changes.labs === undefined ? undefined : await labIds(db, changes.labs);
  await db.transaction().execute(async (tx) => {
    await tx
      .updateTable('users')
      .set({
        ...(changes.role !== undefined ? { role: changes.role } : {}),
        ...(changes.disabled !== undefined ? { disabled: changes.disabled ? 1 : 0 } : {}),
        ...(changes.language !== undefined ? { language: changes.language } : {}),
        updated_at: now.toISOString(),
      })
      .where('id', '=', user.id)
      .execute();
    if (grants !== undefined) {
      await tx.deleteFrom('user_labs').where('user_id', '=', user.id).execute();
      if (grants.length > 0)
        await tx
          .insertInto('user_labs')
          .values(grants.map((lab_id) => ({ user_id: user.id, lab_id })))
          .execute();
    }
    if (changes.disabled === true) {
      // Tokens too: re-enabling the account later must not bring old credentials back.
      await tx.deleteFrom('web_sessions').where('user_id', '=', user.id).execute();
      await tx.deleteFrom('api_tokens').where('user_id', '=', user.id).execute();
    }
    await audit(
      tx,
      actor,
      { action: 'user.update', targetType: 'user', targetId: user.id, details: { ...changes } },
      now,
    );
  });
  return showUser(db, user.id);
}

export async function deleteUser(
  db: Kysely<Database>,
  actor: Actor,
  ref: string,
  now: Date,
): Promise<void> {
  const user = await findUser(db, ref);
  if (user.role === 'admin' && (await otherAdmins(db, user.id)) === 0)
    throw new LabvirtError('LAST_ADMIN');
  await db.transaction().execute(async (tx) => {
    await tx.deleteFrom('users').where('id', '=', user.id).execute();
    await audit(
      tx,
      actor,
      {
        action: 'user.delete',
        targetType: 'user',
        targetId: user.id,
        details: { username: user.username },
      },
      now,
    );
  });
}

/** Sets a password; every session and token of the user ends, so an old secret stops working. */
export async function setPassword(
  db: Kysely<Database>,
  actor: Actor,
  ref: string,
  password: string,
  now: Date,
): Promise<void> {
  checkPasswordPolicy(password);
  const user = await findUser(db, ref);
  const passwordHash = await hashPassword(password);
  await db.transaction().execute(async (tx) => {
    await tx
      .updateTable('users')
      .set({ password_hash: passwordHash, updated_at: now.toISOString() })
      .where('id', '=', user.id)
      .execute();
    await tx.deleteFrom('web_sessions').where('user_id', '=', user.id).execute();
    await tx.deleteFrom('api_tokens').where('user_id', '=', user.id).execute();
    await audit(tx, actor, { action: 'user.password', targetType: 'user', targetId: user.id }, now);
  });
}
