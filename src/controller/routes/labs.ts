import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { rule } from '../auth/rules.js';
import { actorOf, type RouteContext } from '../context.js';
import { Description, errors, Name, Nullable, Ref, Strict } from '../schemas.js';
import { createLab, deleteLab, findLab, listLabs, showLab, updateLab } from '../services/labs.js';
import { setLabProfiles, setTimetable, showTimetable } from '../services/lab-timetable.js';
import { setLabSubnets } from '../services/lab-subnets.js';
import { setAddressPool } from '../services/lab-addresses.js';

const Lab = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    description: Type.String(),
    timezone: Type.String(),
    defaultProfile: Nullable(Type.String()),
    idleMinutes: Nullable(Type.Integer()),
    profiles: Type.Array(Type.String()),
    outsideSlots: Type.Union([Type.Literal('default'), Type.Literal('closed')]),
    subnets: Type.Array(Type.String()),
    addressPool: Nullable(
      Type.String({
        description: 'the IPv4 range its terminals’ VMs get DHCP addresses from, FIRST-LAST',
      }),
    ),
    placement: Type.Union([Type.Literal('spread'), Type.Literal('pack')], {
      description: 'how its VMs are placed: spread over hosts, or packed onto few',
    }),
    terminals: Type.Integer(),
    createdAt: Type.String(),
    updatedAt: Type.String(),
  },
  { $id: 'Lab' },
);

const Outside = Type.Union([Type.Literal('default'), Type.Literal('closed')], {
  description: 'outside the slots: the default profile, or no VM at all',
});
const Timetable = Type.Object(
  {
    lab: Type.String(),
    timezone: Type.String(),
    defaultProfile: Nullable(Type.String()),
    outside: Outside,
    slots: Type.Array(
      Type.Object({
        text: Type.String(),
        days: Type.Array(Type.String()),
        start: Type.String(),
        end: Type.String(),
        profile: Type.String(),
      }),
    ),
    now: Type.Union([
      Type.Object({
        state: Type.Literal('open'),
        profile: Type.String(),
        slot: Nullable(Type.String()),
        until: Nullable(Type.String()),
      }),
      Type.Object({
        state: Type.Literal('closed'),
        reason: Type.String(),
        opensAt: Nullable(Type.String()),
      }),
    ]),
  },
  { $id: 'LabTimetable' },
);
const LabStart = Type.Object({
  started: Type.Integer(),
  running: Type.Integer(),
  failed: Type.Array(Type.Object({ terminal: Type.String(), reason: Type.String() })),
});
const LabStop = Type.Object({ stopped: Type.Integer() });
const Slot = Type.String({
  minLength: 1,
  maxLength: 200,
  description: 'DAYS HH:MM-HH:MM PROFILE, e.g. "mon-fri 08:00-10:00 Windows"',
});
const Cidr = Type.String({ minLength: 1, maxLength: 64, description: 'e.g. 10.1.2.0/24' });
const Pool = Type.String({
  minLength: 1,
  maxLength: 64,
  description:
    'an IPv4 range, 10.0.0.10-10.0.0.99, or a subnet, 10.0.0.0/24 (at most 65,536 addresses)',
});

const LabFields = {
  description: Type.Optional(Description),
  timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  idleMinutes: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 1440 }))),
  placement: Type.Optional(
    Type.Union([Type.Literal('spread'), Type.Literal('pack')], {
      description: 'spread its VMs over the hosts (the default) or pack them onto few',
    }),
  ),
};
const LabParams = Strict({ lab: Ref });

