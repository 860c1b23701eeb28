// `labvirt server` without the command line: opens and migrates the database, starts the
// local host's agent in-process and registers the host (unless noLocalHost), connects to
// the enrolled hosts' agents (the pool, refreshed every 5 s), builds the app and listens.
// Tests start it in-process; the CLI command adds flags, signals and log formatting.
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { LabvirtError } from '../domain/errors.js';
import type { LabvirtDb } from '../db/index.js';
import { openMigrated } from '../db/open-migrated.js';
import type { HostAgent, HostNetwork, HostReport } from '../agent/host-agent.js';
import { LocalAgent, type GatewayOptions } from '../agent/local-agent.js';
import { localSupervisor } from '../agent/local-host.js';
import { listenUrl, isLoopback } from './listen-address.js';
import { startScheduler } from './scheduler.js';
import { sourceLocale, translator, type Translator } from '../i18n/translator.js';
import { shellJoin } from '../qemu/cmdline/shell-quote.js';
import { ImageStore } from '../images/image-store.js';
import type { AccelRequest } from '../qemu/cmdline/vm-spec.js';
import type { SignInLinks } from './auth/sign-in-links.js';
import type { Host } from '../db/schema.js';
import { buildApp } from './app.js';
import { AgentPool, REFRESH_INTERVAL_MS, type HostImages } from './agents/agent-pool.js';
import type { ImageEnsurer } from './services/vms.js';
import { ImageDistribution } from './services/image-distribution.js';
import { RemoteAgent } from '../agent/remote/remote-agent.js';
import { DatabaseOutage } from './database-outage.js';

export interface ServerOptions {
  /** The data directory: the SQLite file (without a database URL) and the run directory. */
  readonly dataDir: string;
  readonly host: string;
  /** 0 for any free port (the URL says which). */
  readonly port: number;
  /** A postgres:// URL; unset for SQLite in dataDir. */
  readonly databaseUrl?: string | undefined;
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer } | undefined;
  readonly trustProxy?: number | readonly string[] | undefined;
  /** Secure cookies without TLS here: for a TLS-terminating reverse proxy. */
  readonly secureCookies?: boolean | undefined;
  /** Fastify's (pino's) logger options; false for silence. */
  readonly logger?: FastifyServerOptions['logger'];
  /** The language of the log messages. */
  readonly tr?: Translator;
  /** How the first-admin hint names the program and the data directory. */
  readonly hint?: { readonly program: string; readonly dataDir: string };
  /** Where client VMs' overlays go (a tmpfs, say); each VM's run directory by default. */
  readonly overlayDir?: string | undefined;
  /** The host agent; the in-process LocalAgent on dataDir/run by default. */
  readonly startAgent?: () => Promise<{ agent: HostAgent; adopted: string[] }>;
  /** No agent in-process: this controller runs no VM itself (one of several controllers). */
  readonly noLocalHost?: boolean | undefined;
  /** An enrolled host's agent from its row (a RemoteAgent, pinned to its certificate, by default). */
  readonly connectAgent?: ((host: Host) => HostAgent) | undefined;
  /** Copies versions to hosts that lack them (an ImageDistribution by default). */
  readonly imageDistribution?: (ImageEnsurer & HostImages) | undefined;
  /** How often the hosts are asked for their report (default 5 s). */
  readonly refreshIntervalMs?: number | undefined;
  readonly now?: () => Date;
  /** Where images may be imported from (default: dataDir/import); uploads go to the first. */
  readonly importDirs?: readonly string[] | undefined;
  /** The ISO library of profiles' CD-ROMs (default: dataDir/iso). */
  readonly isoDir?: string | undefined;
  /** How often the idle and timetable policy runs (default 15 s). */
  readonly policyIntervalMs?: number | undefined;
  /** Where VMs' gateways listen, what terminals call this host, which ports they may use. */
  readonly gateway?: GatewayOptions | undefined;
  /** How the local agent's VMs reach the network (user-mode networking by default). */
  readonly network?: HostNetwork | undefined;
  /** Requests per address and minute the terminal endpoint allows. */
  readonly terminalRateLimit?: number | undefined;
  /** The local agent's accelerator (default auto: KVM when usable). */
  readonly accel?: AccelRequest | undefined;
  /** The one-time sign-in links the app accepts (the demo makes one). */
  readonly signInLinks?: SignInLinks | undefined;
  /**
   * Runs once the app, the agent and the host are ready, before the first-admin check and
   * before listening (the demo sets itself up here); a failure stops the start.
   */
  readonly prepare?: ((server: PreparedServer) => Promise<void>) | undefined;
}

