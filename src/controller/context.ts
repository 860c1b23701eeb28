// What route modules get from the app: the database, the clock, and helpers to act on
// behalf of the caller.
import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { Actor } from './services/audit.js';
import type { AgentPool } from './agents/agent-pool.js';
import type { LoginLimiter } from './auth/login-limiter.js';
import type { SignInLinks } from './auth/sign-in-links.js';
import type { ImageStore } from '../images/image-store.js';
import type { JobRegistry } from './services/jobs.js';
import type { VmService } from './services/vms.js';
import type { AdminSessionService } from './services/admin-sessions.js';
import type { TerminalVmService } from './services/terminal-vms.js';
import type { DhcpHostsPusher } from './services/dhcp-hosts.js';
import type { EventBus } from './events/event-bus.js';
import type { HostMetrics } from './services/host-metrics.js';

export interface RouteContext {
  readonly db: Kysely<Database>;
  readonly now: () => Date;
  /** Every host's agent, by host id (agentFor; online() for those reachable now). */
  readonly agents: AgentPool;
  readonly secureCookies: boolean;
  readonly loginLimiter: LoginLimiter;
  /** One-time sign-in links (POST /auth/link), made by `labvirt server --demo`. */
  readonly signInLinks: SignInLinks;
  /** The profiles' golden images; undefined when the server has none (routes say so). */
  readonly images: ImageStore | undefined;
  /** The ISO library: CD-ROM images profiles may name (file names only). */
  readonly isoDir: string | undefined;
  /** Long operations (import, flatten, full clone) and their progress. */
  readonly jobs: JobRegistry;
  /** VMs of profiles on the hosts (each row names its host). */
  readonly vms: VmService;
  readonly adminSessions: AdminSessionService;
  /** The VMs serving terminals: assignment, lab start/stop, idle and timetable policy. */
  readonly terminalVms: TerminalVmService;
  /** Gives the agents the DHCP host entries; call (and await) after changing addresses. */
  readonly dhcp: DhcpHostsPusher;
  /** What the web console hears live (GET /events). */
  readonly events: EventBus;
  /** How often the live events list the active VMs while anyone listens (default 1 s). */
  readonly vmWatchIntervalMs?: number | undefined;
  /** The hosts' recent use (samples of the last hour, in memory). */
  readonly metrics: HostMetrics;
  /**
   * sha256 (lowercase hex, of the DER) of the TLS certificate this controller serves, which
   * join tokens carry so agents pin it; null when it serves plain HTTP.
   */
  readonly controllerCertSha256: string | null;
}

export function actorOf(request: FastifyRequest): Actor {
  return { principal: request.principal, source: request.ip };
}
