// GET /events: the live stream of the web console (server-sent events, see
// events/event-bus.ts). This module also wires the producers: the VM watcher, the jobs'
// progress, and a `changed` event after each successful change under /api/v1. Streams end
// when the caller goes, when their session or token does (checked at each ping), and when
// the server closes (preClose: before Fastify waits for open requests to finish).
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { LabvirtError } from '../../domain/errors.js';
import type { Database } from '../../db/schema.js';
import { SESSION_IDLE_MS, principalOf } from '../auth/principal.js';
import { rule, type Principal } from '../auth/rules.js';
import type { RouteContext } from '../context.js';
import { changeTopic } from '../events/change-topics.js';
import type { LiveEvent } from '../events/event-bus.js';
import { acceptsEventStream, SSE_HEADERS, SSE_PING, sseMessage } from '../events/sse.js';
import { VmWatcher } from '../events/vm-watcher.js';
import { errors, Strict } from '../schemas.js';
import { jobAnswer } from './jobs.js';

export const PING_INTERVAL_MS = 15_000;

/** Whether the session or token a stream was opened with still lets its user in. */
async function stillSignedIn(
  db: Kysely<Database>,
  principal: Principal,
  now: Date,
): Promise<boolean> {
  const at = now.toISOString();
  if (principal.sessionId !== undefined) {
    const row = await db
      .selectFrom('web_sessions')
      .innerJoin('users', 'users.id', 'web_sessions.user_id')
      .select(['web_sessions.expires_at', 'web_sessions.last_seen_at', 'users.disabled'])
      .where('web_sessions.id', '=', principal.sessionId)
      .executeTakeFirst();
    return (
      row !== undefined &&
      row.disabled !== 1 &&
      row.expires_at > at &&
      Date.parse(row.last_seen_at) >= now.getTime() - SESSION_IDLE_MS
    );
  }
  if (principal.tokenId !== undefined) {
    const row = await db
      .selectFrom('api_tokens')
      .innerJoin('users', 'users.id', 'api_tokens.user_id')
      .select(['api_tokens.expires_at', 'users.disabled'])
      .where('api_tokens.id', '=', principal.tokenId)
      .executeTakeFirst();
    return (
      row !== undefined && row.disabled !== 1 && (row.expires_at === null || row.expires_at > at)
    );
  }
  return false;
}

export function eventRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const watcher = new VmWatcher({
    vms: ctx.vms,
    events: ctx.events,
    log: (error) => app.log.error({ err: error }, 'watching the VMs failed'),
  });
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
        if (waiting === undefined) res.write(text);
        else waiting.push(text);
      };
      const unsubscribe = ctx.events.subscribe((event) => {
        const text = render(request, event);
        if (text !== undefined) write(text);
      });
      let ended = false;
      const ping = setInterval(() => {
        write(SSE_PING);
        stillSignedIn(ctx.db, principal, ctx.now()).then(
          (valid) => valid || end(),
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
