// A profile's versions: list, rollback, flatten (a job), delete.
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { rule } from '../auth/rules.js';
import { actorOf, type RouteContext } from '../context.js';
import { errors, Nullable, Ref, Strict } from '../schemas.js';
import { startFlatten } from '../services/version-jobs.js';
import { deleteVersion, listVersions, rollback } from '../services/versions.js';
import { jobAnswer } from './jobs.js';

const VersionSchema = Type.Object(
  {
    id: Type.String(),
    profile: Type.String(),
    number: Type.Integer(),
    parentVersion: Nullable(Type.String()),
    format: Type.String(),
    sizeBytes: Type.Integer(),
    sha256: Type.String(),
    note: Type.String(),
    createdBy: Nullable(Type.String()),
    createdAt: Type.String(),
    chainDepth: Type.Integer(),
    published: Type.Boolean(),
  },
  { $id: 'Version' },
);
const ProfileParams = Strict({ profile: Ref });
const VersionParams = Strict({ profile: Ref, version: Ref });

export function versionRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.addSchema(VersionSchema);
  const tags = ['versions'];

  r.get('/profiles/:profile/versions', {
    config: { auth: rule.viewer },
    schema: {
      tags,
      summary: 'List a profile’s versions (who, when, note, size, chain depth, published)',
      params: ProfileParams,
      response: { 200: Type.Array(Type.Ref('Version')), ...errors(401, 404) },
    },
    handler: (request) => listVersions(ctx.db, request.params.profile),
  });

  r.post('/profiles/:profile/rollback', {
    config: { auth: rule.admin },
    schema: {
      tags,
      summary: 'Roll back: make an (older) version the published one again',
      params: ProfileParams,
      body: Strict({ version: Ref }),
      response: { 200: Type.Ref('Version'), ...errors(400, 401, 403, 404) },
    },
    handler: (request) =>
      rollback(ctx, actorOf(request), request.params.profile, request.body.version),
  });

  r.post('/profiles/:profile/flatten', {
    config: { auth: rule.admin },
    schema: {
      tags,
      summary:
        'Collapse a version’s chain (the published one by default) into a new version (a job)',
      params: ProfileParams,
      body: Strict({ version: Type.Optional(Ref) }),
      response: { 202: Type.Ref('Job'), ...errors(400, 401, 403, 404, 409, 503) },
    },
    handler: async (request, reply) => {
      const id = await startFlatten(
        ctx,
        actorOf(request),
        request.params.profile,
        request.body.version,
      );
      return reply.code(202).send(jobAnswer(ctx, request, id));
    },
  });

  r.delete('/profiles/:profile/versions/:version', {
    config: { auth: rule.admin },
    schema: {
      tags,
      summary: 'Delete a version nothing depends on (never the published one)',
      params: VersionParams,
      response: { 204: Type.Null(), ...errors(401, 403, 404, 409, 503) },
    },
    handler: async (request, reply) => {
      await deleteVersion(ctx, actorOf(request), request.params.profile, request.params.version);
      return reply.code(204).send(null);
    },
  });
}
