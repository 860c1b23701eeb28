// `labvirt agent` without the command line: the host's LocalAgent served by the agent API
// (HTTPS, its own certificate), the join to a controller when asked (listen first: the URL
// sent at join is the one bound), the hello at every start (the controller learns a changed
// URL), and the plain-HTTP metrics listener. The CLI adds flags, signals and log format.
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { isLabvirtError, LabvirtError, phrase } from '../domain/errors.js';
import { sourceLocale, translator, type Translator } from '../i18n/translator.js';
import { listenUrl } from '../controller/listen-address.js';
import { ImageStore } from '../images/image-store.js';
import type { AccelRequest } from '../qemu/cmdline/vm-spec.js';
import { buildAgentApp } from './api/agent-app.js';
import { sha256Hex } from './api/agent-auth.js';
import {
  ensureAgentCertificate,
  readAgentIdentity,
  writeAgentIdentity,
  type AgentIdentity,
  type JoinToken,
} from './agent-identity.js';
import { sayHello } from './agent-hello.js';
import { metricsServer } from './metrics-listener.js';
import { ControllerClient } from './controller-client.js';
import type { HostNetwork, ImageLayer, LayerFetcher } from './host-agent.js';
import { ImageFetcher } from './image-fetcher.js';
import { LocalAgent, type GatewayOptions } from './local-agent.js';
import { localSupervisor } from './local-host.js';

export interface AgentServerOptions {
  readonly dataDir: string;
  readonly listen: { readonly host: string; readonly port: number };
  /** The URL controllers reach the API at; https://<listen host>:<bound port> by default. */
  readonly advertise?: string | undefined;
  /** Where GET /metrics is served (plain HTTP); undefined: nowhere. */
  readonly metricsListen?: { readonly host: string; readonly port: number } | undefined;
  /** Join a controller first (a new or re-enrolled host). */
  readonly join?:
    | {
        readonly url: string;
        readonly pin: string | null;
        readonly token: string;
        readonly name: string;
      }
    | undefined;
  /** The image store (DATA/images by default); shared: the controller's own, nothing fetched. */
  readonly imagesPath?: string | undefined;
  readonly sharedImages?: boolean | undefined;
  readonly isoDir?: string | undefined;
  readonly gateway?: GatewayOptions | undefined;
  readonly network?: HostNetwork | undefined;
  readonly accel?: AccelRequest | undefined;
  readonly cpus?: number | undefined;
  readonly memoryMiB?: number | undefined;
  readonly logger?: FastifyServerOptions['logger'];
  /** The language of the log messages. */
  readonly tr?: Translator;
  /** How long a failed hello waits before it is tried again (30 s). */
  readonly helloRetryMs?: number;
}

export interface RunningAgentServer {
  readonly url: string;
  readonly identity: AgentIdentity;
  readonly app: FastifyInstance;
  readonly metricsUrl: string | undefined;
  /** Stops serving and detaches the agent: its VMs keep running. */
  close(): Promise<void>;
}

export { type JoinToken };

/** The answer of POST /api/v1/agent/join. */
interface Joined {
  readonly hostId: string;
  readonly name: string;
  readonly agentSecret: string;
  readonly controllerSecret: string;
}

function advertisedUrl(listen: { host: string; port: number }, bound: number): string {
  const host = ['0.0.0.0', '::', ''].includes(listen.host) ? hostname() : listen.host;
  return listenUrl('https', host, bound);
}

function listenFailed(address: string, error: unknown): LabvirtError {
  const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  return new LabvirtError('LISTEN_FAILED', { address, reason }, { cause: error });
}

