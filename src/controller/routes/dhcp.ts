// The DHCP host entries of the labs' terminals' VMs, as a DHCP server's file or as JSON.
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { dhcpFormats } from '../../domain/dhcp-hosts.js';
import { rule } from '../auth/rules.js';
import type { RouteContext } from '../context.js';
import { errors, Ref, Strict } from '../schemas.js';
import { formatDhcpHosts, listDhcpHosts } from '../services/dhcp-hosts.js';

const DhcpHost = Type.Object(
  {
    lab: Type.String(),
    terminal: Type.String({ description: 'the terminal’s own MAC' }),
    mac: Type.String({ description: 'the MAC of the terminal’s VM (the same every session)' }),
    ip: Type.String({ description: 'the address its VM is given, from the lab’s pool' }),
    name: Type.String({ description: 'a host name: the terminal’s name, or t-MAC' }),
  },
  { $id: 'DhcpHost' },
);

export function dhcpRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.addSchema(DhcpHost);

  r.get('/dhcp/hosts', {
    // Whoever may read the labs (their pools, terminals and addresses are in those views).
    config: { auth: rule.viewer },
    schema: {
      tags: ['labs'],
      summary: 'The DHCP host entries of the terminals’ VMs (MAC, address, name)',
      description:
        'format=json (the default): a list of entries; dnsmasq: a file for --dhcp-hostsfile, one MAC,IP,NAME a line; dhcpd: ISC dhcpd host declarations to include in dhcpd.conf. Readable by every role that reads labs (viewer and up).',
      querystring: Strict({
        lab: Type.Optional(Ref),
        format: Type.Optional(
          Type.Union(
            dhcpFormats.map((format) => Type.Literal(format)),
            { description: 'json (default), dnsmasq or dhcpd' },
          ),
        ),
      }),
      response: {
        200: {
          description: 'The entries, ordered by address',
          content: {
            'application/json': { schema: Type.Array(Type.Ref('DhcpHost')) },
            'text/plain': { schema: Type.String() },
          },
        },
        ...errors(400, 401, 404),
      },
    },
    handler: async (request, reply) => {
      const format = request.query.format ?? 'json';
      const body = formatDhcpHosts(await listDhcpHosts(ctx.db, request.query), format);
      if (typeof body === 'string') return reply.type('text/plain; charset=utf-8').send(body);
      return reply.type('application/json; charset=utf-8').send([...body]);
    },
  });
}
