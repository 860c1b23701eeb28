// Profiles: finding one, checking the settings that name things outside the database (the
// CD-ROM ISO) and that the IDE devices fit, and cloning: linked (a new profile whose first
// version is a layer on the source's published version, in constant time) or full (a
// flattened copy, as a job).
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { LabvirtError, phrase } from '../../domain/errors.js';
import type { Database, Profile } from '../../db/schema.js';
import { isUniqueViolation } from '../../db/errors.js';
import type { ImageStore, SealedVersion } from '../../images/image-store.js';
import { resolveIso } from '../../images/iso-library.js';
import { IDE_SLOT_COUNT } from '../../qemu/cmdline/ide-slots.js';
import type { Actor } from './audit.js';
import type { ImagesContext } from './versions.js';
import { registerVersion } from './version-jobs.js';
import { requireStore, versionView } from './versions.js';

export async function findProfile(db: Kysely<Database>, ref: string): Promise<Profile> {
  const profile = await db
    .selectFrom('profiles')
    .selectAll()
    .where((eb) => eb.or([eb('id', '=', ref), eb('name', '=', ref)]))
    .executeTakeFirst();
  if (profile === undefined) throw new LabvirtError('PROFILE_NOT_FOUND', { profile: ref });
  return profile;
}

/** A profile's data disks (its data_disks column, JSON). */
export function dataDisks(text: string): { sizeMiB: number }[] {
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? (parsed as { sizeMiB: number }[]) : [];
  } catch {
    return [];
  }
}

/** A profile as the API shows it. */
export function profileView(profile: Profile) {
  return {
    id: profile.id,
    name: profile.name,
    description: profile.description,
    memoryMiB: profile.memory_mib,
    cpus: profile.cpus,
    nicModel: profile.nic_model,
    diskBus: profile.disk_bus,
    display: profile.display,
    guestPort: profile.guest_port,
    adminPolicy: profile.admin_policy,
    cdrom: profile.cdrom,
    dataDisks: dataDisks(profile.data_disks),
    publishedVersion: profile.published_version_id,
    createdAt: profile.created_at,
  } as const;
}

/** Checks that `name` is a regular file directly inside the ISO library; its real path. */
export function checkIso(isoDir: string | undefined, name: string): Promise<string> {
  return resolveIso(isoDir, name, 'cdrom');
}

/** IDE devices a VM of these settings has: its system disk, data disks and CD-ROM. */
export function ideDevices(settings: {
  diskBus: string;
  dataDisks: readonly unknown[];
  cdrom: string | null;
}): number {
  if (settings.diskBus !== 'ide') return settings.cdrom === null ? 0 : 1;
  return 1 + settings.dataDisks.length + (settings.cdrom === null ? 0 : 1);
}

/**
 * Refuses settings whose IDE devices do not fit the four IDE slots, naming the field of
 * the change at fault (the data disks, else the CD-ROM, else the disk bus).
 */
export function checkIdeSlots(
  settings: { diskBus: string; dataDisks: readonly unknown[]; cdrom: string | null },
  changed: { dataDisks?: unknown; cdrom?: unknown; diskBus?: unknown },
): void {
  const count = ideDevices(settings);
  if (count <= IDE_SLOT_COUNT) return;
  const field =
    changed.dataDisks !== undefined
      ? 'dataDisks'
      : changed.cdrom !== undefined
        ? 'cdrom'
        : 'diskBus';
  throw new LabvirtError('IDE_SLOTS_EXHAUSTED', { count }, { field });
}

function notTaken(name: string) {
  return (error: unknown): never => {
    if (isUniqueViolation(error))
      throw new LabvirtError('PROFILE_EXISTS', { name }, { field: 'name', cause: error });
    throw error;
  };
}

async function cloneSource(ctx: ImagesContext, sourceRef: string, name: string) {
  const source = await findProfile(ctx.db, sourceRef);
  const images = requireStore(ctx.images);
  if (source.published_version_id === null)
    throw new LabvirtError('PROFILE_NO_IMAGE', { profile: source.name });
  const taken = await ctx.db
    .selectFrom('profiles')
    .select('id')
    .where('name', '=', name)
    .executeTakeFirst();
  if (taken !== undefined) throw new LabvirtError('PROFILE_EXISTS', { name }, { field: 'name' });
  const version = await ctx.db
    .selectFrom('versions')
    .selectAll()
    .where('id', '=', source.published_version_id)
    .executeTakeFirstOrThrow();
  return { images, source, version, parentRef: images.layout.refOf(version.file) };
}

