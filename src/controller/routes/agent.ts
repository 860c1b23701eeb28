// What hosts' agents call on the controller: join (with a one-time token) and hello (with
// their own credential). Their image downloads are in agent-images.ts.
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../context.js';

export function agentRoutes(_app: FastifyInstance, _ctx: RouteContext): void {
  // POST /agent/join, POST /agent/hello: see /work/notes/issue8-contracts.md §1.
}
