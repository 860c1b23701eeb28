// Admin sessions of a profile: open (a writable draft booted as the administrative VM),
// status, publish (the draft becomes the published version), discard.
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { rule } from '../auth/rules.js';
import { actorOf, type RouteContext } from '../context.js';
import { Description, errors, Nullable, Ref, Strict } from '../schemas.js';

const AdminSessionSchema = Type.Object(
  {
    id: Type.String(),
    profile: Type.String(),
    profileId: Type.String(),
    policy: Type.Union([Type.Literal('shared'), Type.Literal('exclusive')]),
    baseVersionId: Type.String(),
    draftId: Type.String(),
    vm: Nullable(Type.Ref('Vm')),
    openedBy: Nullable(Type.String()),
    openedAt: Type.String(),
  },
  { $id: 'AdminSession' },
);
const Params = Strict({ profile: Ref });

export function adminSessionRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.addSchema(AdminSessionSchema);
  const tags = ['admin sessions'];

  r.get('/profiles/:profile/admin-session', {
    config: { auth: rule.viewer },
    schema: {
      tags,
      summary: 'The profile’s open admin session',
      params: Params,
      response: { 200: Type.Ref('AdminSession'), ...errors(401, 404) },
    },
    handler: async (request) => ctx.adminSessions.status(request.params.profile),
  });

  r.post('/profiles/:profile/admin-session', {
    config: { auth: rule.admin },
    schema: {
      tags,
      summary: 'Open an admin session: a writable draft booted as the administrative VM',
      params: Params,
      body: Type.Optional(
        Strict({
          exclusive: Type.Optional(
            Type.Boolean({ description: 'no client VM runs while it is open' }),
          ),
          force: Type.Optional(
            Type.Boolean({ description: 'under exclusive, shut running client VMs down first' }),
          ),
        }),
      ),
      response: { 201: Type.Ref('AdminSession'), ...errors(400, 401, 403, 404, 409, 503, 507) },
    },
    handler: async (request, reply) =>
      reply
        .code(201)
        .send(
          await ctx.adminSessions.open(
            request.params.profile,
            actorOf(request),
            request.body ?? {},
          ),
        ),
  });

  r.post('/profiles/:profile/admin-session/boot', {
    config: { auth: rule.admin },
    schema: {
      tags,
      summary: 'Boot the administrative VM again (after it was powered off)',
      params: Params,
      body: Type.Optional(Strict({})),
      response: { 200: Type.Ref('AdminSession'), ...errors(400, 401, 403, 404, 409, 503, 507) },
    },
    handler: async (request) => ctx.adminSessions.boot(request.params.profile, actorOf(request)),
  });

  r.post('/profiles/:profile/admin-session/publish', {
    config: { auth: rule.admin },
    schema: {
      tags,
      summary: 'Publish the draft (the administrative VM must be off)',
      params: Params,
      body: Type.Optional(Strict({ note: Type.Optional(Description) })),
      response: {
        200: Type.Object({
          versionId: Type.String(),
          number: Type.Integer(),
          sha256: Type.String(),
          sizeBytes: Type.Integer(),
        }),
        ...errors(400, 401, 403, 404, 409, 503),
      },
    },
    handler: async (request) =>
      ctx.adminSessions.publish(request.params.profile, actorOf(request), request.body?.note),
  });

  r.post('/profiles/:profile/admin-session/discard', {
    config: { auth: rule.admin },
    schema: {
      tags,
      summary: 'Discard the draft (force: stop a running administrative VM first)',
      params: Params,
      body: Type.Optional(Strict({ force: Type.Optional(Type.Boolean()) })),
      response: { 204: Type.Null(), ...errors(400, 401, 403, 404, 409, 503) },
    },
    handler: async (request, reply) => {
      await ctx.adminSessions.discard(request.params.profile, actorOf(request), {
        force: request.body?.force === true,
      });
      return reply.code(204).send(null);
    },
  });
}
