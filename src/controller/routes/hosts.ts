// Hosts (the machines that run VMs), their recent use, and health. Their VMs are in vms.ts.
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { LabvirtError } from '../../domain/errors.js';
import type { Host } from '../../db/schema.js';
import { rule } from '../auth/rules.js';
import type { RouteContext } from '../context.js';
import { errors, Nullable, Ref, Strict } from '../schemas.js';
import { VERSION } from '../version.js';
import type { HostMetrics } from '../services/host-metrics.js';

const HostUsageSchema = Type.Object(
  {
    at: Type.String(),
    cpuPercent: Type.Number({ description: 'busy share of all CPUs since the previous sample' }),
    memoryUsedMiB: Type.Integer(),
    memoryTotalMiB: Type.Integer(),
    diskUsedMiB: Type.Integer({ description: 'the file system of the agent’s data' }),
    diskTotalMiB: Type.Integer(),
    vms: Type.Integer({ description: 'VMs the agent runs' }),
  },
  { $id: 'HostUsage' },
);

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
    usage: Nullable(Type.Ref('HostUsage')),
  },
  { $id: 'Host' },
);

function hostView(host: Host, metrics: HostMetrics) {
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
    usage: metrics.latest(host.id),
  };
}

async function findHost(ctx: RouteContext, ref: string): Promise<Host> {
  const host = await ctx.db
    .selectFrom('hosts')
    .selectAll()
    .where((eb) => eb.or([eb('id', '=', ref), eb('name', '=', ref)]))
    .executeTakeFirst();
  if (host === undefined) throw new LabvirtError('HOST_NOT_FOUND', { host: ref });
  return host;
}

export function hostRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.addSchema(HostUsageSchema);
  r.addSchema(HostSchema);
  const view = (host: Host) => hostView(host, ctx.metrics);

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
    handler: async (request) => view(await findHost(ctx, request.params.host)),
  });

  r.get('/hosts/:host/metrics', {
    config: { auth: rule.viewer },
    schema: {
      tags: ['hosts'],
      summary: 'A host’s use over the last hour (kept in memory: a restart forgets it)',
      params: Strict({ host: Ref }),
      response: {
        200: Type.Object({
          host: Type.String(),
          intervalSeconds: Type.Integer(),
          samples: Type.Array(Type.Ref('HostUsage'), { description: 'oldest first' }),
        }),
        ...errors(401, 404),
      },
    },
    handler: async (request) => {
      const host = await findHost(ctx, request.params.host);
      return {
        host: host.id,
        intervalSeconds: Math.round(ctx.metrics.intervalMs / 1000),
        samples: ctx.metrics.samples(host.id),
      };
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
