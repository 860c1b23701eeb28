// An in-process stand-in for QEMU's QMP socket, scriptable from a test: what to answer to
// each command, when (or never), events to push, writes cut into small chunks, garbage, a
// dropped connection. It exists to test the client's framing and correlation, which real
// QEMU cannot be made to exercise on demand; the integration test covers the real thing.
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface FakeRequest {
  readonly execute: string;
  readonly arguments: Record<string, unknown> | undefined;
  readonly id: unknown;
}

export interface FakeEvent {
  readonly event: string;
  readonly data?: Record<string, unknown>;
}

/** What a handler answers. 'silent' never answers; the test may answer later with reply(). */
export type FakeReply =
  | 'silent'
  | {
      readonly return?: unknown;
      readonly error?: { readonly class: string; readonly desc: string };
      /** Wait this long before answering. */
      readonly delayMs?: number;
      /** Events sent just before the answer. */
      readonly eventsBefore?: readonly FakeEvent[];
    };

export type FakeHandler = (request: FakeRequest) => FakeReply;

export interface FakeQmpServerOptions {
  /** The raw greeting line (no newline), or false to never greet. */
  readonly greeting?: string | false;
}

export const QEMU_7_2_GREETING = JSON.stringify({
  QMP: {
    version: { qemu: { micro: 22, minor: 2, major: 7 }, package: 'Debian 1:7.2+dfsg-7' },
    capabilities: ['oob'],
  },
});

export class FakeQmpServer {
  readonly path: string;
  /** Every command received, in order, qmp_capabilities included. */
  readonly received: FakeRequest[] = [];
  /** Split every outgoing write into chunks of this many bytes, sent a few ms apart. */
  chunkSize: number | undefined;
  readonly #dir: string;
  readonly #server: net.Server;
  readonly #greeting: string | false;
  readonly #handlers = new Map<string, FakeHandler>();
  readonly #waiters: { command: string; resolve: (request: FakeRequest) => void }[] = [];
  #socket: net.Socket | undefined;
  #connected: Promise<net.Socket>;
  #onConnect: (socket: net.Socket) => void = () => undefined;
  // Writes are chained so that chunked, delayed writes never interleave.
  #writing: Promise<void> = Promise.resolve();

  private constructor(dir: string, options: FakeQmpServerOptions) {
    this.#dir = dir;
    this.path = path.join(dir, 'qmp.sock');
    this.#greeting = options.greeting ?? QEMU_7_2_GREETING;
    this.#connected = this.#nextConnection();
    this.#server = net.createServer((socket) => this.#accept(socket));
    this.handle('qmp_capabilities', () => ({ return: {} }));
  }

  static async start(options: FakeQmpServerOptions = {}): Promise<FakeQmpServer> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'labvirt-fakeqmp-'));
    const fake = new FakeQmpServer(dir, options);
    await new Promise<void>((resolve, reject) => {
      fake.#server.once('error', reject);
      fake.#server.listen(fake.path, resolve);
    });
    return fake;
  }

  /** Answers a command; commands without a handler get QEMU's CommandNotFound. */
  handle(command: string, handler: FakeHandler): void {
    this.#handlers.set(command, handler);
  }

  /** Resolves with the next request for that command; call it before the command is sent. */
  waitForCommand(command: string): Promise<FakeRequest> {
    return new Promise((resolve) => this.#waiters.push({ command, resolve }));
  }

  /** Resolves once a client is connected. */
  connection(): Promise<net.Socket> {
    return this.#connected;
  }

  reply(request: FakeRequest, answer: { return: unknown } | { error: object }): Promise<void> {
    return this.sendMessage({ ...answer, id: request.id });
  }

  sendEvent(event: string, data: Record<string, unknown> = {}): Promise<void> {
    return this.sendMessage(eventMessage({ event, data }));
  }

  sendMessage(message: object): Promise<void> {
    return this.sendRaw(`${JSON.stringify(message)}\n`);
  }

  /** Sends bytes as they are: several messages at once, half a message, garbage. */
  sendRaw(text: string | Buffer): Promise<void> {
    const bytes = Buffer.from(text);
    this.#writing = this.#writing.then(async () => {
      const socket = await this.#connected;
      const size = this.chunkSize ?? bytes.length;
      for (let at = 0; at < bytes.length; at += size) {
        if (socket.destroyed) return;
        socket.write(bytes.subarray(at, at + size));
        if (size < bytes.length) await sleep(2); // so the client reads each chunk apart
      }
    });
    return this.#writing;
  }

  /** Drops the current connection abruptly, as a crashing QEMU would. */
  dropConnection(): void {
    this.#socket?.destroy();
  }

  async close(): Promise<void> {
    this.dropConnection();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await rm(this.#dir, { recursive: true, force: true });
  }

  #nextConnection(): Promise<net.Socket> {
    return new Promise((resolve) => (this.#onConnect = resolve));
  }

  #accept(socket: net.Socket): void {
    this.#socket = socket;
    this.#onConnect(socket);
    this.#connected = Promise.resolve(socket);
    socket.on('error', () => undefined); // the client may vanish mid-write; that is fine here
    socket.on('close', () => {
      if (this.#socket === socket) this.#connected = this.#nextConnection();
    });
    let buffer = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      let newline: number;
      while ((newline = buffer.indexOf('\n')) !== -1) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (line.trim() !== '') this.#onRequest(JSON.parse(line) as FakeRequest);
      }
    });
    if (this.#greeting !== false) void this.sendRaw(`${this.#greeting}\n`);
  }

  #onRequest(request: FakeRequest): void {
    this.received.push(request);
    const index = this.#waiters.findIndex((waiter) => waiter.command === request.execute);
    if (index !== -1) this.#waiters.splice(index, 1)[0]?.resolve(request);
    const notFound: FakeHandler = () => ({
      error: {
        class: 'CommandNotFound',
        desc: `The command ${request.execute} has not been found`,
      },
    });
    const handler = this.#handlers.get(request.execute) ?? notFound;
    const answer = handler(request);
    if (answer === 'silent') return;
    void (async () => {
      if (answer.delayMs !== undefined) await sleep(answer.delayMs);
      const events = (answer.eventsBefore ?? []).map(eventMessage);
      const body = answer.error ? { error: answer.error } : { return: answer.return ?? {} };
      const lines = [...events, { ...body, id: request.id }].map((m) => JSON.stringify(m));
      // One write: the events and the answer reach the client in a single chunk.
      await this.sendRaw(lines.map((line) => `${line}\n`).join(''));
    })();
  }
}

function eventMessage(event: FakeEvent): object {
  const now = Date.now();
  return {
    event: event.event,
    data: event.data ?? {},
    timestamp: { seconds: Math.floor(now / 1000), microseconds: (now % 1000) * 1000 },
  };
}
