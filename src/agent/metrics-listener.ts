// The agent's metrics listener: plain HTTP, unauthenticated (bind it where only the
// monitoring can reach it), GET /metrics in Prometheus' text format from agent-metrics.ts.
import { createServer, type Server } from 'node:http';
import { agentMetrics } from './agent-metrics.js';
import type { HostAgent } from './host-agent.js';

/** GET /metrics in Prometheus' text format; anything else is 404. */
export function metricsServer(agent: HostAgent, onError: (error: unknown) => void): Server {
  const metrics = agentMetrics(agent);
  return createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    metrics.render().then(
      (text) => response.writeHead(200, { 'content-type': metrics.contentType }).end(text),
      (error: unknown) => {
        onError(error);
        response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('failed\n');
      },
    );
  });
}
