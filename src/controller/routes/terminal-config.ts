// The terminal endpoint: a terminal has no login, so these routes are public; each answer
// is about the asking terminal only, and the routes are rate-limited per source address.
//   GET /terminal/v1/config  what to connect to (200), wait (202), or why not (403)
//   GET /terminal/v1/boot.sh the POSIX sh loop a terminal runs at boot
import { isIP } from 'node:net';
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isHostName } from '../../domain/host-name.js';
import { LabvirtError } from '../../domain/errors.js';
import { bootScript } from '../../terminal/boot-script.js';
import { configFormats, terminalClients } from '../../terminal/config.js';
import { renderConfig } from '../../terminal/formats.js';
import { parseConfigQuery } from '../../terminal/query.js';
import { rule } from '../auth/rules.js';
import type { RouteContext } from '../context.js';
import { errors } from '../schemas.js';

/** Longer than any honest request (16 MACs, a format and four clients fit in 1 KiB). */
export const MAX_TERMINAL_URL = 2048;

export interface TerminalRateLimit {
  /** Requests allowed per address and window. */
  readonly max: number;
  readonly windowMs: number;
}

/** A terminal polls every 2 s while its VM starts; a lab's worth behind one NAT still fits. */
export const DEFAULT_TERMINAL_RATE_LIMIT: TerminalRateLimit = { max: 300, windowMs: 60_000 };

const StringOrList = Type.Union([Type.String(), Type.Array(Type.String())]);

/** The JSON form (format=json); the other formats carry the same facts. */
const TerminalConfigSchema = Type.Object(
  {
    terminal: Type.Object({ name: Type.String(), mac: Type.String() }),
    lab: Type.String(),
    profile: Type.String(),
    vm: Type.String(),
    protocol: Type.Union([Type.Literal('vnc'), Type.Literal('spice'), Type.Literal('rdp')]),
    host: Type.String(),
    port: Type.Integer(),
    ticket: Type.Union([Type.String(), Type.Null()], {
      description: 'a one-time password for the display (vnc, spice), valid until ticketExpiresAt',
    }),
    ticketExpiresAt: Type.Union([Type.String(), Type.Null()]),
    screen: Type.Object({
      fullscreen: Type.Boolean(),
      width: Type.Union([Type.Integer(), Type.Null()]),
      height: Type.Union([Type.Integer(), Type.Null()]),
    }),
  },
  { description: 'where to connect, in the format asked for (JSON shown)' },
);
const Starting = Type.Object(
  { status: Type.Literal('starting'), retryAfter: Type.Integer() },
  { description: 'the terminal’s VM is starting: ask again after Retry-After seconds' },
);

export function terminalConfigRoutes(
  app: FastifyInstance,
  ctx: RouteContext,
  limit: TerminalRateLimit,
): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['terminal'];
  const rateLimit = { max: limit.max, timeWindow: limit.windowMs };

  // Untyped: the response is JSON or a file's text, and the query is parsed by hand.
  app.get('/config', {
    config: { auth: rule.public, rateLimit },
    schema: {
      tags,
      summary: 'What the asking terminal should connect to',
      description:
        'Identified by its MAC addresses (mac, repeated or comma-separated), else by the ' +
        'address it asks from. 200: the configuration, in the format asked for; 202: its ' +
        'VM is starting (see Retry-After); 403: not enrolled, disabled or lab closed.',
      security: [],
      // Parsed by parseConfigQuery, which names each problem; the schema documents it.
      querystring: Type.Object({
        mac: Type.Optional(StringOrList),
        format: Type.Optional(Type.Union(configFormats.map((f) => Type.Literal(f)))),
        client: Type.Optional(
          Type.Union([
            Type.Union(terminalClients.map((c) => Type.Literal(c))),
            Type.Array(Type.String()),
          ]),
        ),
      }),
      response: { 200: TerminalConfigSchema, 202: Starting, ...errors(400, 403, 409, 429, 503) },
    },
    // Before the query is validated: a huge query string is refused, not parsed.
    onRequest: async (request) => {
      if (request.url.length > MAX_TERMINAL_URL) {
        // Say what is wrong with it when the query does (1,000 MACs, say), else its length.
        parseConfigQuery(request.query);
        throw new LabvirtError('QUERY_TOO_LONG', {
          length: request.url.length,
          max: MAX_TERMINAL_URL,
        });
      }
    },
    // The route's own parser gives the clear messages (a bad MAC, too many MACs…).
    validatorCompiler: () => () => true,
    handler: async (request, reply) => {
      const query = parseConfigQuery(request.query);
      const now = ctx.now();
      const answer = await ctx.terminalVms.config({
        macs: query.macs,
        source: request.ip,
        now,
        requestHost: hostOf(request),
      });
      void reply.header('Cache-Control', 'no-store');
      if (answer.status === 'starting') {
        void reply.code(202).header('Retry-After', String(answer.retryAfter));
        return { status: 'starting', retryAfter: answer.retryAfter };
      }
      const rendered = renderConfig(answer.config, query.format, query.clients);
      void reply.type(rendered.contentType);
      if (rendered.filename !== undefined) {
        void reply.header('Content-Disposition', `attachment; filename="${rendered.filename}"`);
      }
      // Already rendered (JSON text, an env or .rdp file…): sent as it is, not serialized.
      return reply.send(rendered.body);
    },
  });

  r.get('/boot.sh', {
    config: { auth: rule.public, rateLimit },
    schema: {
      tags,
      summary: 'The boot script a terminal runs: fetch the config, start the client, repeat',
      security: [],
      response: {
        200: Type.String({ description: 'a POSIX sh script (text/x-shellscript)' }),
        ...errors(429),
      },
    },
    handler: async (request, reply) => {
      void reply.type('text/x-shellscript; charset=utf-8');
      // The Host header is the client's to choose: only a plain host[:port] is baked in.
      const host = /^[A-Za-z0-9.-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$/.test(
        request.host,
      )
        ? request.host
        : undefined;
      return bootScript(host === undefined ? undefined : `${request.protocol}://${host}`);
    },
  });
}

/** The host name the terminal reached us at, without port or IPv6 brackets. */
/**
 * The name or address the terminal reached us at, which a local host's display is offered
 * on. The Host header is the client's to choose: anything else is refused, not rendered
 * into the terminal's config (where it would fail as an invalid display, a 500).
 */
function hostOf(request: FastifyRequest): string {
  const name = request.hostname;
  const host = name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
  if (isIP(host) === 0 && !isHostName(host))
    throw new LabvirtError('HOST_NAME_INVALID', { name: host }, { field: 'header.host' });
  return host;
}
