import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { rule } from '../auth/rules.js';
import { actorOf, type RouteContext } from '../context.js';
import { Description, errors, Name, Nullable, Ref, Strict } from '../schemas.js';
import { createLab, deleteLab, listLabs, showLab, updateLab } from '../services/labs.js';

const Lab = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    description: Type.String(),
    timezone: Type.String(),
    defaultProfile: Nullable(Type.String()),
    idleMinutes: Nullable(Type.Integer()),
    profiles: Type.Array(Type.String()),
    terminals: Type.Integer(),
    createdAt: Type.String(),
    updatedAt: Type.String(),
  },
  { $id: 'Lab' },
);

const LabFields = {
  description: Type.Optional(Description),
  timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  idleMinutes: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 1440 }))),
};
const LabParams = Strict({ lab: Ref });

export function labRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.addSchema(Lab);
  const tags = ['labs'];

  r.get('/labs', {
    config: { auth: rule.viewer },
    schema: {
      tags,
      summary: 'List labs',
      response: { 200: Type.Array(Type.Ref('Lab')), ...errors(401) },
    },
    handler: () => listLabs(ctx.db),
  });

  r.post('/labs', {
    config: { auth: rule.admin },
    schema: {
      tags,
      summary: 'Create a lab',
      body: Strict({ name: Name, ...LabFields }),
      response: { 201: Type.Ref('Lab'), ...errors(400, 401, 403, 409) },
    },
    handler: async (request, reply) =>
      reply.code(201).send(await createLab(ctx.db, actorOf(request), request.body, ctx.now())),
  });

  r.get('/labs/:lab', {
    config: { auth: rule.viewer },
    schema: {
      tags,
      summary: 'Show a lab (by id or name)',
      params: LabParams,
      response: { 200: Type.Ref('Lab'), ...errors(401, 404) },
    },
    handler: (request) => showLab(ctx.db, request.params.lab),
  });

  r.patch('/labs/:lab', {
    config: { auth: rule.admin },
    schema: {
      tags,
      summary: 'Change a lab',
      params: LabParams,
      body: Strict({ name: Type.Optional(Name), ...LabFields }),
      response: { 200: Type.Ref('Lab'), ...errors(400, 401, 403, 404, 409) },
    },
    handler: (request) =>
      updateLab(ctx.db, actorOf(request), request.params.lab, request.body, ctx.now()),
  });

  r.delete('/labs/:lab', {
    config: { auth: rule.admin },
    schema: {
      tags,
      summary: 'Delete a lab (its terminals become pending)',
      params: LabParams,
      response: { 204: Type.Null(), ...errors(401, 403, 404) },
    },
    handler: async (request, reply) => {
      await deleteLab(ctx.db, actorOf(request), request.params.lab, ctx.now());
      return reply.code(204).send(null);
    },
  });
}
