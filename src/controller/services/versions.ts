// A profile's versions: the database's side of the image store. A version's row is written
// only once its file is whole and sealed in the store, and the file is removed again when
// that write fails, so the database never names a file that is not there and the store
// keeps no file nothing names. Long operations (import, flatten) run as jobs.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { LabvirtError, phrase, type Phrase } from '../../domain/errors.js';
import type { Database, Profile, Version } from '../../db/schema.js';
import { isUniqueViolation } from '../../db/errors.js';
import type { ImageStore, SealedVersion } from '../../images/image-store.js';
import type { ImageFormat } from '../../qemu/image/image-format.js';
import { audit, type Actor } from './audit.js';
import type { JobRegistry } from './jobs.js';
import { findProfile } from './profiles.js';

export interface ImagesContext {
  readonly db: Kysely<Database>;
  readonly images: ImageStore | undefined;
  readonly jobs: JobRegistry;
  readonly now: () => Date;
}

export interface VersionView {
  readonly id: string;
  readonly profile: string;
  readonly number: number;
  /** The version this one is layered on (null: an independent image). */
  readonly parentVersion: string | null;
  readonly format: string;
  readonly sizeBytes: number;
  readonly sha256: string;
  readonly note: string;
  readonly createdBy: string | null;
  readonly createdAt: string;
  /** Layers in its chain, itself included. */
  readonly chainDepth: number;
  readonly published: boolean;
}

export function requireStore(images: ImageStore | undefined): ImageStore {
  if (images === undefined) throw new LabvirtError('IMAGE_STORE_NOT_CONFIGURED');
  return images;
}

/** A version of `profile` by number or id. */
export async function findVersion(
  db: Kysely<Database>,
  profile: Profile,
  ref: string,
): Promise<Version> {
  const number = /^[0-9]{1,9}$/.test(ref) ? Number(ref) : undefined;
  const version = await db
    .selectFrom('versions')
    .selectAll()
    .where('profile_id', '=', profile.id)
    .where((eb) => (number === undefined ? eb('id', '=', ref) : eb.or([eb('number', '=', number)])))
    .executeTakeFirst();
  if (version === undefined)
    throw new LabvirtError('VERSION_NOT_FOUND', { profile: profile.name, version: ref });
  return version;
}

/** Chain depth of each version, from the parent links (which may cross profiles). */
async function chainDepths(db: Kysely<Database>, versions: readonly Version[]) {
  const parents = new Map<string, string | null>(versions.map((v) => [v.id, v.parent_version_id]));
  let missing = [...parents.values()].filter((p): p is string => p !== null && !parents.has(p));
  while (missing.length > 0) {
    const rows = await db
      .selectFrom('versions')
      .select(['id', 'parent_version_id'])
      .where('id', 'in', missing)
      .execute();
    for (const id of missing) parents.set(id, null); // a dangling link ends the chain
    for (const row of rows) parents.set(row.id, row.parent_version_id);
    missing = rows
      .map((row) => row.parent_version_id)
      .filter((p): p is string => p !== null && !parents.has(p));
  }
  const depth = (id: string): number => {
    let n = 0;
    for (let at: string | null | undefined = id; at != null && n < 1000; at = parents.get(at)) n++;
    return n;
  };
  return (id: string) => depth(id);
}

export async function versionViews(
  db: Kysely<Database>,
  profile: Profile,
  versions: readonly Version[],
): Promise<VersionView[]> {
  const depth = await chainDepths(db, versions);
  const userIds = [...new Set(versions.map((v) => v.created_by).filter((u) => u !== null))];
  const users =
    userIds.length === 0
      ? []
      : await db
          .selectFrom('users')
          .select(['id', 'username'])
          .where('id', 'in', userIds)
          .execute();
  const names = new Map(users.map((u) => [u.id, u.username]));
  return versions.map((v) => ({
    id: v.id,
    profile: profile.name,
    number: v.number,
    parentVersion: v.parent_version_id,
    format: v.format,
    sizeBytes: Number(v.size_bytes),
    sha256: v.sha256,
    note: v.note,
    createdBy: v.created_by === null ? null : (names.get(v.created_by) ?? v.created_by),
    createdAt: v.created_at,
    chainDepth: depth(v.id),
    published: profile.published_version_id === v.id,
  }));
}

export async function listVersions(db: Kysely<Database>, ref: string): Promise<VersionView[]> {
  const profile = await findProfile(db, ref);
  const versions = await db
    .selectFrom('versions')
    .selectAll()
    .where('profile_id', '=', profile.id)
    .orderBy('number')
    .execute();
  return versionViews(db, profile, versions);
}