export async function startAgentServer(options: AgentServerOptions): Promise<RunningAgentServer> {
  const dataDir = options.dataDir;
  const tr = options.tr ?? translator(sourceLocale);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  let identity = await readAgentIdentity(dataDir);
  if (identity === undefined && options.join === undefined) {
    throw new LabvirtError('OPTION_INVALID', {
      option: '--join',
      reason: phrase(
        '{path} does not exist: join a controller first with --join URL --token T --name NAME',
        { path: join(dataDir, 'agent.json') },
      ),
    });
  }
  const name = options.join?.name ?? identity?.name ?? '';
  const tls = await ensureAgentCertificate(dataDir, name);

  const imagesRoot = options.imagesPath ?? join(dataDir, 'images');
  await mkdir(imagesRoot, { recursive: true, mode: 0o755 });
  const store = new ImageStore({ root: imagesRoot });
  const isoDir = options.isoDir ?? join(dataDir, 'iso');
  await mkdir(isoDir, { recursive: true, mode: 0o755 });
  // Made once the agent has its credentials (after a join): the fetcher asks the controller.
  let fetcher: ImageFetcher | undefined;
  const controllerOf = (id: AgentIdentity) =>
    new ControllerClient({
      url: id.controllerUrl,
      pinnedSha256: id.controllerCertSha256,
      hostId: id.hostId,
      agentSecret: id.agentSecret,
    });
  const deferredFetcher: LayerFetcher = {
    fetch: (layer: ImageLayer) => {
      if (fetcher === undefined)
        throw new LabvirtError('IMAGE_MISSING_ON_HOST', { host: name, version: layer.versionId });
      return fetcher.fetch(layer);
    },
  };

  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step().catch(() => undefined);
    cleanups.length = 0;
  };
  try {
    let advertised = '';
    const { agent, adopted } = await LocalAgent.start(
      localSupervisor(join(dataDir, 'run'), { images: store }),
      {
        name,
        address: options.advertise,
        images: store,
        isoDir,
        fetcher: options.sharedImages === true ? undefined : deferredFetcher,
        gatewayBind: options.gateway?.bind,
        gatewayAddress: options.gateway?.address,
        gatewayPorts: options.gateway?.ports,
        network: options.network,
        accel: options.accel,
        cpus: options.cpus,
        memoryMiB: options.memoryMiB,
      },
    );
    cleanups.push(() => agent.close());
    const app = await buildAgentApp({
      agent,
      secretHash: () => identity?.controllerSecretHash,
      identity: () => ({ name: identity?.name ?? name, address: advertised }),
      tls: { key: tls.key, cert: tls.cert },
      logger: options.logger ?? false,
    });
    cleanups.push(() => app.close());
    const log = app.log;
    log.info(
      { host: name, adopted },
      tr.tn(
        'host {host}: adopted {n} running VM',
        'host {host}: adopted {n} running VMs',
        adopted.length,
        { host: name },
      ) + (adopted.length > 0 ? `: ${adopted.join(', ')}` : ''),
    );

    try {
      await app.listen({ host: options.listen.host, port: options.listen.port });
    } catch (error) {
      throw listenFailed(`${options.listen.host}:${options.listen.port}`, error);
    }
    const address = app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    advertised = options.advertise ?? advertisedUrl(options.listen, port);

    if (options.join !== undefined) {
      const joinClient = new ControllerClient({
        url: options.join.url,
        pinnedSha256: options.join.pin,
      });
      const claimed = options.join.name;
      const joined = await joinClient
        .request<Joined>('POST', '/api/v1/agent/join', {
          token: options.join.token,
          name: claimed,
          url: advertised,
          certificate: tls.cert,
        })
        .catch((error: unknown) => {
          // The controller's problem names the code; its parameters may not come with it.
          if (isLabvirtError(error) && error.code === 'HOST_IDENTITY_MISMATCH') {
            throw new LabvirtError('HOST_IDENTITY_MISMATCH', {
              enrolled: '?',
              claimed,
              ...error.params,
            });
          }
          throw error;
        });
      identity = {
        hostId: joined.hostId,
        name: joined.name,
        controllerUrl: options.join.url,
        controllerCertSha256: options.join.pin,
        agentSecret: joined.agentSecret,
        controllerSecretHash: sha256Hex(joined.controllerSecret),
      };
      await writeAgentIdentity(dataDir, identity);
      log.info(
        { host: identity.name, hostId: identity.hostId, controller: identity.controllerUrl },
        tr.t('joined controller {url} as host {host}', {
          url: identity.controllerUrl,
          host: identity.name,
        }),
      );
    }
    const current = identity as AgentIdentity;
    const controller = controllerOf(current);
    if (options.sharedImages !== true) fetcher = new ImageFetcher({ store, controller, log });

    const stopHello = sayHello(controller, advertised, {
      log,
      tr,
      retryMs: options.helloRetryMs ?? 30_000,
    });
    cleanups.push(async () => stopHello());

    let metricsUrl: string | undefined;
    if (options.metricsListen !== undefined) {
      const server = metricsServer(agent, (error) => log.error({ err: error }, 'metrics failed'));
      const { host, port: metricsPort } = options.metricsListen;
      await new Promise<void>((resolve, reject) => {
        server.once('error', (error) => reject(listenFailed(`${host}:${metricsPort}`, error)));
        server.listen(metricsPort, host, () => resolve());
      });
      cleanups.push(() => new Promise((resolve) => server.close(resolve)));
      const bound = server.address();
      metricsUrl = listenUrl(
        'http',
        host,
        typeof bound === 'object' && bound !== null ? bound.port : 0,
      );
    }
    log.info(
      { url: advertised, metrics: metricsUrl },
      tr.t('LabVirt agent {host} is serving on {url}', { host: current.name, url: advertised }),
    );
    return {
      url: advertised,
      identity: current,
      app,
      metricsUrl,
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
