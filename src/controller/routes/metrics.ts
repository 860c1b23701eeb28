// GET /metrics: the controller's view of the cluster in Prometheus' text format.
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../context.js';

export function metricsRoutes(_app: FastifyInstance, _ctx: RouteContext): void {
  // See /work/notes/issue8-contracts.md §5.
}
