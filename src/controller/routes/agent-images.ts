// Image layers for hosts' agents: a sealed version's file by id, resumable (Range), with
// its sha256, for agents whose store lacks it (src/agent/image-fetcher.ts).
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../context.js';

export function agentImageRoutes(_app: FastifyInstance, _ctx: RouteContext): void {
  // GET /agent/images/:versionId: see /work/notes/issue8-contracts.md §3.
}