export interface NewVersionInput {
  readonly profileId: string;
  readonly sealed: SealedVersion;
  readonly parentVersionId: string | null;
  readonly note: string;
  /** 'if-none': published when the profile has no published version yet. */
  readonly publish: 'always' | 'if-none' | 'never';
  readonly action: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * Records a sealed file of the store as the profile's next version (and publishes it if
 * asked), audited in the same transaction. When that fails, the file is removed.
 * `write` may add rows of its own to the transaction (a clone's new profile) first.
 */
export async function registerVersion(
  ctx: Pick<ImagesContext, 'db' | 'now'> & { readonly images: ImageStore },
  actor: Actor,
  input: NewVersionInput,
  before?: (tx: Kysely<Database>) => Promise<void>,
): Promise<Version> {
  const { sealed } = input;
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        return await ctx.db.transaction().execute(async (tx) => {
          if (before !== undefined) await before(tx);
          const last = await tx
            .selectFrom('versions')
            .select((eb) => eb.fn.max('number').as('max'))
            .where('profile_id', '=', input.profileId)
            .executeTakeFirst();
          const number = Number(last?.max ?? 0) + 1;
          const now = ctx.now().toISOString();
          const row = {
            id: sealed.ref.versionId,
            profile_id: input.profileId,
            number,
            parent_version_id: input.parentVersionId,
            file: sealed.file,
            format: 'qcow2',
            size_bytes: sealed.sizeBytes,
            sha256: sealed.sha256,
            note: input.note,
            created_by: actor.principal?.userId ?? null,
            created_at: now,
          };
          await tx.insertInto('versions').values(row).execute();
          if (input.publish !== 'never') {
            let update = tx
              .updateTable('profiles')
              .set({ published_version_id: row.id, updated_at: now })
              .where('id', '=', input.profileId);
            if (input.publish === 'if-none')
              update = update.where('published_version_id', 'is', null);
            await update.execute();
          }
          await audit(
            tx,
            actor,
            {
              action: input.action,
              targetType: 'profile',
              targetId: input.profileId,
              details: { version: number, versionId: row.id, sha256: row.sha256, ...input.details },
            },
            ctx.now(),
          );
          return (await tx
            .selectFrom('versions')
            .selectAll()
            .where('id', '=', row.id)
            .executeTakeFirstOrThrow()) as Version;
        });
      } catch (error) {
        // Two versions of one profile registered at once: the number is taken; next one.
        if (attempt < 5 && isUniqueViolation(error) && before === undefined) continue;
        throw error;
      }
    }
  } catch (error) {
    await ctx.images.remove(sealed.ref).catch(() => undefined);
    if (isForeignKeyGone(error)) {
      throw new LabvirtError('PROFILE_NOT_FOUND', { profile: input.profileId }, { cause: error });
    }
    throw error;
  }
}

/** The profile was deleted while its version was being made. */
function isForeignKeyGone(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown };
  return (
    e.code === '23503' ||
    e.code === 'SQLITE_CONSTRAINT_FOREIGNKEY' ||
    (typeof e.message === 'string' && /FOREIGN KEY constraint failed/.test(e.message))
  );
}

/**
 * Checks `source` now (so a wrong path is a 400, not a failed job), then imports it as the
 * profile's next version in a job; the first version is published. Returns the job's id.
 */
export async function startImport(
  ctx: ImagesContext,
  actor: Actor,
  profileRef: string,
  source: string,
  options: { format?: ImageFormat | undefined; cleanup?: () => Promise<void> } = {},
): Promise<string> {
  const profile = await findProfile(ctx.db, profileRef);
  const images = requireStore(ctx.images);
  const real = await images.resolveImportSource(source);
  const ref = { profileId: profile.id, versionId: randomUUID() };
  return ctx.jobs.start(
    'import',
    { type: 'profile', id: profile.id, name: profile.name },
    actor.principal?.username ?? null,
    async (progress) => {
      try {
        const sealed = await images.import(real, ref, {
          format: options.format,
          onProgress: progress,
        });
        const version = await registerVersion({ ...ctx, images }, actor, {
          profileId: profile.id,
          sealed,
          parentVersionId: null,
          note: '',
          publish: 'if-none',
          action: 'profile.import',
          details: { format: options.format ?? 'detected' },
        });
        return (await versionViews(ctx.db, await findProfile(ctx.db, profile.id), [version]))[0];
      } finally {
        await options.cleanup?.();
      }
    },
  );
}

/** Collapses a version's chain (the published one by default) into a new, independent version. */
export async function startFlatten(
  ctx: ImagesContext,
  actor: Actor,
  profileRef: string,
  versionRef: string | undefined,
): Promise<string> {
  const profile = await findProfile(ctx.db, profileRef);
  const images = requireStore(ctx.images);
  const sourceId = versionRef ?? profile.published_version_id;
  if (sourceId === null) throw new LabvirtError('PROFILE_NO_IMAGE', { profile: profile.name });
  const source =
    versionRef === undefined
      ? await findVersion(ctx.db, profile, sourceId)
      : await findVersion(ctx.db, profile, versionRef);
  const from = images.layout.refOf(source.file);
  return ctx.jobs.start(
    'flatten',
    { type: 'profile', id: profile.id, name: profile.name },
    actor.principal?.username ?? null,
    async (progress) => {
      const sealed = await images.flatten(
        from,
        { profileId: profile.id, versionId: randomUUID() },
        { onProgress: progress },
      );
      // Same content as its source: it replaces it as the published one if that still is.
      const wasPublished = (await findProfile(ctx.db, profile.id)).published_version_id;
      const version = await registerVersion({ ...ctx, images }, actor, {
        profileId: profile.id,
        sealed,
        parentVersionId: null,
        note: `flattened from version ${source.number}`,
        publish: wasPublished === source.id ? 'always' : 'never',
        action: 'profile.flatten',
        details: { from: source.number },
      });
      return (await versionViews(ctx.db, await findProfile(ctx.db, profile.id), [version]))[0];
    },
  );
}

