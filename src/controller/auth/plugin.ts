// Authentication and authorization for every route, from its declared rule:
// onRoute refuses a route without a rule (the app does not start), onRequest finds the
// caller and applies role rules (401/403 before the input is even parsed), preHandler
// applies lab-scoped rules, which may need the validated body.
import type { FastifyInstance, FastifyRequest, FastifySchema } from 'fastify';
import type {} from '@fastify/cookie';
import fp from 'fastify-plugin';
import type { Kysely } from 'kysely';
import { LabvirtError } from '../../domain/errors.js';
import type { Database } from '../../db/schema.js';
import {
  bearerToken,
  principalFromSession,
  principalFromToken,
  SESSION_COOKIE,
} from './principal.js';
import { roleAtLeast, type AuthRule } from './rules.js';
import { hashSecret, sameSecret } from './tokens.js';
import { audit } from '../services/audit.js';
import { redactUrl } from '../log-redaction.js';

export interface RegisteredRoute {
  readonly method: string;
  readonly url: string;
  readonly config: { auth?: AuthRule };
  /** The route's input schemas, so tests can derive bad input for every route. */
  readonly schema: FastifySchema | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    registeredRoutes: readonly RegisteredRoute[];
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface AuthOptions {
  readonly db: Kysely<Database>;
  readonly now: () => Date;
}

/** Whether an operator is granted the lab, named by id or name (one indexed lookup, not the whole grant list). */
async function hasLabGrant(db: Kysely<Database>, userId: string, lab: string): Promise<boolean> {
  const row = await db
    .selectFrom('user_labs')
    .innerJoin('labs', 'labs.id', 'user_labs.lab_id')
    .select('labs.id')
    .where('user_labs.user_id', '=', userId)
    .where((eb) => eb.or([eb('labs.id', '=', lab), eb('labs.name', '=', lab)]))
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * rule.agent: the bearer is an enrolled host's agent secret, and X-Labvirt-Host names that
 * same host. Users' sessions and tokens never pass (nor do agent secrets pass user rules:
 * they are looked up in different tables).
 */
async function authenticateAgent(
  db: Kysely<Database>,
  request: FastifyRequest,
  now: Date,
): Promise<void> {
  const secret = bearerToken(request.headers.authorization);
  const hash = secret === undefined ? undefined : hashSecret(secret);
  const host =
    hash === undefined
      ? undefined
      : await db
          .selectFrom('hosts')
          .select(['id', 'name', 'state', 'agent_secret_hash', 'agent_certificate'])
          .where('agent_secret_hash', '=', hash)
          .executeTakeFirst();
  if (
    hash === undefined ||
    host?.agent_secret_hash == null ||
    !sameSecret(host.agent_secret_hash, hash) ||
    host.state === 'pending' ||
    host.agent_certificate === null
  ) {
    request.log.warn(
      {
        source: request.ip,
        url: redactUrl(request.url),
        credential: secret === undefined ? 'none' : 'unknown',
      },
      'agent credential refused',
    );
    throw new LabvirtError('AGENT_CREDENTIAL_INVALID');
  }
  const header = request.headers['x-labvirt-host'];
  const claimed = (typeof header === 'string' ? header : '').slice(0, 64);
  if (claimed !== host.id) {
    const facts = { enrolled: host.name, hostId: host.id, claimed, source: request.ip };
    request.log.warn(facts, 'agent claimed another host’s identity');
    await audit(
      db,
      { principal: undefined, source: request.ip },
      { action: 'host.identity-refused', targetType: 'host', targetId: host.id, details: facts },
      now,
    );
    throw new LabvirtError('HOST_IDENTITY_MISMATCH', { enrolled: host.name, claimed });
  }
  request.agentHost = { id: host.id, name: host.name };
}

/** For handlers that touch a second lab (moving a terminal): the same check as a 'lab' rule. */
export async function assertLabAccess(
  db: Kysely<Database>,
  request: FastifyRequest,
  lab: string,
): Promise<void> {
  const principal = request.principal;
  if (principal === undefined) throw new LabvirtError('AUTH_REQUIRED');
  if (principal.role === 'admin') return;
  if (principal.role !== 'operator' || !(await hasLabGrant(db, principal.userId, lab))) {
    throw new LabvirtError('LAB_FORBIDDEN', { lab });
  }
}

export const authPlugin = fp<AuthOptions>(async (app: FastifyInstance, options) => {
  const { db, now } = options;
  app.decorateRequest('principal', undefined);
  app.decorateRequest('agentHost', undefined);

  // Checked once every plugin had its say (a wrapper may declare rules for a plugin's
  // routes in its own onRoute hook): a route without a rule stops the app from starting.
  const routes: RegisteredRoute[] = [];
  app.decorate('registeredRoutes', routes);
  app.addHook('onRoute', (route) => {
    route.config ??= {};
    // The OpenAPI document says which operations need no credentials.
    if (route.config.auth?.access === 'public') route.schema = { ...route.schema, security: [] };
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods)
      routes.push({
        method: String(method),
        url: route.url,
        config: route.config,
        schema: route.schema,
      });
  });
  app.addHook('onReady', async () => {
    const missing = routes.filter((route) => route.config.auth === undefined);
    if (missing.length > 0) {
      const list = missing.map((route) => `${route.method} ${route.url}`).join(', ');
      throw new Error(`routes without an authorization rule: ${list}`);
    }
  });

  app.addHook('onRequest', async (request) => {
    const auth: AuthRule | undefined = request.routeOptions.config.auth;
    if (auth?.access === 'agent') return authenticateAgent(db, request, now());
    const token = bearerToken(request.headers.authorization);
    const cookie = request.cookies[SESSION_COOKIE];
    if (token !== undefined) request.principal = await principalFromToken(db, token, now());
    else if (cookie !== undefined)
      request.principal = await principalFromSession(db, cookie, now());
    if (auth === undefined || auth.access === 'public') return;

    const principal = request.principal;
    if (principal === undefined) throw new LabvirtError('AUTH_REQUIRED');
    const minimum = auth.access === 'role' ? auth.role : 'operator';
    if (!roleAtLeast(principal.role, minimum))
      throw new LabvirtError('FORBIDDEN', { role: principal.role });
    // A cookie is sent by the browser on its own; a change also needs the token only our page knows.
    if (principal.via === 'session' && !SAFE_METHODS.has(request.method)) {
      const header = request.headers['x-csrf-token'];
      if (
        typeof header !== 'string' ||
        principal.csrfToken === undefined ||
        !sameSecret(header, principal.csrfToken)
      ) {
        throw new LabvirtError('CSRF_FAILED');
      }
    }
  });

  app.addHook('preHandler', async (request) => {
    const auth = request.routeOptions.config.auth;
    if (auth?.access !== 'lab' || request.principal?.role !== 'operator') return;
    const lab = await auth.lab(request);
    if (lab === undefined) throw new LabvirtError('FORBIDDEN', { role: request.principal.role });
    await assertLabAccess(db, request, lab);
  });
});
