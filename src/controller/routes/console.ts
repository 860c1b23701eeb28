// The in-browser VM console: a one-time ticket (POST, with the session and its CSRF
// token), then the WebSocket bridged to the VM's VNC display. The upgrade is refused with
// an ordinary problem answer unless the same user's session presents an unexpired, unused
// ticket for this VM from a page of this server's own origin (a browser sends cookies on
// a cross-site WebSocket, and only the Origin header tells such a page apart).
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { LabvirtError, phrase } from '../../domain/errors.js';
import type { VmState } from '../../domain/vm-lifecycle.js';
import type { Vm } from '../../db/schema.js';
import { rule } from '../auth/rules.js';
import { actorOf, type RouteContext } from '../context.js';
import { bridgeConsole } from '../console/bridge.js';
import { signedInRole } from '../auth/signed-in-role.js';
import { RfbClientFilter } from '../console/rfb-view-only.js';
import { ConsoleTickets, type ConsoleTicket } from '../console/tickets.js';
import { audit } from '../services/audit.js';
import { ACTIVE_STATES } from '../services/vms.js';
import { errors, Ref, Strict } from '../schemas.js';

const ConsoleTicketSchema = Type.Object(
  {
    ticket: Type.String(),
    path: Type.String({ description: 'where to open the WebSocket (with the ticket)' }),
    expiresAt: Type.String(),
    viewOnly: Type.Boolean({ description: 'the server drops this user’s keys and pointer' }),
  },
  { $id: 'ConsoleTicket' },
);
const VmParams = Strict({ vm: Ref });
/** How often an open console checks that its user may still see it. */
export const RECHECK_INTERVAL_MS = 15_000;

/** What the upgrade's checks found, for its handler. */
interface Admitted {
  readonly row: Vm;
  readonly ticket: ConsoleTicket;
}

