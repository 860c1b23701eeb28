// Logging in and out (web sessions), API tokens for the CLI and scripts, and "me".
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LabvirtError } from '../../domain/errors.js';
import { SESSION_COOKIE, SESSION_LIFETIME_MS } from '../auth/principal.js';
import { rule } from '../auth/rules.js';
import { actorOf, type RouteContext } from '../context.js';
import { errors, Language, Name, Nullable, Password, Ref, Strict, Username } from '../schemas.js';
import { audit, type Actor } from '../services/audit.js';
import type { User } from '../../db/schema.js';
import { checkCredentials, createToken, openSession } from '../services/credentials.js';
import { showUser, updateUser } from '../services/users.js';
import { principalOf } from '../auth/principal.js';

const Credentials = { username: Username, password: Password };

/** What a login answers (with the session cookie): also the answer to a sign-in link. */
const LoginAnswer = Type.Object({
  user: Type.Ref('User'),
  csrfToken: Type.String(),
  expiresAt: Type.String(),
});

/** The user who just proved who they are, as the actor of what the login creates. */
function actorFor(request: FastifyRequest, user: User): Actor {
  return {
    principal: {
      userId: user.id,
      username: user.username,
      role: user.role,
      language: user.language,
      via: 'token',
    },
    source: request.ip,
  };
}

