// GET /events: the live stream of the web console (server-sent events). Stub: filled in by
// the live-events work.
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../context.js';

export function eventRoutes(_app: FastifyInstance, _ctx: RouteContext): void {}
