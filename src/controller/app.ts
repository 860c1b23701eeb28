// buildApp(deps): the controller's HTTP application, without listening, so tests drive it
// with inject() and the server command adds listen().
import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, {
  type FastifyInstance,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import type { Kysely } from 'kysely';
import { redactingLogger } from './log-redaction.js';
import { lazyCompilersFactory } from './lazy-compilers.js';
import { LabvirtError } from '../domain/errors.js';
import type { Database } from '../db/schema.js';
import type { HostAgent } from '../agent/host-agent.js';
import type { ImageStore } from '../images/image-store.js';
import { negotiateLocale, translator, type Translator } from '../i18n/translator.js';
import { authPlugin } from './auth/plugin.js';
import { LoginLimiter } from './auth/login-limiter.js';
import { SignInLinks } from './auth/sign-in-links.js';
import { rule } from './auth/rules.js';
import type { RouteContext } from './context.js';
import { JobRegistry } from './services/jobs.js';
import { VmService, type ImageEnsurer } from './services/vms.js';
import { AgentPool, type HostImages } from './agents/agent-pool.js';
import { AdminSessionService } from './services/admin-sessions.js';
import { TerminalVmService } from './services/terminal-vms.js';
import { DhcpHostsPusher } from './services/dhcp-hosts.js';
import rateLimit from '@fastify/rate-limit';
import {
  DEFAULT_TERMINAL_RATE_LIMIT,
  terminalConfigRoutes,
  type TerminalRateLimit,
} from './routes/terminal-config.js';
import { problemOf, sendFrameworkProblem, sendProblem, toLabvirtError } from './problem.js';
import { DATABASE_RETRY_AFTER_SECONDS, DatabaseOutage } from './database-outage.js';
import { apiRoutes } from './routes/index.js';
import { ProblemSchema } from './schemas.js';
import { EventBus } from './events/event-bus.js';
import { HostMetrics } from './services/host-metrics.js';
import { webConsole } from './web-console.js';
import websocket from '@fastify/websocket';

export const API_PREFIX = '/api/v1';
import { VERSION } from './version.js';
import { certificateSha256 } from '../agent/remote/pinned-tls.js';
import { metricsRoutes } from './routes/metrics.js';

export { VERSION };

export interface ControllerDeps {
  readonly db: Kysely<Database>;
  /**
   * The hosts' agents (the server's, which it refreshes); without it the app makes one of
   * `agents`' first, as this machine's in-process agent (a bare app, as tests build it).
   */
  readonly pool?: AgentPool;
  /** Agents without a pool: the first is the local host's; DHCP entries go to all. */
  readonly agents?: readonly HostAgent[];
  /** Copies versions to hosts before their VMs start there (image-distribution.ts). */
  readonly imageDistribution?: ImageEnsurer & Partial<HostImages>;
  readonly now?: () => Date;
  /** Mark cookies Secure: on under TLS, and behind a TLS-terminating reverse proxy. */
  readonly secureCookies?: boolean;
  /** Trust X-Forwarded-* from these proxies (see the README's reverse-proxy section). */
  readonly trustProxy?: FastifyServerOptions['trustProxy'];
  readonly logger?: FastifyServerOptions['logger'];
  readonly https?: { readonly key: Buffer; readonly cert: Buffer };
  readonly loginLimiter?: LoginLimiter;
  /** The one-time sign-in links POST /auth/link accepts (the demo makes one); none by default. */
  readonly signInLinks?: SignInLinks;
  /** The image store; without it, the routes of profiles' images answer IMAGE_STORE_NOT_CONFIGURED. */
  readonly images?: ImageStore;
  /** The ISO library directory (CD-ROM images of profiles). */
  readonly isoDir?: string;
  readonly jobs?: JobRegistry;
  /** Requests per source address the terminal endpoint allows (default 300 a minute). */
  readonly terminalRateLimit?: TerminalRateLimit;
  /** How long a VM stop waits for the guest to power down before quit (default 30 s). */
  readonly vmStopGraceMs?: number;
  /** The live events' bus (a test may pass its own to listen in). */
  readonly events?: EventBus;
  /**
   * How often the live events list the active VMs while anyone listens (default 1 s). An
   * agent's report of a VM's end is told at once whatever this is.
   */
  readonly vmWatchIntervalMs?: number;
  /** The built web console's directory (default dist/web, beside the server's code). */
  readonly webRoot?: string;
  /** Says a database outage once (the server's loops share it); the app makes one by default. */
  readonly databaseOutage?: DatabaseOutage;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The VMs of profiles: the server reconciles them with its agent at start. */
    vms: VmService;
    /** The VMs serving terminals: the server's scheduler runs their policy. */
    terminalVms: TerminalVmService;
    /** The agents' DHCP host entries: the server pushes them once at start. */
    dhcp: DhcpHostsPusher;
    /** What the web console hears live. */
    events: EventBus;
    /** The hosts' use over the last hour: the server starts its sampling. */
    metrics: HostMetrics;
    /** Every host's agent, by host id. */
    agents: AgentPool;
    /** Logs a database outage once, not per failed request or round. */
    databaseOutage: DatabaseOutage;
  }
  interface FastifyRequest {
    /** The caller's language: their saved choice, else Accept-Language, else English. */
    translator(): Translator;
  }
}

