// GET /events: the agent's VM ends as server-sent events (`event: vm-ended`, data VmEnded),
// a `: ping` comment every 15 s so a controller notices a dead stream. Nothing is replayed:
// a controller that (re)connects reconciles from listVms.
import type { FastifyInstance } from 'fastify';
import type { HostAgent } from '../host-agent.js';

export const EVENTS_PING_MS = 15_000;

const SSE_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache',
  'X-Accel-Buffering': 'no',
};
/** A controller that stopped reading is let go past this (it reconnects and reconciles). */
const MAX_UNREAD_BYTES = 1024 * 1024;

export function eventsRoute(app: FastifyInstance, agent: HostAgent, pingMs = EVENTS_PING_MS) {
  const streams = new Set<() => void>();
  // Open streams would hold the server's close forever.
  app.addHook('preClose', async () => {
    for (const end of [...streams]) end();
  });

  app.get('/events', async (request, reply) => {
    const res = reply.raw;
    reply.hijack();
    res.writeHead(200, SSE_HEADERS);
    res.flushHeaders();
    let ended = false;
    const write = (text: string) => {
      if (res.writableLength > MAX_UNREAD_BYTES) end();
      else res.write(text);
    };
    const unsubscribe = agent.onVmEnded((vmEnded) => {
      write(`event: vm-ended\ndata: ${JSON.stringify(vmEnded)}\n\n`);
    });
    const ping = setInterval(() => write(': ping\n\n'), pingMs);
    ping.unref();
    const end = () => {
      if (ended) return;
      ended = true;
      clearInterval(ping);
      unsubscribe();
      streams.delete(end);
      res.end();
    };
    streams.add(end);
    res.once('close', end);
    // The client knows at once that the stream is open (its onReconnect fires).
    res.write(': open\n\n');
    request.log.debug('event stream opened');
  });
}
