// The agent API's VM routes: each a HostAgent method, its answer as JSON.
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { LabvirtError } from '../../domain/errors.js';
import type { AgentVmSpec, DhcpHost, HostAgent, ImageLayer } from '../host-agent.js';
import { IdempotentStarts } from './idempotent-starts.js';

const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 128 }) });
// The controller is authenticated and LocalAgent validates what it uses (names, MACs,
// uuids): the schemas only make sure the shapes are objects and arrays.
const AnyObject = Type.Object({}, { additionalProperties: true });

export function vmRoutes(app: FastifyInstance, agent: HostAgent): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const starts = new IdempotentStarts(agent);

  r.get('/vms', async () => agent.listVms());

  r.get('/vms/:name', { schema: { params: NameParams } }, async (request) => {
    const vm = await agent.vm(request.params.name);
    if (vm === undefined) throw new LabvirtError('VM_NOT_FOUND', { name: request.params.name });
    return vm;
  });

  r.post('/vms', { schema: { body: AnyObject } }, async (request, reply) => {
    const vm = await starts.start(request.body as unknown as AgentVmSpec);
    return reply.code(201).send(vm);
  });

  r.post(
    '/vms/:name/stop',
    {
      schema: {
        params: NameParams,
        body: Type.Optional(Type.Object({ graceMs: Type.Optional(Type.Integer({ minimum: 0 })) })),
      },
    },
    async (request) => {
      const graceMs = request.body?.graceMs;
      return agent.stopVm(request.params.name, graceMs === undefined ? {} : { graceMs });
    },
  );

  r.post(
    '/vms/:name/ticket',
    {
      schema: {
        params: NameParams,
        body: Type.Object({ ttlSeconds: Type.Integer({ minimum: 1, maximum: 86_400 }) }),
      },
    },
    async (request) => {
      const password = await agent.ticket(request.params.name, request.body.ttlSeconds);
      return { password: password ?? null };
    },
  );

  r.post('/vms/:name/reset', { schema: { params: NameParams } }, async (request, reply) => {
    await agent.resetVm(request.params.name);
    return reply.code(204).send();
  });

  r.get(
    '/vms/:name/serial',
    {
      schema: {
        params: NameParams,
        querystring: Type.Object({
          maxBytes: Type.Optional(Type.String({ pattern: '^\\d{1,9}$' })),
        }),
      },
    },
    async (request) => {
      const { maxBytes } = request.query;
      const text = await agent.serialLog(
        request.params.name,
        maxBytes === undefined ? undefined : Number(maxBytes),
      );
      return { text: text ?? null };
    },
  );

  r.put(
    '/dhcp-hosts',
    { schema: { body: Type.Array(AnyObject, { maxItems: 65_536 }) } },
    async (request, reply) => {
      await agent.setDhcpHosts(request.body as unknown as DhcpHost[]);
      return reply.code(204).send();
    },
  );

  r.get('/images', async () => agent.listImages());

  r.post(
    '/images/ensure',
    { schema: { body: Type.Object({ layers: Type.Array(AnyObject, { maxItems: 256 }) }) } },
    async (request) => agent.ensureImage(request.body.layers as unknown as ImageLayer[]),
  );
}
