import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { LabvirtError } from '../../domain/errors.js';
import { verifyPassword } from '../auth/passwords.js';
import { rule } from '../auth/rules.js';
import { actorOf, type RouteContext } from '../context.js';
import { errors, Language, Nullable, Password, Ref, Role, Strict, Username } from '../schemas.js';
import {
  createUser,
  deleteUser,
  findUser,
  listUsers,
  setPassword,
  showUser,
  updateUser,
} from '../services/users.js';
import { principalOf } from '../auth/principal.js';

const User = Type.Object(
  {
    id: Type.String(),
    username: Type.String(),
    role: Role,
    labs: Type.Array(Type.String(), { description: 'labs granted to an operator' }),
    language: Nullable(Type.String()),
    disabled: Type.Boolean(),
    createdAt: Type.String(),
  },
  { $id: 'User' },
);
const Labs = Type.Array(Ref, { maxItems: 200 });
const UserParams = Strict({ user: Ref });

export function userRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.addSchema(User);
  const tags = ['users'];

  r.get('/users', {
    config: { auth: rule.admin },
    schema: {
      tags,
      summary: 'List users',
      response: { 200: Type.Array(Type.Ref('User')), ...errors(401, 403) },
    },
    handler: () => listUsers(ctx.db),
  });

  r.post('/users', {
    config: { auth: rule.admin },
    schema: {
      tags,
      summary: 'Create a user',
      body: Strict({
        username: Username,
        role: Role,
        password: Password,
        labs: Type.Optional(Labs),
        language: Type.Optional(Nullable(Language)),
      }),
      response: { 201: Type.Ref('User'), ...errors(400, 401, 403, 404, 409) },
    },
    handler: async (request, reply) =>
      reply.code(201).send(await createUser(ctx.db, actorOf(request), request.body, ctx.now())),
  });

  r.get('/users/:user', {
    config: { auth: rule.admin },
    schema: {
      tags,
      summary: 'Show a user',
      params: UserParams,
      response: { 200: Type.Ref('User'), ...errors(401, 403, 404) },
    },
    handler: (request) => showUser(ctx.db, request.params.user),
  });

  r.patch('/users/:user', {
    config: { auth: rule.admin },
    schema: {
      tags,
      summary: 'Change a user’s role, granted labs, language or disabled flag',
      params: UserParams,
      body: Strict({
        role: Type.Optional(Role),
        labs: Type.Optional(Labs),
        disabled: Type.Optional(Type.Boolean()),
        language: Type.Optional(Nullable(Language)),
      }),
      response: { 200: Type.Ref('User'), ...errors(400, 401, 403, 404, 409) },
    },
    handler: (request) =>
      updateUser(ctx.db, actorOf(request), request.params.user, request.body, ctx.now()),
  });

  r.put('/users/:user/password', {
    // Anyone may change their own password (with the current one); admins anyone's.
    config: { auth: rule.viewer },
    schema: {
      tags,
      summary: 'Set a password (ends the user’s sessions and tokens)',
      params: UserParams,
      body: Strict({ password: Password, currentPassword: Type.Optional(Password) }),
      response: { 204: Type.Null(), ...errors(400, 401, 403, 404) },
    },
    handler: async (request, reply) => {
      const principal = principalOf(request);
      const ref = request.params.user;
      // Refused before the lookup, so a non-admin cannot tell which other users exist.
      if (principal.role !== 'admin' && ref !== principal.userId && ref !== principal.username)
        throw new LabvirtError('FORBIDDEN', { role: principal.role });
      const user = await findUser(ctx.db, ref);
      if (user.id === principal.userId) {
        const current = request.body.currentPassword;
        if (current === undefined)
          throw new LabvirtError(
            'FIELD_REQUIRED',
            { field: 'currentPassword' },
            { field: 'currentPassword' },
          );
        if (!(await verifyPassword(current, user.password_hash)))
          throw new LabvirtError('PASSWORD_WRONG', {}, { field: 'currentPassword' });
      }
      await setPassword(ctx.db, actorOf(request), user.id, request.body.password, ctx.now());
      return reply.code(204).send(null);
    },
  });

  r.delete('/users/:user', {
    config: { auth: rule.admin },
    schema: {
      tags,
      summary: 'Delete a user',
      params: UserParams,
      response: { 204: Type.Null(), ...errors(401, 403, 404, 409) },
    },
    handler: async (request, reply) => {
      await deleteUser(ctx.db, actorOf(request), request.params.user, ctx.now());
      return reply.code(204).send(null);
    },
  });
}
