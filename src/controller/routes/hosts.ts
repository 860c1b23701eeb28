// Hosts (the machines that run VMs) and health. Their VMs are in vms.ts.
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { LabvirtError } from '../../domain/errors.js';
import type { Host } from '../../db/schema.js';
import { rule } from '../auth/rules.js';
import type { RouteContext } from '../context.js';
import { errors, Nullable, Ref, Strict } from '../schemas.js';
import { VERSION } from '../version.js';

const HostSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    address: Type.String(),
    local: Type.Boolean(),
    state: Type.String(),
    stateReason: Nullable(Type.String()),
    cpus: Nullable(Type.Integer()),
    memoryMiB: Nullable(Type.Integer()),
    monitoringUrl: Nullable(Type.String()),
    lastSeenAt: Nullable(Type.String()),
  },
  { $id: 'Host' },
);

function view(host: Host) {
  return {
    id: host.id,
    name: host.name,
    address: host.address,
    local: host.is_local === 1,
    state: host.state,
    stateReason: host.state_reason,
    cpus: host.cpus,
    memoryMiB: host.memory_mib,
    monitoringUrl: host.monitoring_url,
    lastSeenAt: host.last_seen_at,
  };
}

export function hostRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.addSchema(HostSchema);

  r.get('/hosts', {
    config: { auth: rule.viewer },
    schema: {
      tags: ['hosts'],
      summary: 'List hosts',
      response: { 200: Type.Array(Type.Ref('Host')), ...errors(401) },
    },
    handler: async () =>
      (await ctx.db.selectFrom('hosts').selectAll().orderBy('name').execute()).map(view),
  });

  r.get('/hosts/:host', {
    config: { auth: rule.viewer },
    schema: {
      tags: ['hosts'],
      summary: 'Show a host',
      params: Strict({ host: Ref }),
      response: { 200: Type.Ref('Host'), ...errors(401, 404) },
    },
    handler: async (request) => {
      const ref = request.params.host;
      const host = await ctx.db
        .selectFrom('hosts')
        .selectAll()
        .where((eb) => eb.or([eb('id', '=', ref), eb('name', '=', ref)]))
        .executeTakeFirst();
      if (host === undefined) throw new LabvirtError('HOST_NOT_FOUND', { host: ref });
      return view(host);
    },
  });

  r.get('/health', {
    config: { auth: rule.public },
    schema: {
      tags: ['health'],
      summary: 'Is the controller up and its database reachable',
      response: {
        200: Type.Object({ status: Type.Literal('ok'), version: Type.String() }),
        ...errors(503),
      },
    },
    handler: async () => {
      // A load balancer asks this: an unreachable database is "unavailable" (503), as
      // documented, not an internal error.
      try {
        await ctx.db.selectFrom('hosts').select('id').limit(1).execute();
      } catch (error) {
        const detail = error instanceof Error ? error.message : String(error);
        throw new LabvirtError('DATABASE_UNAVAILABLE', { detail }, { cause: error });
      }
      return { status: 'ok' as const, version: VERSION };
    },
  });
}