export function consoleRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.addSchema(ConsoleTicketSchema);
  const tags = ['vms'];
  const tickets = new ConsoleTickets({ now: ctx.now });
  const admitted = new WeakMap<FastifyRequest, Admitted>();

  /** The VM, if it runs on the agent and the caller may see its screen. */
  async function consoleVm(request: FastifyRequest, ref: string): Promise<Vm> {
    const row = await ctx.vms.find(ref);
    // The administrative VM belongs to an admin session: administrators only.
    if (row.kind === 'admin' && request.principal?.role !== 'admin') {
      throw new LabvirtError('FORBIDDEN', { role: request.principal?.role ?? '' });
    }
    if (!ACTIVE_STATES.includes(row.state as VmState) || row.host_id === null) {
      throw new LabvirtError('VM_NOT_RUNNING', { name: row.name, state: row.state });
    }
    return row;
  }

  r.post('/vms/:vm/console', {
    config: { auth: rule.viewer },
    schema: {
      tags,
      summary: 'A one-time ticket (30 s) to open the VM’s screen in the web console',
      params: VmParams,
      body: Type.Optional(Strict({})),
      response: { 201: Type.Ref('ConsoleTicket'), ...errors(400, 401, 403, 404, 409, 503) },
    },
    handler: async (request, reply) => {
      const principal = request.principal;
      if (principal === undefined) throw new LabvirtError('AUTH_REQUIRED');
      const row = await consoleVm(request, request.params.vm);
      const live = await ctx.vms.agentOf(row).vm(row.name);
      if (live === undefined) throw new LabvirtError('VM_NOT_FOUND', { name: row.name });
      // No VNC password is ever handed out: a terminal's ticketed display gives the console
      // a password-less server of its own, on a socket only the host reaches (DisplaySpec).
      const issued = tickets.issue(principal.userId, row.id, principal.role === 'viewer');
      const query = new URLSearchParams({ ticket: issued.ticket });
      return reply.code(201).send({
        ticket: issued.ticket,
        path: `${app.prefix}/vms/${encodeURIComponent(row.id)}/console/ws?${query.toString()}`,
        expiresAt: issued.expiresAt.toISOString(),
        viewOnly: issued.viewOnly,
      });
    },
  });

  app.get(
    '/vms/:vm/console/ws',
    {
      websocket: true,
      // Viewer, and the ticket (checked before the upgrade, below).
      config: { auth: rule.viewer },
      schema: {
        tags,
        summary: 'The VM’s screen: its RFB stream as binary WebSocket frames',
        params: VmParams,
        querystring: Strict({ ticket: Type.Optional(Type.String({ maxLength: 128 })) }),
      },
      // Still before the upgrade (a refusal is an HTTP answer), after validation.
      preHandler: async (request) => {
        const principal = request.principal;
        if (principal === undefined) throw new LabvirtError('AUTH_REQUIRED');
        checkOrigin(request);
        const { vm } = request.params as { vm: string };
        const { ticket } = request.query as { ticket?: string };
        if (ticket === undefined) throw new LabvirtError('CONSOLE_TICKET_INVALID');
        const row = await ctx.vms.find(vm).catch(() => undefined);
        const redeemed =
          row === undefined ? undefined : tickets.redeem(ticket, principal.userId, row.id);
        if (row === undefined || redeemed === undefined) {
          throw new LabvirtError('CONSOLE_TICKET_INVALID');
        }
        // A viewer now watches only, whatever it was when the ticket was made.
        const viewOnly = redeemed.viewOnly || principal.role === 'viewer';
        admitted.set(request, {
          row: await consoleVm(request, row.id),
          ticket: { ...redeemed, viewOnly },
        });
      },
    },
    (socket: WebSocket, request: FastifyRequest) => {
      const found = admitted.get(request);
      if (found === undefined) {
        socket.close(1011, 'not admitted');
        return;
      }
      const { row, ticket } = found;
      const log = request.log;
      // While it lasts, the user must stay signed in with a role that allows what the
      // console was opened for: sign-out, a disabled user or a lowered role ends it.
      const principal = request.principal;
      const recheck = setInterval(() => {
        if (principal === undefined) return;
        signedInRole(ctx.db, principal, ctx.now()).then(
          (role) => {
            const allowed =
              role !== undefined &&
              (ticket.viewOnly || role !== 'viewer') &&
              (row.kind !== 'admin' || role === 'admin');
            if (!allowed) socket.close(1008, 'signed out or role changed');
          },
          () => undefined, // the database may be away a moment: the next round asks again
        );
      }, RECHECK_INTERVAL_MS);
      recheck.unref();
      socket.once('close', () => clearInterval(recheck));
      bridgeConsole(
        socket,
        () => ctx.vms.agentOf(row).openDisplay(row.name),
        new RfbClientFilter({ viewOnly: ticket.viewOnly }),
        {
          onProblem: (message, error) => log.info({ err: error }, message),
          onOpen: () =>
            void audit(
              ctx.db,
              actorOf(request),
              {
                action: 'vm.console',
                targetType: 'vm',
                targetId: row.id,
                details: { name: row.name, viewOnly: ticket.viewOnly },
              },
              ctx.now(),
            ).catch((error: unknown) => log.error({ err: error }, 'auditing a console failed')),
        },
      );
    },
  );
}

/**
 * The page's origin must be this server's own as the client reached it: the scheme and
 * host Fastify sees (from X-Forwarded-Proto and -Host only behind a trusted proxy).
 */
function checkOrigin(request: FastifyRequest): void {
  const expected = originOf(`${request.protocol}://${request.host}`);
  const header = request.headers.origin;
  if (header === undefined || expected === undefined || originOf(header) !== expected) {
    throw new LabvirtError('CONSOLE_ORIGIN_REFUSED', {
      expected: expected ?? `${request.protocol}://${request.host}`,
      origin: header ?? phrase('a page that sent no Origin header'),
    });
  }
}

/** An origin in its serialized form (lower case, no default port); undefined if none. */
function originOf(text: string): string | undefined {
  try {
    const origin = new URL(text).origin;
    return origin === 'null' ? undefined : origin;
  } catch {
    return undefined;
  }
}