export function authRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['authentication'];

  /** Checks a user name and password, counting failures per address and per name. */
  async function login(request: FastifyRequest, username: string, password: string) {
    const wait = ctx.loginLimiter.retryAfter(request.ip, username);
    if (wait > 0) throw new LabvirtError('LOGIN_RATE_LIMITED', { seconds: wait });
    const user = await checkCredentials(ctx.db, username, password);
    if (user === undefined) {
      ctx.loginLimiter.fail(request.ip, username);
      throw new LabvirtError('LOGIN_FAILED');
    }
    ctx.loginLimiter.succeed(request.ip, username);
    return user;
  }

  /** Opens a web session for a user who proved who they are: the cookie, and the login's answer. */
  async function signIn(request: FastifyRequest, reply: FastifyReply, user: User) {
    const session = await openSession(ctx.db, actorFor(request, user), user, ctx.now());
    reply.setCookie(SESSION_COOKIE, session.secret, {
      httpOnly: true,
      sameSite: 'strict',
      secure: ctx.secureCookies,
      path: '/',
      maxAge: SESSION_LIFETIME_MS / 1000,
    });
    return {
      user: await showUser(ctx.db, user.id),
      csrfToken: session.csrfToken,
      expiresAt: session.expiresAt.toISOString(),
    };
  }

  r.post('/auth/login', {
    config: { auth: rule.public },
    schema: {
      tags,
      summary: 'Log in: sets the session cookie and returns the CSRF token to send with changes',
      body: Strict(Credentials),
      response: { 200: LoginAnswer, ...errors(400, 401, 429) },
    },
    handler: async (request, reply) => {
      const user = await login(request, request.body.username, request.body.password);
      return signIn(request, reply, user);
    },
  });

  r.post('/auth/link', {
    config: { auth: rule.public },
    schema: {
      tags,
      summary:
        'Log in with a one-time sign-in link’s token (labvirt server --demo prints one): as /auth/login',
      body: Strict({ token: Type.String({ minLength: 1, maxLength: 256 }) }),
      response: { 200: LoginAnswer, ...errors(400, 401, 429) },
    },
    handler: async (request, reply) => {
      // Failures count per source address, as wrong passwords do (the token names no user).
      const key = `sign-in link from ${request.ip}`;
      const wait = ctx.loginLimiter.retryAfter(request.ip, key);
      if (wait > 0) throw new LabvirtError('LOGIN_RATE_LIMITED', { seconds: wait });
      const userId = ctx.signInLinks.take(request.body.token);
      const user =
        userId === undefined
          ? undefined
          : await ctx.db
              .selectFrom('users')
              .selectAll()
              .where('id', '=', userId)
              .executeTakeFirst();
      if (user === undefined || user.disabled !== 0) {
        ctx.loginLimiter.fail(request.ip, key);
        throw new LabvirtError('SIGN_IN_LINK_INVALID');
      }
      return signIn(request, reply, user);
    },
  });

  r.get('/auth/session', {
    config: { auth: rule.viewer },
    schema: {
      tags,
      summary:
        'Who I am and the CSRF token of my session (null with an API token): the web console starts here',
      response: {
        200: Type.Object({ user: Type.Ref('User'), csrfToken: Nullable(Type.String()) }),
        ...errors(401),
      },
    },
    handler: async (request) => {
      const principal = principalOf(request);
      return {
        user: await showUser(ctx.db, principal.userId),
        csrfToken: principal.via === 'session' ? (principal.csrfToken ?? null) : null,
      };
    },
  });

  r.post('/auth/logout', {
    config: { auth: rule.viewer },
    schema: {
      tags,
      summary: 'End this session (or revoke the API token used)',
      response: { 204: Type.Null(), ...errors(401, 403) },
    },
    handler: async (request, reply) => {
      const principal = principalOf(request);
      // Ends what the caller used: the session, or the API token (the summary promises both).
      await ctx.db.transaction().execute(async (tx) => {
        if (principal.sessionId !== undefined)
          await tx.deleteFrom('web_sessions').where('id', '=', principal.sessionId).execute();
        if (principal.tokenId !== undefined)
          await tx.deleteFrom('api_tokens').where('id', '=', principal.tokenId).execute();
        await audit(
          tx,
          actorOf(request),
          {
            action: principal.via === 'session' ? 'session.close' : 'token.revoke',
            targetType: 'user',
            targetId: principal.userId,
          },
          ctx.now(),
        );
      });
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.code(204).send(null);
    },
  });

  r.get('/auth/me', {
    config: { auth: rule.viewer },
    schema: { tags, summary: 'Who I am', response: { 200: Type.Ref('User'), ...errors(401) } },
    handler: (request) => showUser(ctx.db, principalOf(request).userId),
  });

  r.patch('/auth/me', {
    config: { auth: rule.viewer },
    schema: {
      tags,
      summary: 'Change my preferences',
      body: Strict({ language: Nullable(Language) }),
      response: { 200: Type.Ref('User'), ...errors(400, 401, 403) },
    },
    handler: (request) =>
      updateUser(
        ctx.db,
        actorOf(request),
        principalOf(request).userId,
        { language: request.body.language },
        ctx.now(),
      ),
  });

  r.post('/auth/tokens', {
    config: { auth: rule.public },
    schema: {
      tags,
      summary: 'Create an API token from a user name and password (labvirt login)',
      body: Strict({ ...Credentials, name: Type.Optional(Name) }),
      response: {
        201: Type.Object({ id: Type.String(), name: Type.String(), token: Type.String() }),
        ...errors(400, 401, 429),
      },
    },
    handler: async (request, reply) => {
      const user = await login(request, request.body.username, request.body.password);
      const actor = actorFor(request, user);
      return reply
        .code(201)
        .send(await createToken(ctx.db, actor, user, request.body.name ?? 'cli', ctx.now()));
    },
  });

  r.get('/auth/tokens', {
    config: { auth: rule.viewer },
    schema: {
      tags,
      summary: 'My API tokens',
      response: {
        200: Type.Array(
          Type.Object({
            id: Type.String(),
            name: Type.String(),
            createdAt: Type.String(),
            lastUsedAt: Nullable(Type.String()),
          }),
        ),
        ...errors(401),
      },
    },
    handler: async (request) => {
      const rows = await ctx.db
        .selectFrom('api_tokens')
        .selectAll()
        .where('user_id', '=', principalOf(request).userId)
        .orderBy('created_at')
        .execute();
      return rows.map((row) => ({
        id: row.id,
        name: row.name,
        createdAt: row.created_at,
        lastUsedAt: row.last_used_at,
      }));
    },
  });

  r.delete('/auth/tokens/:token', {
    config: { auth: rule.viewer },
    schema: {
      tags,
      summary: 'Revoke one of my API tokens (admins: anyone’s)',
      params: Strict({ token: Ref }),
      response: { 204: Type.Null(), ...errors(401, 403, 404) },
    },
    handler: async (request, reply) => {
      const principal = principalOf(request);
      const token = await ctx.db
        .selectFrom('api_tokens')
        .select(['id', 'user_id'])
        .where('id', '=', request.params.token)
        .executeTakeFirst();
      if (
        token === undefined ||
        (token.user_id !== principal.userId && principal.role !== 'admin')
      ) {
        throw new LabvirtError('TOKEN_NOT_FOUND', { token: request.params.token });
      }
      await ctx.db.transaction().execute(async (tx) => {
        await tx.deleteFrom('api_tokens').where('id', '=', token.id).execute();
        await audit(
          tx,
          actorOf(request),
          { action: 'token.revoke', targetType: 'user', targetId: token.user_id },
          ctx.now(),
        );
      });
      return reply.code(204).send(null);
    },
  });
}
