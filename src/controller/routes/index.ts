import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../context.js';
import { auditRoutes } from './audit.js';
import { authRoutes } from './auth.js';
import { hostRoutes } from './hosts.js';
import { labRoutes } from './labs.js';
import { jobRoutes } from './jobs.js';
import { profileImageRoutes } from './profile-images.js';
import { profileRoutes } from './profiles.js';
import { versionRoutes } from './versions.js';
import { terminalRoutes } from './terminals.js';
import { userRoutes } from './users.js';
import { vmRoutes } from './vms.js';
import { adminSessionRoutes } from './admin-sessions.js';
import { dhcpRoutes } from './dhcp.js';
import { eventRoutes } from './events.js';
import { consoleRoutes } from './console.js';
import { i18nRoutes } from './i18n.js';
import { agentRoutes } from './agent.js';
import { agentImageRoutes } from './agent-images.js';

/** Every route of /api/v1. */
export async function apiRoutes(api: FastifyInstance, ctx: RouteContext): Promise<void> {
  userRoutes(api, ctx); // first: the User schema is referenced by the auth routes
  authRoutes(api, ctx);
  labRoutes(api, ctx);
  terminalRoutes(api, ctx);
  dhcpRoutes(api, ctx);
  profileRoutes(api, ctx);
  jobRoutes(api, ctx); // before versions and images: they answer with the Job schema
  versionRoutes(api, ctx);
  profileImageRoutes(api, ctx);
  hostRoutes(api, ctx);
  vmRoutes(api, ctx); // before admin sessions: they answer with the Vm schema
  adminSessionRoutes(api, ctx);
  auditRoutes(api, ctx);
  eventRoutes(api, ctx);
  consoleRoutes(api, ctx);
  i18nRoutes(api, ctx);
  agentRoutes(api, ctx);
  agentImageRoutes(api, ctx);
}
