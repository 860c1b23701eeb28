// The agent's side of the gateway daemon (gateway-daemon.ts): finding the run directory's
// daemon (its pidfile, checked against /proc/PID/cmdline as the supervisor checks QEMU),
// spawning one when none runs, and its control requests. The daemon is spawned detached,
// its output to a log file, and unref'd: it outlives the agent (that is its point) and
// holds none of the agent's pipes.
import { mkdir, readFile } from 'node:fs/promises';
import net from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LabvirtError } from '../domain/errors.js';
import { LineFramer } from '../qemu/qmp/line-framer.js';
import { spawnDetached, terminatePid } from '../system/detached-process.js';
import { procProcessTable, type ProcessTable } from '../system/process-table.js';
import {
  decodeResponse,
  encode,
  gatewayDaemonPaths,
  isDaemonArgv,
  MAX_LINE_LENGTH,
  type GatewayFailure,
  type GatewayRequest,
  type ListenerInfo,
  type OpenListener,
} from './gateway-protocol.js';

// '../agent/': also right from the CLI bundle in dist/src/cli/ (scripts/bundle-cli.ts).
const DAEMON_MODULE = fileURLToPath(new URL('../agent/gateway-daemon.js', import.meta.url));
const REQUEST_TIMEOUT_MS = 10_000;
const START_TIMEOUT_MS = 10_000;

/** What VmDisplay needs of the gateway: the VM's listener, opened, listed, closed. */
export interface GatewayControl {
  /** Opens the VM's listener (or keeps the same one, connections and all); its port. */
  open(request: OpenListener): Promise<number>;
  close(vm: string): Promise<void>;
  list(vm?: string): Promise<ListenerInfo[]>;
}

type Pending = { resolve: (value: Record<string, unknown>) => void; reject: (e: Error) => void };

function unavailable(detail: string): LabvirtError {
  return new LabvirtError('GATEWAY_UNAVAILABLE', { detail });
}

function failure(error: GatewayFailure): LabvirtError {
  if (error.code === 'GATEWAY_NO_PORT')
    return new LabvirtError('GATEWAY_NO_PORT', error.params ?? {});
  return unavailable(error.message);
}

/** One control connection to a daemon. */
export class GatewayClient implements GatewayControl {
  #socket: net.Socket;
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    const framer = new LineFramer({ maxLineLength: MAX_LINE_LENGTH });
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const line of framer.push(chunk)) this.#answer(line);
      } catch {
        this.#end('the gateway daemon sent a line too long');
      }
    });
    socket.on('error', (error) => this.#end(error.message));
    socket.on('close', () => this.#end('the gateway daemon closed the connection'));
  }

  static connect(path: string): Promise<GatewayClient> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection({ path });
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new GatewayClient(socket));
      });
      socket.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  async open(request: OpenListener): Promise<number> {
    const answer = await this.#request({ op: 'open', ...request });
    return answer['port'] as number;
  }

  async close(vm: string): Promise<void> {
    await this.#request({ op: 'close', vm });
  }

  async list(vm?: string): Promise<ListenerInfo[]> {
    const answer = await this.#request(vm === undefined ? { op: 'list' } : { op: 'list', vm });
    return answer['listeners'] as ListenerInfo[];
  }

  /** Ends the control connection; the daemon and its listeners stay. */
  detach(): void {
    this.#socket.destroy();
    this.#end('detached');
  }

  #request(request: DistributiveOmit<GatewayRequest, 'id'>): Promise<Record<string, unknown>> {
    if (this.#closed) return Promise.reject(unavailable('not connected'));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(unavailable(`no answer to ${request.op} within ${REQUEST_TIMEOUT_MS} ms`));
      }, REQUEST_TIMEOUT_MS);
      timer.unref();
      this.#pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.#socket.write(encode({ id, ...request } as GatewayRequest));
    });
  }

  #answer(line: string): void {
    const decoded = decodeResponse(line);
    if (!decoded.ok) return;
    const answer = decoded.value;
    if (answer.id === null) return;
    const pending = this.#pending.get(answer.id);
    if (pending === undefined) return;
    this.#pending.delete(answer.id);
    if (answer.ok) pending.resolve(answer as unknown as Record<string, unknown>);
    else pending.reject(failure(answer.error));
  }

  #end(why: string): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const pending of this.#pending.values()) pending.reject(unavailable(why));
    this.#pending.clear();
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** The pid of the run directory's live daemon, or undefined. */
export async function gatewayDaemonPid(
  runDir: string,
  processes: ProcessTable = procProcessTable,
): Promise<number | undefined> {
  const dir = resolve(runDir);
  const text = await readFile(gatewayDaemonPaths(dir).pidfile, 'utf8').catch(() => '');
  const pid = Number.parseInt(text, 10);
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  const argv = await processes.liveCmdline(pid);
  return argv !== undefined && isDaemonArgv(argv, dir) ? pid : undefined;
}

