// What route modules get from the app: the database, the clock, and helpers to act on
// behalf of the caller.
import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { Actor } from './services/audit.js';
import type { HostAgent } from '../agent/host-agent.js';
import type { LoginLimiter } from './auth/login-limiter.js';

export interface RouteContext {
  readonly db: Kysely<Database>;
  readonly now: () => Date;
  readonly agents: readonly HostAgent[];
  readonly secureCookies: boolean;
  readonly loginLimiter: LoginLimiter;
}

export function actorOf(request: FastifyRequest): Actor {
  return { principal: request.principal, source: request.ip };
}