export async function buildApp(deps: ControllerDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: redactingLogger(deps.logger),
    trustProxy: deps.trustProxy ?? false,
    bodyLimit: 1024 * 1024,
    ...(deps.https ? { https: { key: deps.https.key, cert: deps.https.cert } } : {}),
    // Unknown fields are refused, not silently dropped; types are not coerced.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true } },
    // Schemas are compiled on first use, not all at start-up (see lazy-compilers.ts).
    schemaController: { compilersFactory: lazyCompilersFactory },
    // What the router refuses before any route or hook runs (a broken %-escape, an
    // over-long path segment) is a problem+json answer too, not Fastify's own JSON.
    frameworkErrors: sendFrameworkProblem,
  }) as unknown as FastifyInstance;
  const now = deps.now ?? (() => new Date());
  const outage = deps.databaseOutage ?? new DatabaseOutage(() => app.log);
  // A database outage fails every loop alike: said once by the outage, not per failure.
  const log = (error: unknown, message: string) => {
    if (!outage.noted(error, message)) app.log.error({ err: error }, message);
  };
  const pool = deps.pool ?? new AgentPool({ db: deps.db, now, log, local: deps.agents?.[0] });
  // A bare app's agents are a fixed list (each found by its report's name when sampled).
  const listed = deps.pool === undefined ? deps.agents : undefined;
  let metrics: HostMetrics | undefined = undefined;
  const vms = new VmService({
    db: deps.db,
    agents: pool,
    now,
    log,
    images: deps.imageDistribution,
    diskFreeMiB: (hostId) => {
      const latest = metrics?.latest(hostId);
      return latest === null || latest === undefined
        ? null
        : latest.diskTotalMiB - latest.diskUsedMiB;
    },
    ...(deps.vmStopGraceMs === undefined ? {} : { stopGraceMs: deps.vmStopGraceMs }),
  });
  const dhcp = new DhcpHostsPusher(deps.db, listed ?? (() => pool.online()), log);
  const events = deps.events ?? new EventBus();
  metrics = new HostMetrics({
    db: deps.db,
    agents: listed ?? (() => pool.entries()),
    events,
    now,
    log,
  });
  const ctx: RouteContext = {
    controllerCertSha256: deps.https === undefined ? null : certificateSha256(deps.https.cert),
    db: deps.db,
    now,
    agents: pool,
    secureCookies: deps.secureCookies ?? deps.https !== undefined,
    loginLimiter: deps.loginLimiter ?? new LoginLimiter(),
    signInLinks: deps.signInLinks ?? new SignInLinks(deps.now ? { now: deps.now } : {}),
    images: deps.images,
    isoDir: deps.isoDir,
    jobs:
      deps.jobs ??
      new JobRegistry({
        ...(deps.now ? { now: deps.now } : {}),
        onError: (error) => log(error, 'job failed'),
      }),
    vms,
    adminSessions: new AdminSessionService(vms, deps.images, now),
    terminalVms: new TerminalVmService(vms, now, log, () => void dhcp.push()),
    dhcp,
    events,
    vmWatchIntervalMs: deps.vmWatchIntervalMs,
    metrics,
  };
  app.decorate('vms', vms);
  app.decorate('terminalVms', ctx.terminalVms);
  app.decorate('dhcp', dhcp);
  app.decorate('events', ctx.events);
  app.decorate('metrics', metrics);
  app.decorate('agents', pool);
  app.decorate('databaseOutage', outage);
  // The local host's agent is known by its host id before the first request needs it.
  app.addHook('onReady', async () => {
    await pool
      .localHostId()
      ?.catch((error: unknown) => log(error, 'the local agent did not report'));
  });
  app.addHook('onClose', async () => {
    await metrics?.stop();
    await ctx.terminalVms.close();
    await vms.settled();
    vms.close();
    if (deps.pool === undefined) await pool.close();
  });

  app.decorateRequest('translator', function translatorOf(this: FastifyRequest) {
    const header = this.headers['accept-language'];
    return translator(negotiateLocale(header, this.principal?.language));
  });
  app.setErrorHandler(async (error, request, reply) => {
    const labvirt = toLabvirtError(error, request.id);
    if (labvirt.code === 'INTERNAL') request.log.error({ err: error }, 'request failed');
    // A refusal that ends by itself (the login rate limit) says when to try again (RFC 9110).
    const seconds = labvirt.params['seconds'];
    if (labvirt.status === 429 && typeof seconds === 'number')
      void reply.header('Retry-After', String(seconds));
    // The database is away (stopped, restarting): callers and terminals ask again shortly.
    if (labvirt.code === 'DATABASE_UNAVAILABLE') {
      void reply.header('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS));
      outage.noted(error, `${request.method} ${request.routeOptions.url ?? 'request'}`);
    }
    const tr = request.translator();
    void reply.header('Content-Language', tr.locale);
    return sendProblem(
      reply,
      problemOf(labvirt, request, (msgid) => tr.t(msgid)),
    );
  });
  app.setNotFoundHandler(async (request, reply) => {
    const tr = request.translator();
    void reply.header('Content-Language', tr.locale);
    const error = new LabvirtError('ROUTE_NOT_FOUND', {
      method: request.method,
      url: request.url.split('?')[0] ?? '',
    });
    return sendProblem(
      reply,
      problemOf(error, request, (msgid) => tr.t(msgid)),
    );
  });

  // The API speaks JSON only: a text/plain body (which a cross-site form may send without
  // a CORS preflight) is refused as an unsupported media type, not parsed into a string.
  app.removeContentTypeParser('text/plain');
  await app.register(cookie);
  // The web console's VM console is a WebSocket (routes/console.ts); payloads are RFB frames.
  await app.register(websocket, { options: { maxPayload: 1024 * 1024 } });
  await app.register(authPlugin, { db: ctx.db, now: ctx.now });
  app.addSchema(ProblemSchema);
  await app.register(swagger, {
    // Schemas keep their own names in the document (Problem, Lab…), not def-0, def-1…
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json['$id'] === 'string' ? json['$id'] : `def-${i}`,
    },
    openapi: {
      info: {
        title: 'LabVirt API',
        version: VERSION,
        description: 'Labs, terminals, profiles and hosts of a LabVirt installation.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'An API token (labvirt login)' },
          session: { type: 'apiKey', in: 'cookie', name: 'labvirt_session' },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
  });
  await app.register(async (docs) => {
    // The documentation is public: it describes the API, it reveals no data.
    docs.addHook('onRoute', (route) => {
      route.config ??= {};
      route.config.auth = rule.public;
    });
    await docs.register(swaggerUi, { routePrefix: '/api/docs' });
  });
  await app.register(async (api) => apiRoutes(api, ctx), { prefix: API_PREFIX });
  // Only the terminal endpoint is limited per address (logins have their own limiter).
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) =>
      new LabvirtError('TERMINAL_RATE_LIMITED', { seconds: Math.ceil(context.ttl / 1000) }),
  });
  await app.register(
    async (terminal) =>
      terminalConfigRoutes(terminal, ctx, deps.terminalRateLimit ?? DEFAULT_TERMINAL_RATE_LIMIT),
    { prefix: '/terminal/v1' },
  );
  // Prometheus scrapes /metrics at the root, where it looks by default.
  await app.register(async (root) => metricsRoutes(root, ctx));
  await app.register(webConsole, { root: deps.webRoot });
  return app;
}
