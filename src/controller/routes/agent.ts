// What hosts' agents call on the controller: join (with a one-time token) and hello (with
// their own credential). Their image downloads are in agent-images.ts.
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { LabvirtError } from '../../domain/errors.js';
import { rule } from '../auth/rules.js';
import type { RouteContext } from '../context.js';
import { errors, Strict } from '../schemas.js';
import { helloHost, joinHost } from '../services/host-enrolment.js';
import type { Actor } from '../services/audit.js';

const Url = Type.String({ minLength: 1, maxLength: 2048, description: 'https://HOST:PORT' });

/** The agent that called (rule.agent has set it). */
function agentOf(request: FastifyRequest): { id: string; name: string } {
  if (request.agentHost === undefined) throw new LabvirtError('AGENT_CREDENTIAL_INVALID');
  return request.agentHost;
}

export function agentRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['agents'];

  r.post('/agent/join', {
    config: { auth: rule.public },
    schema: {
      tags,
      summary:
        'A new host’s agent enrols with its one-time join token (labvirt host add) and gets its credentials',
      body: Strict({
        token: Type.String({ minLength: 1, maxLength: 512 }),
        name: Type.String({ minLength: 1, maxLength: 255 }),
        url: Url,
        certificate: Type.String({
          minLength: 1,
          maxLength: 65536,
          description: 'the agent’s TLS certificate (PEM), which the controllers pin',
        }),
      }),
      response: {
        200: Type.Object({
          hostId: Type.String(),
          name: Type.String(),
          agentSecret: Type.String({ description: 'what the agent calls the controller with' }),
          controllerSecret: Type.String({
            description: 'what the controllers call the agent with',
          }),
        }),
        ...errors(400, 401, 403, 429),
      },
    },
    handler: async (request) => {
      // Refusals count per source address, like wrong passwords (a token names no user).
      const key = `join from ${request.ip}`;
      const wait = ctx.loginLimiter.retryAfter(request.ip, key);
      if (wait > 0) throw new LabvirtError('LOGIN_RATE_LIMITED', { seconds: wait });
      const actor: Actor = { principal: undefined, source: request.ip };
      try {
        return await joinHost(
          ctx.db,
          actor,
          request.body,
          (details, message) => request.log.warn(details, message),
          ctx.now(),
        );
      } catch (error) {
        if (
          error instanceof LabvirtError &&
          (error.code === 'JOIN_TOKEN_INVALID' || error.code === 'HOST_IDENTITY_MISMATCH')
        )
          ctx.loginLimiter.fail(request.ip, key);
        throw error;
      }
    },
  });

  r.post('/agent/hello', {
    config: { auth: rule.agent },
    schema: {
      tags,
      summary: 'An enrolled agent starts: it tells the URL it answers at now',
      body: Strict({ url: Url }),
      response: {
        200: Type.Object({ hostId: Type.String(), name: Type.String(), address: Type.String() }),
        ...errors(400, 401, 403),
      },
    },
    handler: async (request) => {
      const agent = agentOf(request);
      const host = await helloHost(
        ctx.db,
        { principal: undefined, source: request.ip },
        agent.id,
        request.body.url,
        ctx.now(),
      );
      return { hostId: host.id, name: host.name, address: host.address };
    },
  });
}
