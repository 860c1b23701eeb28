// GET /events: the live stream of the web console (server-sent events, see
// events/event-bus.ts). This module also wires the producers: the VM watcher, the jobs'
// progress, and a `changed` event after each successful change under /api/v1. Streams end
// when the caller goes, when their session or token does (checked at each ping), and when
// the server closes (preClose: before Fastify waits for open requests to finish).
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { LabvirtError } from '../../domain/errors.js';
import { principalOf } from '../auth/principal.js';
import { signedInRole } from '../auth/signed-in-role.js';
import { rule } from '../auth/rules.js';
import type { RouteContext } from '../context.js';
import { changeTopic } from '../events/change-topics.js';
import type { LiveEvent } from '../events/event-bus.js';
import { acceptsEventStream, SSE_HEADERS, SSE_PING, sseMessage } from '../events/sse.js';
import { VmWatcher } from '../events/vm-watcher.js';
import { errors, Strict } from '../schemas.js';
import { jobAnswer } from './jobs.js';

export const PING_INTERVAL_MS = 15_000;
/** What an event stream may hold unread for its client before the server ends it. */
const MAX_UNREAD_BYTES = 1024 * 1024;

export function eventRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const watcher = new VmWatcher({
    vms: ctx.vms,
    events: ctx.events,
    ...(ctx.vmWatchIntervalMs === undefined ? {} : { intervalMs: ctx.vmWatchIntervalMs }),
    log: (error) => app.log.error({ err: error }, 'watching the VMs failed'),
  });
  // A VM whose guest powered off or whose QEMU died is told as soon as its row says so,
  // not at the watcher's next look (issue 9: event latency under a second).
  const stopWatchingEnds = ctx.vms.onEndRecorded(() => void watcher.poke());
  const stopTellingJobs = ctx.jobs.onChange((job) =>
    ctx.events.publish({ type: 'job', data: job }),
  );
  /** How to end each open stream. */
  const streams = new Set<() => void>();

  // After a change through the API: which list changed, and a look at the VMs at once (a
  // start, a stop, a lab's start or an admin session may have changed some).
  app.addHook('onResponse', async (request, reply) => {
    const topic = changeTopic(request.method, request.url, reply.statusCode);
    if (topic === undefined) return;
    ctx.events.publish({ type: 'changed', data: { topic } });
    void watcher.poke();
  });
  app.addHook('preClose', async () => {
    for (const end of [...streams]) end();
  });
  app.addHook('onClose', async () => {
    stopTellingJobs();
    stopWatchingEnds();
    await watcher.close();
  });

  /** An event as this subscriber sees it: a job's error in their language. */
  const render = (request: FastifyRequest, event: LiveEvent): string | undefined => {
    if (event.type !== 'job') return sseMessage(event.type, event.data);
    const { id } = event.data as { id: string };
    try {
      return sseMessage('job', jobAnswer(ctx, request, id));
    } catch {
      return undefined; // forgotten meanwhile (only the oldest finished jobs are)
    }
  };

  r.get('/events', {
    config: { auth: rule.viewer },
    schema: {
      tags: ['events'],
      summary: 'The live events of the web console (server-sent events)',
      description:
        'event: vm (a VM view, when a VM appears, changes state or connections, or ends), job (a job view, on progress and end), metrics ({host, sample} every 10 s), changed ({topic} after a change through the API). A ": ping" comment every 15 s. Nothing is replayed on connect. Needs Accept: text/event-stream (EventSource sends it).',
      querystring: Strict({}),
      response: {
        200: {
          description: 'The event stream',
          content: { 'text/event-stream': { schema: Type.String() } },
        },
        ...errors(400, 401, 406),
      },
    },
    handler: async (request, reply) => {
      if (!acceptsEventStream(request.headers.accept)) {
        throw new LabvirtError('EVENT_STREAM_NOT_ACCEPTED');
      }
      if (request.method === 'HEAD') return reply.headers(SSE_HEADERS).send('');
      const principal = principalOf(request);
      const res = reply.raw;
      // What is published before the headers are out waits for them.
      let waiting: string[] | undefined = [];
      const write = (text: string) => {
        if (waiting !== undefined) waiting.push(text);
        // A client that stopped reading would have the server keep every event for it:
        // past a bound it is let go (EventSource reconnects, and the page reloads its lists).
        else if (res.writableLength > MAX_UNREAD_BYTES) end();
        else res.write(text);
      };
      const unsubscribe = ctx.events.subscribe((event) => {
        const text = render(request, event);
        if (text !== undefined) write(text);
      });
      let ended = false;
      const ping = setInterval(() => {
        write(SSE_PING);
        signedInRole(ctx.db, principal, ctx.now()).then(
          (role) => role !== undefined || end(),
          () => undefined, // the database may be away a moment: the next ping checks again
        );
      }, PING_INTERVAL_MS);
      ping.unref();
      const end = () => {
        if (ended) return;
        ended = true;
        clearInterval(ping);
        unsubscribe();
        streams.delete(end);
        if (ctx.events.listeners === 0) watcher.stop();
        res.end();
      };
      streams.add(end);
      res.once('close', end);
      reply.hijack();
      // The VMs' baseline is taken before the client hears "open" and loads its lists.
      await watcher.start().catch(() => undefined);
      if (ended) return;
      res.writeHead(200, SSE_HEADERS);
      res.flushHeaders();
      const queued = waiting;
      waiting = undefined;
      for (const text of queued) res.write(text);
    },
  });
}