/** What `prepare` gets: the app (inject() reaches the API) and the database. */
export interface PreparedServer {
  readonly app: FastifyInstance;
  readonly database: LabvirtDb;
  /** The local host's id; null with noLocalHost. */
  readonly hostId: string | null;
}

export interface RunningServer {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly database: LabvirtDb;
  /** The local host's id; null with noLocalHost. */
  readonly hostId: string | null;
  /** Stops listening, detaches the agent (VMs keep running) and closes the database. */
  close(): Promise<void>;
}

function listenReason(error: unknown, tr: Translator): string {
  switch ((error as NodeJS.ErrnoException).code) {
    case 'EADDRINUSE':
      return tr.t('the address is already in use');
    case 'EACCES':
      return tr.t('permission denied (ports below 1024 need privileges)');
    case 'EADDRNOTAVAIL':
      return tr.t('this machine has no such address');
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return tr.t('unknown host name');
    default:
      return (error as Error).message;
  }
}

/** Fastify's trustProxy: a list of proxies, or a hop count as proxy-addr's (address, hop) rule. */
function trustProxyOption(
  value: number | readonly string[],
): string[] | ((address: string, hop: number) => boolean) {
  if (typeof value === 'number') return (_address, hop) => hop < value;
  return [...value];
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const tr = options.tr ?? translator(sourceLocale);
  const now = options.now ?? (() => new Date());
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step().catch(() => undefined);
    cleanups.length = 0;
  };
  try {
    const images = await openImageStore(options);
    const agentStarting =
      options.noLocalHost === true
        ? undefined
        : (
            options.startAgent ??
            (() =>
              LocalAgent.start(
                localSupervisor(join(options.dataDir, 'run'), {
                  overlayRoot: options.overlayDir,
                  images: images.store,
                }),
                {
                  images: images.store,
                  isoDir: images.isoDir,
                  gatewayBind: options.gateway?.bind,
                  gatewayAddress: options.gateway?.address,
                  gatewayPorts: options.gateway?.ports,
                  network: options.network,
                  accel: options.accel,
                },
              ))
          )();
    agentStarting?.catch(() => undefined); // awaited below; this only marks it handled
    // Close the agent even when something else fails first.
    if (agentStarting !== undefined) cleanups.push(async () => (await agentStarting).agent.close());
    const { database, applied } = await openMigrated(
      options.databaseUrl,
      options.dataDir,
      tr.t('data directory'),
    );
    cleanups.push(() => database.close());
    const local = await agentStarting;
    // The app's logger exists only once the app does; the pool is made before it.
    const appLog: { current?: FastifyInstance['log'] } = {};
    const imageDistribution =
      options.imageDistribution ??
      new ImageDistribution({
        db: database.db,
        now,
        log: {
          info: (facts, message) => appLog.current?.info(facts, message),
          warn: (facts, message) => appLog.current?.warn(facts, message),
        },
      });
    // One outage log for the app's requests and the loops below.
    const outage = new DatabaseOutage(() => appLog.current);
    const pool = new AgentPool({
      db: database.db,
      now,
      log: (error, message) => {
        if (!outage.noted(error, message)) appLog.current?.warn({ err: error }, message);
      },
      local: local?.agent,
      connect: options.connectAgent ?? connectRemote,
      images: imageDistribution,
      onHostOnline: async (hostId) => {
        const reconciled = await app.vms.reconcile(hostId);
        appLog.current?.info(
          { host: hostId, ...reconciled },
          tr.t('VMs: {running} running as recorded, {ended} found ended, {unknown} not LabVirt’s', {
            running: reconciled.running.length,
            ended: reconciled.ended.length,
            unknown: reconciled.unknown.length,
          }),
        );
        await app.dhcp.push();
      },
    });
    cleanups.push(() => pool.close());
    const app = await buildApp({
      images: images.store,
      isoDir: images.isoDir,
      db: database.db,
      now,
      logger: options.logger ?? false,
      ...(options.trustProxy !== undefined
        ? { trustProxy: trustProxyOption(options.trustProxy) }
        : {}),
      ...(options.tls ? { https: { key: options.tls.key, cert: options.tls.cert } } : {}),
      secureCookies: options.secureCookies === true || options.tls !== undefined,
      pool,
      imageDistribution,
      databaseOutage: outage,
      ...(options.signInLinks === undefined ? {} : { signInLinks: options.signInLinks }),
      ...(options.terminalRateLimit === undefined
        ? {}
        : { terminalRateLimit: { max: options.terminalRateLimit, windowMs: 60_000 } }),
    });
    cleanups.push(() => app.close());
    const log = app.log;
    appLog.current = log;
    if (images.removed.length > 0) {
      log.warn(
        { removed: images.removed },
        tr.t('image store: removed {files} left by interrupted operations', {
          files: images.removed.join(', '),
        }),
      );
    }
    log.info(
      { database: database.description, migrations: applied },
      applied.length > 0
        ? tr.t('database {database}: applied migrations {migrations}', {
            database: database.description,
            migrations: applied.join(', '),
          })
        : tr.t('database {database}: schema up to date', { database: database.description }),
    );

    let hostId: string | null = null;
    if (local !== undefined) {
      const { agent, adopted } = local;
      const report = await agent.report();
      hostId = (await pool.localHostId()) ?? null;
      logHost(log, report, adopted, tr);
      if (report.qemu.available) {
        // Invariant 5: the rows follow what the agent runs (none lost, none duplicated).
        const reconciled = await app.vms.reconcile(hostId ?? undefined);
        log.info(
          reconciled,
          tr.t('VMs: {running} running as recorded, {ended} found ended, {unknown} not LabVirt’s', {
            running: reconciled.running.length,
            ended: reconciled.ended.length,
            unknown: reconciled.unknown.length,
          }),
        );
      }
    }
    // The enrolled hosts: asked now and every 5 s; each that comes online is reconciled.
    await pool.refresh();
    // A round that read the hosts' rows reached the database: an outage has ended.
    const refresher = startScheduler(
      () => pool.refresh().then(() => outage.recovered()),
      options.refreshIntervalMs ?? REFRESH_INTERVAL_MS,
      (error) => {
        if (!outage.noted(error, 'refreshing the hosts'))
          log.error({ err: error }, tr.t('refreshing the hosts failed'));
      },
    );
    cleanups.push(() => refresher.stop());
    // The hosts' use, every 10 s, for the web console (the app's close stops it).
    app.metrics.start();
    // The agents' DHCP servers (where they run one) serve the addresses of the labs' pools.
    await app.dhcp.push();
    const scheduler = startScheduler(
      () => app.terminalVms.tick(),
      options.policyIntervalMs ?? 15_000,
      (error) => {
        if (!outage.noted(error, 'the idle and timetable policy'))
          log.error({ err: error }, tr.t('the idle and timetable policy failed'));
      },
    );
    cleanups.push(() => scheduler.stop());

    await options.prepare?.({ app, database, hostId });

    const users = await database.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .executeTakeFirstOrThrow();
    if (Number(users.count) === 0) {
      const hint = options.hint ?? { program: 'labvirt', dataDir: options.dataDir };
      const dataFlag = options.databaseUrl ? [] : ['--data', hint.dataDir];
      const command = `${hint.program} ${shellJoin(['user', 'add', 'NAME', '--role', 'admin', '--password-stdin', ...dataFlag])}`;
      log.warn(
        { command },
        options.databaseUrl
          ? tr.t(
              'there is no user yet: create the first administrator with: {command} (with LABVIRT_DATABASE_URL set as for the server)',
              { command },
            )
          : tr.t('there is no user yet: create the first administrator with: {command}', {
              command,
            }),
      );
    }

    try {
      await app.listen({ host: options.host, port: options.port });
    } catch (error) {
      throw new LabvirtError(
        'LISTEN_FAILED',
        { address: `${options.host}:${options.port}`, reason: listenReason(error, tr) },
        { cause: error },
      );
    }
    const bound = app.server.address();
    const port = typeof bound === 'object' && bound !== null ? bound.port : options.port;
    const url = listenUrl(options.tls ? 'https' : 'http', options.host, port);
    log.info({ url }, tr.t('LabVirt is serving on {url}', { url }));
    if (!isLoopback(options.host) && options.tls === undefined) {
      log.warn(
        tr.t(
          'listening beyond this machine without TLS: use --tls-cert/--tls-key or a TLS-terminating reverse proxy',
        ),
      );
    }
    return {
      url,
      app,
      database,
      hostId,
      close: async () => {
        log.info(tr.t('shutting down; running VMs keep running'));
        await cleanup();
      },
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** An enrolled host's agent: its API at the address it joined with, its certificate pinned. */
function connectRemote(host: Host): HostAgent {
  return new RemoteAgent({
    hostName: host.name,
    url: host.address,
    certificate: host.agent_certificate ?? '',
    secret: host.controller_secret ?? '',
  });
}

/** The image store under the data directory, its import and ISO directories; cleans partial files. */
async function openImageStore(options: ServerOptions) {
  const importDirs = options.importDirs?.length
    ? options.importDirs.map((dir) => resolve(dir))
    : [join(options.dataDir, 'import')];
  const isoDir = resolve(options.isoDir ?? join(options.dataDir, 'iso'));
  const root = join(options.dataDir, 'images');
  await mkdir(root, { recursive: true, mode: 0o755 });
  for (const dir of [...importDirs, isoDir]) await mkdir(dir, { recursive: true, mode: 0o755 });
  const store = new ImageStore({ root, importDirs });
  // What an interrupted import, flatten, clone or upload left (jobs do not survive a restart).
  const removed = await store.removePartialFiles();
  removed.push(...(await store.removePartialUploads()));
  return { store, isoDir, removed };
}

function logHost(
  log: FastifyInstance['log'],
  report: HostReport,
  adopted: readonly string[],
  tr: Translator,
): void {
  const host = report.name;
  if (!report.qemu.available) {
    log.warn(
      { host, problem: report.qemu.problem },
      tr.t(
        'host {host}: QEMU is not usable ({problem}); LabVirt runs, but starts no VM until you install it: apt-get install qemu-system-x86 qemu-utils',
        { host, problem: report.qemu.problem ?? '' },
      ),
    );
  } else {
    log.info(
      { host, qemu: report.qemu.version, kvm: report.kvm.usable },
      tr.t('host {host}: QEMU {version}, {cpus} CPUs, {memory} MiB', {
        host,
        version: report.qemu.version ?? '?',
        cpus: report.cpus,
        memory: report.memoryMiB,
      }),
    );
  }
  if (!report.kvm.usable) {
    log.warn(
      { host, reason: report.kvm.reason },
      tr.t('host {host}: KVM is not usable ({reason}); VMs will run under slow TCG emulation', {
        host,
        reason: report.kvm.reason ?? '',
      }),
    );
  }
  log.info(
    { host, adopted },
    tr.tn(
      'host {host}: adopted {n} running VM',
      'host {host}: adopted {n} running VMs',
      adopted.length,
      { host },
    ) + (adopted.length > 0 ? `: ${adopted.join(', ')}` : ''),
  );
}
