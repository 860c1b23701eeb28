// GET /i18n/:locale: the gettext catalogue the web console translates with. Stub.
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../context.js';

export function i18nRoutes(_app: FastifyInstance, _ctx: RouteContext): void {}
