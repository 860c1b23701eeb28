import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { LabvirtError } from '../../domain/errors.js';
import { assertLabAccess } from '../auth/plugin.js';
import { principalOf } from '../auth/principal.js';
import { rule } from '../auth/rules.js';
import { actorOf, type RouteContext } from '../context.js';
import { errors, Mac, Name, Nullable, Ref, Strict } from '../schemas.js';
import {
  addTerminal,
  enrolTerminal,
  labOfTerminal,
  listTerminals,
  removeTerminal,
  showTerminal,
  updateTerminal,
} from '../services/terminals.js';

const TerminalState = Type.Union([
  Type.Literal('pending'),
  Type.Literal('enrolled'),
  Type.Literal('disabled'),
]);
const Terminal = Type.Object(
  {
    id: Type.String(),
    mac: Type.String(),
    name: Type.String(),
    lab: Nullable(Type.String()),
    state: TerminalState,
    ip: Nullable(Type.String({ description: 'the address it is registered by' })),
    lastIp: Nullable(Type.String({ description: 'the address it last asked from' })),
    address: Nullable(
      Type.String({ description: 'the address its VM is given by DHCP, from its lab’s pool' }),
    ),
    vmMac: Type.String({ description: 'the MAC of its VM, the same every session' }),
    lastSeenAt: Nullable(Type.String()),
    createdAt: Type.String(),
  },
  { $id: 'Terminal' },
);
const TerminalParams = Strict({ terminal: Ref });
const Ip = Type.String({
  minLength: 2,
  maxLength: 45,
  description: 'an IP address the terminal may ask from without its MAC, e.g. 10.1.2.3',
});

export function terminalRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.addSchema(Terminal);
  const tags = ['terminals'];
  // The terminal's lab; for a pending terminal, the lab it is being enrolled into.
  const ofTerminal = rule.lab(async (request) => {
    const lab = await labOfTerminal(ctx.db, (request.params as { terminal: string }).terminal);
    return lab ?? (request.body as { lab?: string | null } | undefined)?.lab ?? undefined;
  });

  r.get('/terminals', {
    config: { auth: rule.viewer },
    schema: {
      tags,
      summary: 'List terminals',
      querystring: Strict({ lab: Type.Optional(Ref), state: Type.Optional(TerminalState) }),
      response: { 200: Type.Array(Type.Ref('Terminal')), ...errors(400, 401, 404) },
    },
    handler: (request) => listTerminals(ctx.db, request.query),
  });

  r.post('/terminals', {
    config: { auth: rule.lab((request) => (request.body as { lab: string }).lab) },
    schema: {
      tags,
      summary: 'Enrol a terminal into a lab',
      body: Strict({
        mac: Mac,
        lab: Ref,
        name: Type.Optional(Name),
        ip: Type.Optional(Nullable(Ip)),
      }),
      response: { 201: Type.Ref('Terminal'), ...errors(400, 401, 403, 404, 409) },
    },
    handler: async (request, reply) => {
      const added = await addTerminal(ctx.db, actorOf(request), request.body, ctx.now());
      await ctx.dhcp.push();
      return reply.code(201).send(added);
    },
  });

  r.get('/terminals/:terminal', {
    config: { auth: rule.viewer },
    schema: {
      tags,
      summary: 'Show a terminal (by id or MAC)',
      params: TerminalParams,
      response: { 200: Type.Ref('Terminal'), ...errors(401, 404) },
    },
    handler: (request) => showTerminal(ctx.db, request.params.terminal),
  });

  r.patch('/terminals/:terminal', {
    config: { auth: ofTerminal },
    schema: {
      tags,
      summary: 'Move, rename, enable or disable a terminal, or set its registered address',
      params: TerminalParams,
      body: Strict({
        lab: Type.Optional(Nullable(Ref)),
        name: Type.Optional(Name),
        enabled: Type.Optional(Type.Boolean()),
        ip: Type.Optional(Nullable(Ip)),
      }),
      response: { 200: Type.Ref('Terminal'), ...errors(400, 401, 403, 404, 409) },
    },
    handler: async (request) => {
      const target = request.body.lab;
      // Moving into a lab needs the right to that lab too; un-enrolling is for admins.
      if (target === null && principalOf(request).role !== 'admin')
        throw new LabvirtError('FORBIDDEN', { role: principalOf(request).role });
      if (typeof target === 'string') await assertLabAccess(ctx.db, request, target);
      const updated = await updateTerminal(
        ctx.db,
        actorOf(request),
        request.params.terminal,
        request.body,
        ctx.now(),
      );
      // A move changes its address; a rename its host name.
      if (target !== undefined || request.body.name !== undefined) await ctx.dhcp.push();
      return updated;
    },
  });

  r.post('/terminals/:terminal/enrol', {
    // The lab it is enrolled into: an operator may enrol a pending terminal into their lab.
    config: { auth: rule.lab((request) => (request.body as { lab: string }).lab) },
    schema: {
      tags,
      summary: 'Enrol a pending terminal into a lab',
      params: TerminalParams,
      body: Strict({ lab: Ref, name: Type.Optional(Name) }),
      response: { 200: Type.Ref('Terminal'), ...errors(400, 401, 403, 404, 409) },
    },
    handler: async (request) => {
      const enrolled = await enrolTerminal(
        ctx.db,
        actorOf(request),
        request.params.terminal,
        request.body,
        ctx.now(),
      );
      await ctx.dhcp.push();
      return enrolled;
    },
  });

  r.delete('/terminals/:terminal', {
    config: { auth: ofTerminal },
    schema: {
      tags,
      summary: 'Remove a terminal',
      params: TerminalParams,
      response: { 204: Type.Null(), ...errors(401, 403, 404) },
    },
    handler: async (request, reply) => {
      await removeTerminal(ctx.db, actorOf(request), request.params.terminal, ctx.now());
      await ctx.dhcp.push();
      return reply.code(204).send(null);
    },
  });
}
