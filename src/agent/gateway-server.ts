// The gateway daemon's state: one DisplayGateway per VM, driven over the control socket
// (gateway-protocol.ts). Requests are handled one at a time, so an open and a close of the
// same VM cannot interleave. With no listener and no agent connected for a while it says
// so (onIdle), so the daemon does not linger once nothing needs it.
import net from 'node:net';
import { isLabvirtError } from '../domain/errors.js';
import { LineFramer } from '../qemu/qmp/line-framer.js';
import { DisplayGateway } from './gateway.js';
import {
  decodeRequest,
  encode,
  MAX_LINE_LENGTH,
  sameListener,
  type GatewayRequest,
  type GatewayResponse,
  type ListenerInfo,
  type OpenListener,
} from './gateway-protocol.js';

interface Entry {
  readonly request: OpenListener;
  readonly gateway: DisplayGateway;
}

export interface GatewayServerOptions {
  /** Called once nothing has been open or connected for idleMs. */
  readonly onIdle?: (() => void) | undefined;
  readonly idleMs?: number | undefined;
  readonly log?: ((line: string) => void) | undefined;
}

export class GatewayServer {
  #control: net.Server;
  #entries = new Map<string, Entry>();
  #clients = new Set<net.Socket>();
  #queue: Promise<unknown> = Promise.resolve();
  #options: GatewayServerOptions;
  #idleTimer: NodeJS.Timeout | undefined;

  private constructor(options: GatewayServerOptions) {
    this.#control = net.createServer((socket) => this.#serve(socket));
    this.#options = options;
  }

  /** Listens for agents on the Unix socket at `path` (made 0600 by the caller's umask). */
  static async listen(path: string, options: GatewayServerOptions = {}): Promise<GatewayServer> {
    const server = new GatewayServer(options);
    const control = server.#control;
    await new Promise<void>((resolve, reject) => {
      control.once('error', reject);
      control.listen(path, () => {
        control.off('error', reject);
        resolve();
      });
    });
    server.#checkIdle();
    return server;
  }

  /** Answers one request (the socket's lines come here, in order). */
  handle(request: GatewayRequest): Promise<GatewayResponse> {
    const next = this.#queue.then(() => this.#handle(request));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** Closes every listener (cutting its connections) and the control socket. */
  async close(): Promise<void> {
    clearTimeout(this.#idleTimer);
    for (const socket of this.#clients) socket.destroy();
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    await Promise.all(entries.map((entry) => entry.gateway.close()));
    await new Promise<void>((resolve) => this.#control.close(() => resolve()));
  }

  async #handle(request: GatewayRequest): Promise<GatewayResponse> {
    const { id } = request;
    try {
      switch (request.op) {
        case 'open': {
          const { vm, protocol, bind, ports, target } = request;
          return { id, ok: true, port: await this.#open({ vm, protocol, bind, ports, target }) };
        }
        case 'close':
          await this.#close(request.vm);
          return { id, ok: true };
        case 'list':
          return { id, ok: true, listeners: this.#list(request.vm) };
      }
    } catch (error) {
      if (isLabvirtError(error) && error.code === 'GATEWAY_NO_PORT') {
        const params = Object.fromEntries(
          Object.entries(error.params).map(([key, value]) => [key, String(value)]),
        );
        return { id, ok: false, error: { code: error.code, message: error.message, params } };
      }
      return { id, ok: false, error: { code: 'FAILED', message: String(error) } };
    }
  }

  /** The same listener again keeps it (connections and all); a different one replaces it. */
  async #open(wanted: OpenListener): Promise<number> {
    const existing = this.#entries.get(wanted.vm);
    if (existing !== undefined && sameListener(existing.request, wanted)) {
      return existing.gateway.port;
    }
    if (existing !== undefined) await this.#close(wanted.vm);
    const gateway = await DisplayGateway.open(wanted);
    this.#entries.set(wanted.vm, { request: wanted, gateway });
    this.#options.log?.(`open ${wanted.vm} ${wanted.protocol} on ${wanted.bind}:${gateway.port}`);
    this.#checkIdle();
    return gateway.port;
  }

  async #close(vm: string): Promise<void> {
    const entry = this.#entries.get(vm);
    if (entry === undefined) return;
    this.#entries.delete(vm);
    await entry.gateway.close();
    this.#options.log?.(`closed ${vm}`);
    this.#checkIdle();
  }

  #list(vm: string | undefined): ListenerInfo[] {
    const entries = [...this.#entries.values()].filter(
      (e) => vm === undefined || e.request.vm === vm,
    );
    return entries.map(({ request, gateway }) => ({
      ...request,
      ports: [...request.ports],
      port: gateway.port,
      connections: gateway.view().connections,
    }));
  }

  #serve(socket: net.Socket): void {
    this.#clients.add(socket);
    this.#checkIdle();
    const framer = new LineFramer({ maxLineLength: MAX_LINE_LENGTH });
    const answer = (response: GatewayResponse) => {
      if (!socket.destroyed) socket.write(encode(response));
    };
    socket.on('data', (chunk: Buffer) => {
      let lines: string[];
      try {
        lines = framer.push(chunk);
      } catch {
        // A line beyond any real request: the stream cannot be resynchronised.
        answer({ id: null, ok: false, error: { code: 'BAD_REQUEST', message: 'line too long' } });
        socket.end();
        return;
      }
      for (const line of lines) {
        const decoded = decodeRequest(line);
        if (!decoded.ok) {
          answer({
            id: decoded.id,
            ok: false,
            error: { code: 'BAD_REQUEST', message: decoded.message },
          });
          continue;
        }
        void this.handle(decoded.value).then(answer);
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.#clients.delete(socket);
      this.#checkIdle();
    });
  }

  #checkIdle(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    const onIdle = this.#options.onIdle;
    if (onIdle === undefined || this.#entries.size > 0 || this.#clients.size > 0) return;
    this.#idleTimer = setTimeout(onIdle, this.#options.idleMs ?? 30_000);
  }
}
