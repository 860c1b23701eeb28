// What the server's log shows of a request. Fastify logs each request's URL, query string
// included, and some credentials travel there because a browser cannot send them otherwise:
// a console WebSocket's one-time ticket (?ticket=), a one-time sign-in link (?token=). Their
// values are replaced, so a log that is shared or collected grants nothing.
import type { FastifyRequest, FastifyServerOptions } from 'fastify';

const SECRET_QUERY = /([?&](?:ticket|token|password|secret|key)=)[^&#]*/gi;

export function redactUrl(url: string): string {
  return url.replace(SECRET_QUERY, '$1[redacted]');
}

/** Fastify's default request serializer, with the URL redacted. */
function serializeRequest(request: FastifyRequest) {
  return {
    method: request.method,
    url: redactUrl(request.url),
    host: request.host,
    remoteAddress: request.ip,
    ...(request.socket?.remotePort !== undefined ? { remotePort: request.socket.remotePort } : {}),
  };
}

/** The logger options, with requests serialized redacted (false stays false). */
export function redactingLogger(
  logger: FastifyServerOptions['logger'],
): NonNullable<FastifyServerOptions['logger']> {
  if (logger === undefined || logger === false) return false;
  const options = logger === true ? {} : logger;
  return { ...options, serializers: { ...options.serializers, req: serializeRequest } };
}
