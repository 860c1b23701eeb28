// The gateway for one VM: a TCP listener on the host relaying each connection, byte for
// byte, to the VM's display socket (vnc, spice) or to the guest's port (rdp: QEMU's
// loopback forward, or a bridged guest's address). It knows who is connected, which is how
// the agent reports a terminal's connection without anything inside the guest. It runs in
// the gateway daemon (gateway-server.ts), so connections outlive the agent.
import net from 'node:net';
import { LabvirtError } from '../domain/errors.js';
import type { DisplayProtocol } from './host-agent.js';
import { formatPeer, type GatewayTarget, type GatewayView } from './display-plan.js';

export interface GatewayOptions {
  readonly protocol: DisplayProtocol;
  /** The address to listen on ('127.0.0.1' unless the agent is told otherwise). */
  readonly bind: string;
  /** Ports to try in order (0: any free port); the first that binds is used. */
  readonly ports: readonly number[];
  readonly target: GatewayTarget;
  readonly now?: () => Date;
}

interface Relay {
  readonly peer: string;
  readonly since: string;
  relayed: boolean;
  readonly client: net.Socket;
  readonly upstream: net.Socket;
}

export class DisplayGateway {
  readonly protocol: DisplayProtocol;
  readonly port: number;
  #server: net.Server;
  #relays = new Set<Relay>();

  private constructor(protocol: DisplayProtocol, server: net.Server, port: number) {
    this.protocol = protocol;
    this.#server = server;
    this.port = port;
  }

  static async open(options: GatewayOptions): Promise<DisplayGateway> {
    const now = options.now ?? (() => new Date());
    let gateway: DisplayGateway | undefined;
    const server = net.createServer({ noDelay: true }, (client) => {
      if (gateway === undefined) client.destroy();
      else gateway.#relay(client, options.target, now);
    });
    // Every port taken (or none to try): said as what it is, with where it looked.
    let lastError: unknown = new LabvirtError('GATEWAY_NO_PORT', {
      bind: options.bind,
      ports: portsText(options.ports),
    });
    for (const port of options.ports) {
      try {
        await listen(server, options.bind, port);
        const address = server.address();
        if (address === null || typeof address === 'string') throw new Error('not a TCP server');
        gateway = new DisplayGateway(options.protocol, server, address.port);
        return gateway;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'EADDRINUSE' && code !== 'EACCES') throw error;
        lastError = new LabvirtError(
          'GATEWAY_NO_PORT',
          { bind: options.bind, ports: portsText(options.ports) },
          { cause: error },
        );
      }
    }
    throw lastError;
  }

  /** Live connections, with whether each already reaches QEMU (for deduplication). */
  view(): GatewayView {
    return {
      protocol: this.protocol,
      connections: [...this.#relays].map(({ peer, since, relayed, client }) => ({
        peer,
        since,
        relayed,
        bytesIn: client.bytesRead,
        bytesOut: client.bytesWritten,
      })),
    };
  }

  /** Stops listening and cuts the relayed connections. */
  async close(): Promise<void> {
    for (const relay of this.#relays) {
      relay.client.destroy();
      relay.upstream.destroy();
    }
    this.#relays.clear();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #relay(client: net.Socket, target: GatewayTarget, now: () => Date): void {
    const upstream =
      'path' in target
        ? net.createConnection({ path: target.path })
        : net.createConnection({ host: target.host, port: target.port, noDelay: true });
    const relay: Relay = {
      peer: formatPeer(client.remoteAddress, client.remotePort),
      since: now().toISOString(),
      relayed: false,
      client,
      upstream,
    };
    this.#relays.add(relay);
    upstream.once('connect', () => (relay.relayed = true));
    // Either side ending or failing ends both: a half-open relay would look connected.
    const end = () => {
      this.#relays.delete(relay);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on('error', end);
      socket.on('close', end);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }
}

function listen(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      server.off('listening', onListening);
      reject(error);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port, exclusive: true });
  });
}

/** A loopback port free right now, for QEMU's rdp forward (QEMU binds it moments later). */
export async function freeLoopbackPort(): Promise<number> {
  const server = net.createServer();
  await listen(server, '127.0.0.1', 0);
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('not a TCP server');
  return address.port;
}

function portsText(ports: readonly number[]): string {
  if (ports.length === 0) return 'none';
  if (ports.length === 1) return ports[0] === 0 ? 'any free port' : String(ports[0]);
  return `${ports[0]}-${ports[ports.length - 1]}`;
}
