// VMs of profiles: list, show, start a client VM, stop, reset, and the serial console.
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { LabvirtError } from '../../domain/errors.js';
import { vmStates } from '../../domain/vm-lifecycle.js';
import { rule } from '../auth/rules.js';
import { actorOf, type RouteContext } from '../context.js';
import { errors, Nullable, Ref, Strict } from '../schemas.js';

const VmSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    kind: Type.String(),
    profileId: Nullable(Type.String()),
    profile: Nullable(Type.String()),
    versionId: Nullable(Type.String()),
    host: Nullable(Type.String()),
    state: Type.String(),
    mac: Type.String(),
    terminal: Nullable(Type.String({ description: 'the MAC of the terminal it serves' })),
    pid: Nullable(Type.Integer()),
    runStatus: Nullable(Type.String()),
    connections: Type.Array(
      Type.Object({
        peer: Type.String(),
        since: Type.String(),
        via: Type.Union(
          [Type.Literal('gateway'), Type.Literal('display'), Type.Literal('conntrack')],
          {
            description:
              "how the host knows: its gateway relays it, QEMU's display client list, or connection tracking",
          },
        ),
        bytesIn: Type.Optional(Type.Integer({ description: 'gateway: bytes from the terminal' })),
        bytesOut: Type.Optional(Type.Integer({ description: 'gateway: bytes to the terminal' })),
      }),
      { description: 'who is connected to its display or guest port now' },
    ),
    createdAt: Type.String(),
    updatedAt: Type.String(),
  },
  { $id: 'Vm' },
);
const VmParams = Strict({ vm: Ref });
const StateFilter = Type.Union(
  [...vmStates, 'active', 'ended'].map((state) => Type.Literal(state)),
  { description: 'a state, or active (starting, running, stopping) or ended' },
);
const KindFilter = Type.Union([Type.Literal('client'), Type.Literal('admin')]);

export function vmRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.addSchema(VmSchema);
  const tags = ['vms'];

  r.get('/vms', {
    config: { auth: rule.viewer },
    schema: {
      tags,
      summary: 'List VMs (ended ones too, unless filtered)',
      querystring: Strict({
        profile: Type.Optional(Ref),
        state: Type.Optional(StateFilter),
        kind: Type.Optional(KindFilter),
      }),
      response: { 200: Type.Array(Type.Ref('Vm')), ...errors(400, 401, 404) },
    },
    handler: async (request) => ctx.vms.list(request.query),
  });

  r.post('/vms', {
    config: { auth: rule.operator },
    schema: {
      tags,
      summary: 'Start a client VM of a profile’s published version',
      body: Strict({ profile: Ref }),
      response: { 201: Type.Ref('Vm'), ...errors(400, 401, 403, 404, 409, 503, 507) },
    },
    handler: async (request, reply) =>
      reply.code(201).send(await ctx.vms.startClient(request.body.profile, actorOf(request))),
  });

  r.get('/vms/:vm', {
    config: { auth: rule.viewer },
    schema: {
      tags,
      summary: 'Show a VM',
      params: VmParams,
      response: { 200: Type.Ref('Vm'), ...errors(401, 404) },
    },
    handler: async (request) => ctx.vms.view(request.params.vm),
  });

  r.post('/vms/:vm/stop', {
    config: { auth: rule.operator },
    schema: {
      tags,
      summary: 'Stop a VM (power button, then quit, then kill); answers once it ended',
      params: VmParams,
      body: Type.Optional(
        Strict({
          force: Type.Optional(Type.Boolean({ description: 'skip the power button' })),
        }),
      ),
      response: { 200: Type.Ref('Vm'), ...errors(400, 401, 403, 404, 409) },
    },
    handler: async (request) => {
      const row = await ctx.vms.find(request.params.vm);
      // The administrative VM belongs to an admin session: administrators only.
      if (row.kind === 'admin' && request.principal?.role !== 'admin') {
        throw new LabvirtError('FORBIDDEN', { role: request.principal?.role ?? '' });
      }
      return ctx.vms.stop(row.id, actorOf(request), { force: request.body?.force === true });
    },
  });

  r.post('/vms/:vm/reset', {
    config: { auth: rule.operator },
    schema: {
      tags,
      summary: 'Reset a running VM (its reset button): the guest boots again, its disks kept',
      params: VmParams,
      body: Type.Optional(Strict({})),
      response: { 200: Type.Ref('Vm'), ...errors(400, 401, 403, 404, 409) },
    },
    handler: async (request) => {
      const row = await ctx.vms.find(request.params.vm);
      if (row.kind === 'admin' && request.principal?.role !== 'admin') {
        throw new LabvirtError('FORBIDDEN', { role: request.principal?.role ?? '' });
      }
      return ctx.vms.reset(row.id, actorOf(request));
    },
  });

  r.get('/vms/:vm/serial', {
    config: { auth: rule.viewer },
    schema: {
      tags,
      summary: 'What the VM wrote to its serial console (its end, for long logs)',
      params: VmParams,
      response: {
        200: {
          description: 'The serial console text',
          content: { 'text/plain': { schema: Type.String() } },
        },
        ...errors(401, 404),
      },
    },
    handler: async (request, reply) =>
      reply.type('text/plain; charset=utf-8').send(await ctx.vms.serial(request.params.vm)),
  });
}