export function labRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.addSchema(Lab);
  r.addSchema(Timetable);
  const tags = ['labs'];

  r.get('/labs', {
    config: { auth: rule.viewer },
    schema: {
      tags,
      summary: 'List labs',
      response: { 200: Type.Array(Type.Ref('Lab')), ...errors(401) },
    },
    handler: () => listLabs(ctx.db),
  });

  r.post('/labs', {
    config: { auth: rule.admin },
    schema: {
      tags,
      summary: 'Create a lab',
      body: Strict({ name: Name, ...LabFields }),
      response: { 201: Type.Ref('Lab'), ...errors(400, 401, 403, 409) },
    },
    handler: async (request, reply) =>
      reply.code(201).send(await createLab(ctx.db, actorOf(request), request.body, ctx.now())),
  });

  r.get('/labs/:lab', {
    config: { auth: rule.viewer },
    schema: {
      tags,
      summary: 'Show a lab (by id or name)',
      params: LabParams,
      response: { 200: Type.Ref('Lab'), ...errors(401, 404) },
    },
    handler: (request) => showLab(ctx.db, request.params.lab),
  });

  r.patch('/labs/:lab', {
    config: { auth: rule.admin },
    schema: {
      tags,
      summary: 'Change a lab',
      params: LabParams,
      body: Strict({ name: Type.Optional(Name), ...LabFields }),
      response: { 200: Type.Ref('Lab'), ...errors(400, 401, 403, 404, 409) },
    },
    handler: (request) =>
      updateLab(ctx.db, actorOf(request), request.params.lab, request.body, ctx.now()),
  });

  r.delete('/labs/:lab', {
    config: { auth: rule.admin },
    schema: {
      tags,
      summary: 'Delete a lab (its terminals become pending)',
      params: LabParams,
      response: { 204: Type.Null(), ...errors(401, 403, 404) },
    },
    handler: async (request, reply) => {
      await deleteLab(ctx.db, actorOf(request), request.params.lab, ctx.now());
      await ctx.dhcp.push(); // its terminals' addresses went with it
      return reply.code(204).send(null);
    },
  });

  r.put('/labs/:lab/profiles', {
    config: { auth: rule.admin },
    schema: {
      tags,
      summary: 'Set the profiles a lab may use, and its default one',
      params: LabParams,
      body: Strict({
        profiles: Type.Array(Ref, { maxItems: 100 }),
        default: Type.Optional(Nullable(Ref)),
      }),
      response: { 200: Type.Ref('Lab'), ...errors(400, 401, 403, 404, 409) },
    },
    handler: (request) =>
      setLabProfiles(ctx.db, actorOf(request), request.params.lab, request.body, ctx.now()),
  });

  r.get('/labs/:lab/timetable', {
    config: { auth: rule.viewer },
    schema: {
      tags,
      summary: 'Show a lab’s timetable and what applies now',
      params: LabParams,
      response: { 200: Type.Ref('LabTimetable'), ...errors(401, 404) },
    },
    handler: (request) => showTimetable(ctx.db, request.params.lab, ctx.now()),
  });

  r.put('/labs/:lab/timetable', {
    config: { auth: rule.admin },
    schema: {
      tags,
      summary: 'Replace a lab’s timetable',
      params: LabParams,
      body: Strict({
        slots: Type.Array(Slot, { maxItems: 100 }),
        outside: Type.Optional(Outside),
      }),
      response: { 200: Type.Ref('LabTimetable'), ...errors(400, 401, 403, 404) },
    },
    handler: (request) =>
      setTimetable(ctx.db, actorOf(request), request.params.lab, request.body, ctx.now()),
  });

  r.put('/labs/:lab/subnets', {
    config: { auth: rule.admin },
    schema: {
      tags,
      summary: 'Set the subnets whose unknown terminals are enrolled into the lab',
      params: LabParams,
      body: Strict({ subnets: Type.Array(Cidr, { maxItems: 256 }) }),
      response: { 200: Type.Ref('Lab'), ...errors(400, 401, 403, 404, 409) },
    },
    handler: (request) =>
      setLabSubnets(ctx.db, actorOf(request), request.params.lab, request.body, ctx.now()),
  });

  r.put('/labs/:lab/address-pool', {
    config: { auth: rule.admin },
    schema: {
      tags,
      summary: 'Set or clear the address pool of a lab, giving each of its terminals an address',
      description:
        'Every terminal of the lab gets an address of the pool for its VM (kept when it has one inside the new pool), all at once or none: a pool too small (POOL_EXHAUSTED) or overlapping another lab’s (POOL_OVERLAP) changes nothing. null clears the pool and its addresses. The agents’ DHCP servers are told.',
      params: LabParams,
      body: Strict({ pool: Nullable(Pool) }),
      response: { 200: Type.Ref('Lab'), ...errors(400, 401, 403, 404, 409) },
    },
    handler: async (request) => {
      const lab = await setAddressPool(
        ctx.db,
        actorOf(request),
        request.params.lab,
        request.body,
        ctx.now(),
      );
      await ctx.dhcp.push();
      return lab;
    },
  });

  const ofLab = rule.lab((request) => (request.params as { lab: string }).lab);

  r.post('/labs/:lab/start', {
    config: { auth: ofLab },
    schema: {
      tags,
      summary: 'Start a VM for every enrolled terminal of the lab that has none',
      params: LabParams,
      body: Type.Optional(Strict({})),
      response: { 200: LabStart, ...errors(400, 401, 403, 404) },
    },
    handler: async (request) => {
      const lab = await findLab(ctx.db, request.params.lab);
      const result = await ctx.terminalVms.startLab(lab.id, actorOf(request));
      return { ...result, failed: [...result.failed] };
    },
  });

  r.post('/labs/:lab/stop', {
    config: { auth: ofLab },
    schema: {
      tags,
      summary: 'End the VMs of the lab’s terminals (their writes are discarded)',
      params: LabParams,
      body: Type.Optional(Strict({})),
      response: { 200: LabStop, ...errors(400, 401, 403, 404) },
    },
    handler: async (request) => {
      const lab = await findLab(ctx.db, request.params.lab);
      return ctx.terminalVms.stopLab(lab.id, actorOf(request));
    },
  });
}
