// The audit log, for admins: newest first, paged with `before`, filtered by who, what,
// which target and when.
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { rule } from '../auth/rules.js';
import type { RouteContext } from '../context.js';
import { errors, Nullable, Ref, Strict } from '../schemas.js';

const AuditEvent = Type.Object(
  {
    id: Type.Integer(),
    at: Type.String(),
    actor: Type.String({ description: 'the user name, or "system"' }),
    source: Nullable(Type.String({ description: 'the client address' })),
    action: Type.String({ description: 'e.g. lab.create, terminal.update, session.open' }),
    targetType: Nullable(Type.String()),
    targetId: Nullable(Type.String()),
    details: Type.Unknown(),
  },
  { $id: 'AuditEvent' },
);

const Query = Strict({
  limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$', description: 'at most 1000' })),
  before: Type.Optional(
    Type.String({ pattern: '^[0-9]{1,12}$', description: 'events older than this id' }),
  ),
  actor: Type.Optional(Ref),
  action: Type.Optional(Ref),
  targetType: Type.Optional(Ref),
  targetId: Type.Optional(Ref),
  since: Type.Optional(Type.String({ format: 'date-time', description: 'at or after' })),
  until: Type.Optional(Type.String({ format: 'date-time', description: 'before' })),
});

/** Timestamps are stored as UTC ISO strings, which compare correctly as text. */
const iso = (value: string) => new Date(value).toISOString();

export function auditRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.addSchema(AuditEvent);

  r.get('/audit', {
    config: { auth: rule.admin },
    schema: {
      tags: ['audit'],
      summary: 'The audit log, newest first',
      querystring: Query,
      response: { 200: Type.Array(Type.Ref('AuditEvent')), ...errors(400, 401, 403) },
    },
    handler: async (request) => {
      const q = request.query;
      let query = ctx.db
        .selectFrom('audit_events')
        .selectAll()
        .orderBy('id', 'desc')
        .limit(Math.min(Number(q.limit ?? 100), 1000));
      if (q.before !== undefined) query = query.where('id', '<', Number(q.before));
      if (q.actor !== undefined) query = query.where('actor_name', '=', q.actor);
      if (q.action !== undefined) query = query.where('action', '=', q.action);
      if (q.targetType !== undefined) query = query.where('target_type', '=', q.targetType);
      if (q.targetId !== undefined) query = query.where('target_id', '=', q.targetId);
      if (q.since !== undefined) query = query.where('at', '>=', iso(q.since));
      if (q.until !== undefined) query = query.where('at', '<', iso(q.until));
      return (await query.execute()).map((event) => ({
        id: event.id,
        at: event.at,
        actor: event.actor_name,
        source: event.source_ip,
        action: event.action,
        targetType: event.target_type,
        targetId: event.target_id,
        details: JSON.parse(event.details) as unknown,
      }));
    },
  });
}
