// The agent API (`labvirt agent`): a HostAgent served to controllers at /agent/v1 over
// HTTPS with the agent's own certificate (controllers pin it), every route behind the
// controller secret. Built without listening, so tests can inject() or listen on port 0.
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import websocket from '@fastify/websocket';
import { LabvirtError } from '../../domain/errors.js';
import { toLabvirtError } from '../../controller/problem.js';
import type { HostAgent, HostReport } from '../host-agent.js';
import { bearerMatches } from './agent-auth.js';
import { sendAgentProblem } from './agent-problem.js';
import { displayRoute } from './display-route.js';
import { eventsRoute } from './events-route.js';
import { vmRoutes } from './vm-routes.js';

export const AGENT_API_PREFIX = '/agent/v1';

export interface AgentAppOptions {
  readonly agent: HostAgent;
  /** sha256 (hex) of the controller secret; undefined refuses everyone (not joined yet). */
  readonly secretHash: () => string | undefined;
  /** What report() says the host is called and where it is reached (agent.json, --advertise). */
  readonly identity?: () => { readonly name?: string; readonly address?: string };
  readonly tls?: { readonly key: string | Buffer; readonly cert: string | Buffer } | undefined;
  readonly logger?: FastifyServerOptions['logger'];
  /** How often the event stream pings (15 s). */
  readonly pingMs?: number;
}

export async function buildAgentApp(options: AgentAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: 4 * 1024 * 1024,
    ...(options.tls ? { https: { key: options.tls.key, cert: options.tls.cert } } : {}),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true } },
  }) as unknown as FastifyInstance;
  const { agent } = options;

  app.setErrorHandler(async (error, request, reply) => {
    const labvirt = toLabvirtError(error, request.id);
    if (labvirt.code === 'INTERNAL') request.log.error({ err: error }, 'agent request failed');
    return sendAgentProblem(reply, request, labvirt);
  });
  app.setNotFoundHandler(async (request, reply) =>
    sendAgentProblem(
      reply,
      request,
      new LabvirtError('ROUTE_NOT_FOUND', {
        method: request.method,
        url: request.url.split('?')[0] ?? '',
      }),
    ),
  );
  // Every route, the WebSocket's upgrade included, before anything else runs.
  app.addHook('onRequest', async (request) => {
    if (bearerMatches(request.headers.authorization, options.secretHash())) return;
    request.log.warn(
      { ip: request.ip, url: request.url.split('?')[0] },
      'agent API request refused: not the controller secret',
    );
    throw new LabvirtError('AUTH_REQUIRED');
  });
  app.removeContentTypeParser('text/plain');
  await app.register(websocket, { options: { maxPayload: 1024 * 1024 } });

  await app.register(
    async (api) => {
      api.get('/report', async (): Promise<HostReport> => {
        const report = await agent.report();
        const identity = options.identity?.() ?? {};
        // Terminals are sent to a host's gateway address; without --gateway-address it is
        // where the controllers reach this agent, never the controller's own address.
        const gatewayAddress = report.gatewayAddress ?? hostOf(identity.address);
        return {
          ...report,
          ...(identity.name === undefined ? {} : { name: identity.name }),
          ...(identity.address === undefined ? {} : { address: identity.address }),
          ...(gatewayAddress === undefined ? {} : { gatewayAddress }),
        };
      });
      api.get('/usage', async () => agent.usage());
      vmRoutes(api, agent);
      displayRoute(api, agent);
      eventsRoute(api, agent, options.pingMs);
    },
    { prefix: AGENT_API_PREFIX },
  );
  return app;
}

/** The host part of an https:// URL (an IPv6 address without its brackets). */
function hostOf(url: string | undefined): string | undefined {
  if (url === undefined || !URL.canParse(url)) return undefined;
  return new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
}