/**
 * Ends the run directory's daemon (SIGTERM: it closes every listener and connection), and
 * waits for it to go. For tests' teardown and an administrator's full stop.
 */
export async function stopGatewayDaemon(
  runDir: string,
  processes: ProcessTable = procProcessTable,
): Promise<void> {
  const pid = await gatewayDaemonPid(runDir, processes);
  if (pid === undefined) return;
  await terminatePid(processes, pid, { pollMs: 20 });
}

/**
 * The agent's link to its run directory's daemon: connects to the one running, or spawns
 * one; after losing a daemon (killed, say) the next ensure() says `reconnected`, so the
 * agent opens its VMs' listeners again.
 */
export class GatewayLink implements GatewayControl {
  readonly runDir: string;
  #client: GatewayClient | undefined;
  #connecting: Promise<{ client: GatewayClient; reconnected: boolean } | undefined> | undefined;
  #processes: ProcessTable;
  #daemon: string;
  /** After detach (the agent's close): no new connection, one in flight is dropped. */
  #detached = false;

  constructor(runDir: string, options: { processes?: ProcessTable; daemon?: string } = {}) {
    this.runDir = resolve(runDir);
    this.#processes = options.processes ?? procProcessTable;
    this.#daemon = options.daemon ?? DAEMON_MODULE;
  }

  /**
   * The connected daemon; with `spawn`, one is started when none runs (otherwise
   * undefined). `reconnected`: an earlier connection was lost, listeners may be gone.
   */
  ensure(spawnOne: boolean): Promise<{ client: GatewayClient; reconnected: boolean } | undefined> {
    if (this.#detached) return Promise.resolve(undefined);
    const client = this.#client;
    if (client !== undefined && !client.closed) {
      return Promise.resolve({ client, reconnected: false });
    }
    this.#connecting ??= this.#connect(spawnOne).finally(() => (this.#connecting = undefined));
    return this.#connecting;
  }

  /** Whether the daemon it was connected to went away (killed, say). */
  get lost(): boolean {
    return this.#client?.closed === true;
  }

  async open(request: OpenListener): Promise<number> {
    const link = await this.ensure(true);
    if (link === undefined) throw unavailable('not running');
    return link.client.open(request);
  }

  /** Nothing to close when no daemon runs (its listeners went with it). */
  async close(vm: string): Promise<void> {
    const link = await this.ensure(false);
    await link?.client.close(vm);
  }

  async list(vm?: string): Promise<ListenerInfo[]> {
    const client = this.#client;
    if (client === undefined || client.closed) return [];
    return client.list(vm);
  }

  /** Leaves the daemon running (the agent's close). */
  detach(): void {
    this.#detached = true;
    this.#client?.detach();
    this.#client = undefined;
  }

  async #connect(
    spawnOne: boolean,
  ): Promise<{ client: GatewayClient; reconnected: boolean } | undefined> {
    const reconnected = this.#client !== undefined;
    const paths = gatewayDaemonPaths(this.runDir);
    if ((await gatewayDaemonPid(this.runDir, this.#processes)) === undefined) {
      if (!spawnOne) return undefined;
      await this.#spawn();
    }
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      try {
        const client = await GatewayClient.connect(paths.socket);
        if (this.#detached) {
          client.detach(); // its socket would keep the process alive
          return undefined;
        }
        this.#client = client;
        return { client, reconnected };
      } catch (error) {
        // Starting: its pidfile comes after its socket, so mostly it is the spawned one.
        if (Date.now() > deadline) {
          throw unavailable(`no answer on ${paths.socket}: ${(error as Error).message}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }
  }

  async #spawn(): Promise<void> {
    const paths = gatewayDaemonPaths(this.runDir);
    await mkdir(this.runDir, { recursive: true, mode: 0o700 });
    // Errors of the spawn are seen as no answer on the socket.
    await spawnDetached([process.execPath, this.#daemon, this.runDir], paths.log);
  }
}
