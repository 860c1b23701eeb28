// Making a profile's versions: a version's row is written only once its file is whole and
// sealed in the store, and the file is removed again when that write fails, so the
// database never names a file that is not there and the store keeps no file nothing names.
// Imports and flattens run as jobs (see jobs.ts).
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { LabvirtError } from '../../domain/errors.js';
import type { Database, Version } from '../../db/schema.js';
import { isForeignKeyViolation, isUniqueViolation } from '../../db/errors.js';
import type { ImageStore } from '../../images/image-store.js';
import type { SealedVersion } from '../../images/stored-file.js';
import type { ImageFormat } from '../../qemu/image/image-format.js';
import { audit, type Actor } from './audit.js';
import { findProfile } from './profiles.js';
import { findVersion, requireStore, versionView, type ImagesContext } from './versions.js';
export interface NewVersionInput {
  readonly profileId: string;
  readonly sealed: SealedVersion;
  readonly parentVersionId: string | null;
  readonly note: string;
  /**
   * 'if-none': published when the profile has no published version yet; `replacing`: when
   * that version is still the published one (checked in the same statement).
   */
  readonly publish: 'always' | 'if-none' | 'never' | { readonly replacing: string };
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
            else if (typeof input.publish === 'object')
              update = update.where('published_version_id', '=', input.publish.replacing);
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
    if (isForeignKeyViolation(error)) {
      // The profile was deleted while its version was being made.
      throw new LabvirtError('PROFILE_NOT_FOUND', { profile: input.profileId }, { cause: error });
    }
    throw error;
  }
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
  options: {
    format?: ImageFormat | undefined;
    cleanup?: () => Promise<void>;
    /** How errors name the source: an upload's file is ours, not the user's. */
    sourceName?: string | undefined;
  } = {},
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
        const sealed = await images
          .import(real, ref, { format: options.format, onProgress: progress })
          .catch((error: unknown) => {
            throw renamedSource(error, real, options.sourceName);
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
        return versionView(ctx.db, version);
      } finally {
        await options.cleanup?.();
      }
    },
  );
}

/** The same error, naming the source as the user knows it rather than by our file's path. */
function renamedSource(error: unknown, path: string, name: string | undefined): unknown {
  if (name === undefined || !(error instanceof LabvirtError) || error.params['path'] !== path)
    return error;
  return new LabvirtError(
    error.code,
    { ...error.params, path: name },
    { ...(error.field !== undefined ? { field: error.field } : {}), cause: error },
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
      const version = await registerVersion({ ...ctx, images }, actor, {
        profileId: profile.id,
        sealed,
        parentVersionId: null,
        note: `flattened from version ${source.number}`,
        // Same content as its source: it replaces it as the published one if that still is.
        publish: { replacing: source.id },
        action: 'profile.flatten',
        details: { from: source.number },
      });
      return versionView(ctx.db, version);
    },
  );
}
