// Profile settings (the VM definition). Images, versions and clones: versions.ts, profile-images.ts.
import { randomUUID } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { LabvirtError } from '../../domain/errors.js';
import { CPUS, MEMORY_MIB } from '../../qemu/cmdline/validate.js';
import { rule } from '../auth/rules.js';
import { actorOf, type RouteContext } from '../context.js';
import { Description, errors, Name, Nullable, Ref, Strict } from '../schemas.js';
import { audit } from '../services/audit.js';
import { isUniqueViolation } from '../../db/errors.js';
import {
  checkIdeSlots,
  checkIso,
  dataDisks,
  findProfile,
  profileView,
  removeProfileImages,
} from '../services/profiles.js';
import { lockProfile } from '../services/vms.js';

const NicModel = Type.Union([
  Type.Literal('virtio'),
  Type.Literal('rtl8139'),
  Type.Literal('e1000'),
]);
const DiskBus = Type.Union([Type.Literal('ide'), Type.Literal('virtio')]);
const Display = Type.Union([Type.Literal('rdp'), Type.Literal('vnc'), Type.Literal('spice')]);
const AdminPolicy = Type.Union([Type.Literal('shared'), Type.Literal('exclusive')]);
const Settings = {
  description: Type.Optional(Description),
  memoryMiB: Type.Optional(Type.Integer({ minimum: MEMORY_MIB.min, maximum: MEMORY_MIB.max })),
  cpus: Type.Optional(Type.Integer({ minimum: CPUS.min, maximum: CPUS.max })),
  nicModel: Type.Optional(NicModel),
  diskBus: Type.Optional(DiskBus),
  display: Type.Optional(Display),
  guestPort: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 65535 }))),
  adminPolicy: Type.Optional(AdminPolicy),
  /** A file name in the server's ISO library, or null for no CD-ROM. */
  cdrom: Type.Optional(
    Nullable(Type.String({ minLength: 1, maxLength: 255, pattern: '^[^\\u0000/]*$' })),
  ),
  dataDisks: Type.Optional(
    Type.Array(Strict({ sizeMiB: Type.Integer({ minimum: 1, maximum: 16 * 1024 * 1024 }) }), {
      maxItems: 3,
    }),
  ),
};
const ProfileSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    description: Type.String(),
    memoryMiB: Type.Integer(),
    cpus: Type.Integer(),
    nicModel: NicModel,
    diskBus: DiskBus,
    display: Display,
    guestPort: Nullable(Type.Integer()),
    adminPolicy: AdminPolicy,
    cdrom: Nullable(Type.String()),
    dataDisks: Type.Array(Type.Object({ sizeMiB: Type.Integer() })),
    publishedVersion: Nullable(Type.String()),
    createdAt: Type.String(),
  },
  { $id: 'Profile' },
);
const ProfileParams = Strict({ profile: Ref });

type SettingsInput = { [K in keyof typeof Settings]?: unknown };

function columns(input: SettingsInput & { name?: string }) {
  const set = <T>(value: unknown): value is T => value !== undefined;
  return {
    ...(set<string>(input.name) ? { name: input.name } : {}),
    ...(set<string>(input.description) ? { description: input.description } : {}),
    ...(set<number>(input.memoryMiB) ? { memory_mib: input.memoryMiB } : {}),
    ...(set<number>(input.cpus) ? { cpus: input.cpus } : {}),
    ...(set<string>(input.nicModel) ? { nic_model: input.nicModel } : {}),
    ...(set<string>(input.diskBus) ? { disk_bus: input.diskBus } : {}),
    ...(set<'rdp' | 'vnc' | 'spice'>(input.display) ? { display: input.display } : {}),
    ...(set<number | null>(input.guestPort) ? { guest_port: input.guestPort } : {}),
    ...(set<'shared' | 'exclusive'>(input.adminPolicy) ? { admin_policy: input.adminPolicy } : {}),
    ...(set<string | null>(input.cdrom) ? { cdrom: input.cdrom } : {}),
    ...(set<unknown[]>(input.dataDisks) ? { data_disks: JSON.stringify(input.dataDisks) } : {}),
  };
}