/** An older (or any) version becomes the published one again. */
export async function rollback(
  ctx: Pick<ImagesContext, 'db' | 'now'>,
  actor: Actor,
  profileRef: string,
  versionRef: string,
): Promise<VersionView> {
  const profile = await findProfile(ctx.db, profileRef);
  const version = await findVersion(ctx.db, profile, versionRef);
  await ctx.db.transaction().execute(async (tx) => {
    const result = await tx
      .updateTable('profiles')
      .set({ published_version_id: version.id, updated_at: ctx.now().toISOString() })
      .where('id', '=', profile.id)
      // It may have been deleted since it was found.
      .where((eb) => eb.exists(eb.selectFrom('versions').select('id').where('id', '=', version.id)))
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0)
      throw new LabvirtError('VERSION_NOT_FOUND', { profile: profile.name, version: versionRef });
    await audit(
      tx,
      actor,
      {
        action: 'profile.rollback',
        targetType: 'profile',
        targetId: profile.id,
        details: { version: version.number, from: profile.published_version_id },
      },
      ctx.now(),
    );
  });
  const after = await findProfile(ctx.db, profile.id);
  return (await versionViews(ctx.db, after, [version]))[0]!;
}

/** What still depends on a version, in words (undefined: nothing). */
async function dependentsOf(db: Kysely<Database>, id: string): Promise<Phrase | undefined> {
  const count = async (query: Promise<{ n: number | string | bigint } | undefined>) =>
    Number((await query)?.n ?? 0);
  const vms = await count(
    db
      .selectFrom('vms')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('version_id', '=', id)
      .executeTakeFirst(),
  );
  const sessions = await count(
    db
      .selectFrom('admin_sessions')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('base_version_id', '=', id)
      .executeTakeFirst(),
  );
  const children = await count(
    db
      .selectFrom('versions')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('parent_version_id', '=', id)
      .executeTakeFirst(),
  );
  if (vms + sessions + children === 0) return undefined;
  return phrase('{vms} VMs, {sessions} admin sessions and {children} versions layered on it', {
    vms,
    sessions,
    children,
  });
}

/**
 * Deletes a version nothing depends on (never the published one): its row, in one
 * conditional statement so a concurrent rollback, VM or layer cannot slip in between the
 * checks and the deletion, then its file.
 */
export async function deleteVersion(
  ctx: ImagesContext,
  actor: Actor,
  profileRef: string,
  versionRef: string,
): Promise<void> {
  const profile = await findProfile(ctx.db, profileRef);
  const version = await findVersion(ctx.db, profile, versionRef);
  const images = requireStore(ctx.images);
  const params = { profile: profile.name, version: version.number };
  if (profile.published_version_id === version.id)
    throw new LabvirtError('VERSION_PUBLISHED', params);
  const users = await dependentsOf(ctx.db, version.id);
  if (users !== undefined) throw new LabvirtError('VERSION_IN_USE', { ...params, users });
  const ref = images.layout.refOf(version.file);
  // A file layered on it that the database does not know (an admin draft being made).
  const layered = await images.dependents(ref);
  if (layered.length > 0)
    throw new LabvirtError('VERSION_IN_USE', {
      ...params,
      users: phrase('{n} layer(s) in the image store', { n: layered.length }),
    });
  await ctx.db.transaction().execute(async (tx) => {
    const result = await tx
      .deleteFrom('versions')
      .where('id', '=', version.id)
      .where(({ eb, not, exists, selectFrom }) =>
        not(
          eb.or([
            exists(
              selectFrom('profiles').select('id').where('published_version_id', '=', version.id),
            ),
            exists(selectFrom('vms').select('id').where('version_id', '=', version.id)),
            exists(
              selectFrom('admin_sessions').select('id').where('base_version_id', '=', version.id),
            ),
            exists(
              selectFrom('versions as child')
                .select('child.id')
                .where('child.parent_version_id', '=', version.id),
            ),
          ]),
        ),
      )
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0)
      throw new LabvirtError('VERSION_IN_USE', {
        ...params,
        users: phrase('a change made meanwhile'),
      });
    await audit(
      tx,
      actor,
      {
        action: 'profile.version.delete',
        targetType: 'profile',
        targetId: profile.id,
        details: { version: version.number, versionId: version.id, sha256: version.sha256 },
      },
      ctx.now(),
    );
  });
  await images.remove(ref);
}