/** Inserts the clone's profile row: the source's settings, a new name, nothing published. */
function insertClone(source: Profile, id: string, name: string, now: string) {
  return async (tx: Kysely<Database>) => {
    await tx
      .insertInto('profiles')
      .values({
        ...source,
        id,
        name,
        published_version_id: null,
        created_at: now,
        updated_at: now,
      })
      .execute();
  };
}

async function register(
  ctx: ImagesContext & { images: ImageStore },
  actor: Actor,
  source: Profile,
  sealed: SealedVersion,
  name: string,
  mode: 'linked' | 'full',
  parentVersionId: string | null,
) {
  const now = ctx.now().toISOString();
  const version = await registerVersion(
    ctx,
    actor,
    {
      profileId: sealed.ref.profileId,
      sealed,
      parentVersionId,
      note: `${mode} clone of ${source.name}`,
      publish: 'always',
      action: 'profile.clone',
      details: { name, mode, source: source.id },
    },
    insertClone(source, sealed.ref.profileId, name, now),
  ).catch(notTaken(name));
  const profile = await findProfile(ctx.db, sealed.ref.profileId);
  return { profile: profileView(profile), version: await versionView(ctx.db, version) };
}

/** A linked clone: constant time whatever the image's size. */
export async function cloneLinked(
  ctx: ImagesContext,
  actor: Actor,
  sourceRef: string,
  name: string,
) {
  const { images, source, version, parentRef } = await cloneSource(ctx, sourceRef, name);
  const ref = { profileId: randomUUID(), versionId: randomUUID() };
  let sealed: SealedVersion;
  try {
    await images.createLayer(parentRef, ref);
    sealed = await images.seal(ref);
  } catch (error) {
    await images.remove(ref).catch(() => undefined);
    throw error;
  }
  return register({ ...ctx, images }, actor, source, sealed, name, 'linked', version.id);
}

/** A full clone: an independent, flattened copy, made in a job. Returns the job's id. */
export async function startFullClone(
  ctx: ImagesContext,
  actor: Actor,
  sourceRef: string,
  name: string,
): Promise<string> {
  const { images, source, parentRef } = await cloneSource(ctx, sourceRef, name);
  const ref = { profileId: randomUUID(), versionId: randomUUID() };
  return ctx.jobs.start(
    'clone',
    { type: 'profile', id: source.id, name: source.name },
    actor.principal?.username ?? null,
    async (progress) => {
      const sealed = await images.flatten(parentRef, ref, { onProgress: progress });
      return register({ ...ctx, images }, actor, source, sealed, name, 'full', null);
    },
  );
}

/**
 * Before a profile is deleted: refuses while a VM runs on one of its versions or another
 * profile's version (a linked clone) is layered on one; then returns what removes its
 * files once its rows are gone (layers before what they are layered on).
 */
export async function removeProfileImages(db: Kysely<Database>, profile: Profile) {
  const versions = await db
    .selectFrom('versions')
    .select(['id', 'number', 'file', 'parent_version_id'])
    .where('profile_id', '=', profile.id)
    .orderBy('number', 'desc')
    .execute();
  const ids = versions.map((v) => v.id);
  if (ids.length > 0) {
    const clone = await db
      .selectFrom('versions')
      .select('number')
      .where('parent_version_id', 'in', ids)
      .where('profile_id', '!=', profile.id)
      .executeTakeFirst();
    const vm = await db
      .selectFrom('vms')
      .select('id')
      .where('version_id', 'in', ids)
      .executeTakeFirst();
    if (clone !== undefined || vm !== undefined) {
      throw new LabvirtError('PROFILE_IN_USE', {
        profile: profile.name,
        users: clone !== undefined ? phrase('linked clones') : phrase('running VMs'),
      });
    }
  }
  // Its draft is a layer on one of its versions, and its VM may still run.
  const session = await db
    .selectFrom('admin_sessions')
    .select('id')
    .where('profile_id', '=', profile.id)
    .executeTakeFirst();
  if (session !== undefined) {
    throw new LabvirtError('PROFILE_IN_USE', {
      profile: profile.name,
      users: phrase('an open admin session'),
    });
  }
  return {
    remove: async (images: ImageStore | undefined): Promise<void> => {
      if (images === undefined) return;
      // Newest first: a layer goes before the version it is layered on.
      for (const version of versions) {
        try {
          await images.remove(images.layout.refOf(version.file));
        } catch {
          // Left for an administrator; the profile is gone either way.
        }
      }
    },
  };
}
