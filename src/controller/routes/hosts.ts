// Hosts (the machines that run VMs): adding (a join token for the agent), removing,
// draining and their placement settings; their recent use, and health. Their VMs are in
// vms.ts; what agents call is in agent.ts.
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { LabvirtError } from '../../domain/errors.js';
import type { Host } from '../../db/schema.js';
import { rule } from '../auth/rules.js';
import { actorOf, type RouteContext } from '../context.js';
import { errors, Nullable, Ref, Strict } from '../schemas.js';
import { VERSION } from '../version.js';
import type { HostMetrics } from '../services/host-metrics.js';
import { addHost, joinCommand } from '../services/host-enrolment.js';
import { findHost, removeHost, updateHost } from '../services/hosts.js';

const HostUsageSchema = Type.Object(
  {
    at: Type.String(),
    cpuPercent: Type.Number({ description: 'busy share of all CPUs since the previous sample' }),
    memoryUsedMiB: Type.Integer(),
    memoryTotalMiB: Type.Integer(),
    diskUsedMiB: Type.Integer({ description: 'the file system of the agent’s data' }),
    diskTotalMiB: Type.Integer(),
    vms: Type.Integer({ description: 'VMs the agent runs' }),
    netRxBytes: Type.Optional(
      Type.Number({ description: 'bytes received by the host’s interfaces (not loopback)' }),
    ),
    netTxBytes: Type.Optional(Type.Number({ description: 'bytes sent, likewise' })),
    vmUsage: Type.Optional(
      Type.Array(
        Type.Object({
          name: Type.String(),
          cpuPercent: Type.Number({ description: 'share of one CPU, up to 100 per vCPU' }),
          memoryMiB: Type.Number(),
        }),
      ),
    ),
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
    maintenance: Type.Boolean({ description: 'drained: no new VMs; running ones finish' }),
    cpuRatio: Type.Number({ description: 'vCPUs of VMs per CPU of the host placement allows' }),
    sharedStore: Type.Boolean({
      description: 'its image store is the controller’s (nothing is copied to it)',
    }),
    pending: Type.Boolean({ description: 'added, waiting for its agent to join' }),
    joinExpiresAt: Nullable(
      Type.String({ description: 'a pending host: when its join token expires' }),
    ),
  },
  { $id: 'Host' },
);

const CpuRatio = Type.Number({
  minimum: 0.1,
  maximum: 64,
  description: 'vCPUs of VMs per CPU of the host (default 4)',
});

const HostAdded = Type.Object({
  host: Type.Ref('Host'),
  joinToken: Type.String({ description: 'one-time, valid for an hour; shown only now' }),
  joinCommand: Type.String({ description: 'what to run on the new host' }),
  expiresAt: Type.String(),
});

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
    maintenance: host.maintenance === 1,
    cpuRatio: host.cpu_ratio,
    sharedStore: host.shared_store === 1,
    pending: host.state === 'pending',
    joinExpiresAt: host.state === 'pending' ? host.join_expires_at : null,
  };
}

/** The controller's URL as the caller reached it (what the new host's agent joins). */
function originOf(request: FastifyRequest): string {
  try {
    return new URL(`${request.protocol}://${request.host}`).origin;
  } catch {
    return `${request.protocol}://localhost`;
  }
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
    handler: async (request) => view(await findHost(ctx.db, request.params.host)),
  });

  r.post('/hosts', {
    config: { auth: rule.admin },
    schema: {
      tags: ['hosts'],
      summary: 'Add a host: a pending host and the one-time command that enrols its agent',
      body: Strict({
        name: Type.String({
          minLength: 1,
          maxLength: 255,
          description: '1-63 letters, digits, "." or "-"',
        }),
        cpuRatio: Type.Optional(CpuRatio),
        sharedStore: Type.Optional(Type.Boolean()),
      }),
      response: { 201: HostAdded, ...errors(400, 401, 403, 409) },
    },
    handler: async (request, reply) => {
      const added = await addHost(
        ctx.db,
        actorOf(request),
        request.body,
        ctx.controllerCertSha256,
        ctx.now(),
      );
      return reply.code(201).send({
        host: view(added.host),
        joinToken: added.joinToken,
        joinCommand: joinCommand(originOf(request), added.joinToken, added.host.name),
        expiresAt: added.expiresAt,
      });
    },
  });

  r.patch('/hosts/:host', {
    config: { auth: rule.admin },
    schema: {
      tags: ['hosts'],
      summary: 'Drain or undrain a host, or change its placement settings and monitoring link',
      params: Strict({ host: Ref }),
      body: Strict({
        maintenance: Type.Optional(
          Type.Boolean({ description: 'drained: no new VMs; running ones finish' }),
        ),
        cpuRatio: Type.Optional(CpuRatio),
        monitoringUrl: Type.Optional(
          Nullable(
            Type.String({
              minLength: 1,
              maxLength: 2048,
              description: 'an http(s) link to the host’s page in Munin, Grafana…',
            }),
          ),
        ),
        sharedStore: Type.Optional(Type.Boolean()),
      }),
      response: { 200: Type.Ref('Host'), ...errors(400, 401, 403, 404) },
    },
    handler: async (request) =>
      view(
        await updateHost(ctx.db, actorOf(request), request.params.host, request.body, ctx.now()),
      ),
  });

  r.delete('/hosts/:host', {
    config: { auth: rule.admin },
    schema: {
      tags: ['hosts'],
      summary: 'Remove a host (none of its VMs may run): its agent is refused from then on',
      params: Strict({ host: Ref }),
      response: { 204: Type.Null(), ...errors(401, 403, 404, 409) },
    },
    handler: async (request, reply) => {
      await removeHost(ctx.db, actorOf(request), request.params.host, ctx.now());
      return reply.code(204).send(null);
    },
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
      const host = await findHost(ctx.db, request.params.host);
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