export function profileRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.addSchema(ProfileSchema);
  const tags = ['profiles'];

  r.get('/profiles', {
    config: { auth: rule.viewer },
    schema: {
      tags,
      summary: 'List profiles',
      response: { 200: Type.Array(Type.Ref('Profile')), ...errors(401) },
    },
    handler: async () =>
      (await ctx.db.selectFrom('profiles').selectAll().orderBy('name').execute()).map(profileView),
  });

  r.post('/profiles', {
    config: { auth: rule.admin },
    schema: {
      tags,
      summary: 'Create a profile',
      body: Strict({ name: Name, ...Settings }),
      response: { 201: Type.Ref('Profile'), ...errors(400, 401, 403, 409) },
    },
    handler: async (request, reply) => {
      const { body } = request;
      if (typeof body.cdrom === 'string') await checkIso(ctx.isoDir, body.cdrom);
      checkIdeSlots(
        {
          diskBus: body.diskBus ?? 'ide',
          dataDisks: body.dataDisks ?? [],
          cdrom: body.cdrom ?? null,
        },
        body,
      );
      const id = randomUUID();
      const now = ctx.now().toISOString();
      try {
        await ctx.db.transaction().execute(async (tx) => {
          await tx
            .insertInto('profiles')
            .values({
              id,
              name: request.body.name,
              memory_mib: 2048,
              cpus: 2,
              nic_model: 'virtio',
              disk_bus: 'ide',
              display: 'rdp',
              guest_port: null,
              cdrom: null,
              admin_policy: 'shared',
              published_version_id: null,
              created_at: now,
              updated_at: now,
              ...columns(request.body),
            })
            .execute();
          await audit(
            tx,
            actorOf(request),
            {
              action: 'profile.create',
              targetType: 'profile',
              targetId: id,
              details: { ...request.body },
            },
            ctx.now(),
          );
        });
      } catch (error) {
        if (isUniqueViolation(error))
          throw new LabvirtError('PROFILE_EXISTS', { name: request.body.name }, { field: 'name' });
        throw error;
      }
      return reply.code(201).send(profileView(await findProfile(ctx.db, id)));
    },
  });

  r.get('/profiles/:profile', {
    config: { auth: rule.viewer },
    schema: {
      tags,
      summary: 'Show a profile',
      params: ProfileParams,
      response: { 200: Type.Ref('Profile'), ...errors(401, 404) },
    },
    handler: async (request) => profileView(await findProfile(ctx.db, request.params.profile)),
  });

  r.patch('/profiles/:profile', {
    config: { auth: rule.admin },
    schema: {
      tags,
      summary: 'Change a profile’s settings',
      params: ProfileParams,
      body: Strict({ name: Type.Optional(Name), ...Settings }),
      response: { 200: Type.Ref('Profile'), ...errors(400, 401, 403, 404, 409) },
    },
    handler: async (request) => {
      const profile = await findProfile(ctx.db, request.params.profile);
      if (typeof request.body.cdrom === 'string') await checkIso(ctx.isoDir, request.body.cdrom);
      try {
        await ctx.db.transaction().execute(async (tx) => {
          // The settings as they will be, checked under the profile's lock: two changes
          // that each fit cannot add up to a profile whose IDE devices do not.
          const current = await lockProfile(tx, profile.id);
          const { body } = request;
          checkIdeSlots(
            {
              diskBus: body.diskBus ?? current.disk_bus,
              dataDisks: body.dataDisks ?? dataDisks(current.data_disks),
              cdrom: body.cdrom === undefined ? current.cdrom : body.cdrom,
            },
            body,
          );
          await tx
            .updateTable('profiles')
            .set({ ...columns(request.body), updated_at: ctx.now().toISOString() })
            .where('id', '=', profile.id)
            .execute();
          await audit(
            tx,
            actorOf(request),
            {
              action: 'profile.update',
              targetType: 'profile',
              targetId: profile.id,
              details: { ...request.body },
            },
            ctx.now(),
          );
        });
      } catch (error) {
        if (isUniqueViolation(error))
          throw new LabvirtError(
            'PROFILE_EXISTS',
            { name: request.body.name ?? '' },
            { field: 'name' },
          );
        throw error;
      }
      return profileView(await findProfile(ctx.db, profile.id));
    },
  });

  r.delete('/profiles/:profile', {
    config: { auth: rule.admin },
    schema: {
      tags,
      summary: 'Delete a profile',
      params: ProfileParams,
      response: { 204: Type.Null(), ...errors(401, 403, 404, 409) },
    },
    handler: async (request, reply) => {
      const profile = await findProfile(ctx.db, request.params.profile);
      const files = await removeProfileImages(ctx.db, profile);
      await ctx.db.transaction().execute(async (tx) => {
        await tx.deleteFrom('profiles').where('id', '=', profile.id).execute();
        await audit(
          tx,
          actorOf(request),
          {
            action: 'profile.delete',
            targetType: 'profile',
            targetId: profile.id,
            details: { name: profile.name },
          },
          ctx.now(),
        );
      });
      await files.remove(ctx.images);
      return reply.code(204).send(null);
    },
  });
}
