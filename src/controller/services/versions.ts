// A profile's versions: the database's side of the image store. Listing, rollback and
// deletion; making versions (import, flatten, registering a sealed file) is in
// version-jobs.ts.
import type { Kysely } from 'kysely';
import { LabvirtError, phrase, type Phrase } from '../../domain/errors.js';
import type { Database, Profile, Version } from '../../db/schema.js';
import type { ImageStore } from '../../images/image-store.js';
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
    .where((eb) => (number === undefined ? eb('id', '=', ref) : eb('number', '=', number)))
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
  return depth;
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

/** One version as the API shows it (its profile read afresh: is it published?). */
export async function versionView(db: Kysely<Database>, version: Version): Promise<VersionView> {
  const profile = await findProfile(db, version.profile_id);
  const [view] = await versionViews(db, profile, [version]);
  if (view === undefined) throw new Error('a version without its view');
  return view;
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
  return versionView(ctx.db, version);
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
  return phrase(
    'VMs ({vms}), admin sessions ({sessions}) and versions layered on it ({children})',
    {
      vms,
      sessions,
      children,
    },
  );
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
      users: phrase('layers in the image store ({n})', { n: layered.length }),
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
