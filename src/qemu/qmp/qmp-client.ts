// A client for QEMU's machine protocol (QMP) over a Unix socket: greeting and capability
// negotiation, commands correlated with their replies by id (so replies may come in any
// order), per-command timeouts, and asynchronous events. Any failure of the connection
// rejects every pending command, so no caller ever waits forever on a dead QEMU.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { LabvirtError } from '../../domain/errors.js';
import { LineFramer } from './line-framer.js';

export const DEFAULT_QMP_TIMEOUT_MS = 10_000;

export interface QmpVersion {
  readonly major: number;
  readonly minor: number;
  readonly micro: number;
  /** Distribution build string, e.g. "Debian 1:7.2+dfsg-7". */
  readonly package: string;
}

/** The body of QEMU's greeting line {"QMP": {...}}. */
export interface QmpGreeting {
  readonly version: { readonly qemu: Omit<QmpVersion, 'package'>; readonly package: string };
  readonly capabilities: readonly string[];
}

export interface QmpEvent {
  readonly event: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly timestamp: { readonly seconds: number; readonly microseconds: number };
}

export interface QmpClientOptions {
  /** Default timeout of each command. */
  readonly timeoutMs?: number;
  /** Time allowed for the greeting and the negotiation; defaults to timeoutMs. */
  readonly connectTimeoutMs?: number;
  /** Opens the byte stream; tests and alternative transports replace net.createConnection. */
  readonly socketFactory?: (path: string) => Duplex;
  /** Longest message line accepted (default 16 MiB); longer is a protocol error. */
  readonly maxLineLength?: number;
}

export interface WaitForEventOptions {
  readonly timeoutMs?: number;
  /** Only an event for which this returns true resolves the wait. */
  readonly predicate?: (event: QmpEvent) => boolean;
}

/** A command QEMU answered with an error; errorClass is QMP's class (CommandNotFound...). */
export class QmpCommandError extends LabvirtError {
  readonly errorClass: string;
  constructor(command: string, errorClass: string, desc: string) {
    super('QMP_COMMAND_FAILED', { command, class: errorClass, desc });
    this.name = 'QmpCommandError';
    this.errorClass = errorClass;
  }
}

/**
 * 'close' carries a reason when the connection failed (protocol error, connect timeout, a
 * socket error such as ENOENT); it is undefined when the peer simply went away (end of
 * stream, ECONNRESET, EPIPE) or close() was called.
 */
export type QmpClientEvents = {
  event: [event: QmpEvent];
  close: [reason: Error | undefined];
};

interface Pending {
  readonly command: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: LabvirtError) => void;
  readonly timer: NodeJS.Timeout;
}

type Phase = 'greeting' | 'negotiating' | 'ready' | 'closed';

export class QmpClient extends EventEmitter<QmpClientEvents> {
  readonly #socket: Duplex;
  readonly #timeoutMs: number;
  readonly #framer: LineFramer;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #phase: Phase = 'greeting';
  #greeting: QmpGreeting | undefined;
  #onGreeting: ((error?: LabvirtError) => void) | undefined;

  private constructor(socket: Duplex, timeoutMs: number, maxLineLength: number | undefined) {
    super();
    this.#socket = socket;
    this.#timeoutMs = timeoutMs;
    this.#framer = new LineFramer(maxLineLength === undefined ? {} : { maxLineLength });
    socket.on('data', (chunk: Buffer | string) => this.#onData(chunk));
    // A listener on 'error' is what keeps a socket error from crashing the process.
    socket.on('error', (error: NodeJS.ErrnoException) => this.#shutdown(undefined, error));
    socket.on('end', () => this.#shutdown());
    socket.on('close', () => this.#shutdown());
  }

  /** Connects, reads the greeting and negotiates capabilities; resolves when ready. */
  static async connect(socketPath: string, options: QmpClientOptions = {}): Promise<QmpClient> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_QMP_TIMEOUT_MS;
    const connectTimeoutMs = options.connectTimeoutMs ?? timeoutMs;
    const socket = (options.socketFactory ?? net.createConnection)(socketPath);
    const client = new QmpClient(socket, timeoutMs, options.maxLineLength);
    const timer = setTimeout(() => {
      const command = client.#phase === 'greeting' ? 'greeting' : 'qmp_capabilities';
      client.#shutdown(new LabvirtError('QMP_TIMEOUT', { command, ms: connectTimeoutMs }));
    }, connectTimeoutMs);
    try {
      await new Promise<void>((resolve, reject) => {
        client.#onGreeting = (error) => (error ? reject(error) : resolve());
      });
      await client.#send('qmp_capabilities', undefined, connectTimeoutMs);
      client.#phase = 'ready';
      return client;
    } catch (error) {
      client.#shutdown(); // e.g. qmp_capabilities refused: the connection is of no use
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  get greeting(): QmpGreeting {
    return this.#greeting as QmpGreeting; // set before connect() resolves
  }

  get version(): QmpVersion {
    const { qemu, package: pkg } = this.greeting.version;
    return { major: qemu.major, minor: qemu.minor, micro: qemu.micro, package: pkg };
  }

  get closed(): boolean {
    return this.#phase === 'closed';
  }

  /** Runs a command; resolves with its "return" value, rejects with a LabvirtError. */
  execute<T = unknown>(
    command: string,
    args?: Record<string, unknown>,
    options: { timeoutMs?: number } = {},
  ): Promise<T> {
    return this.#send(command, args, options.timeoutMs ?? this.#timeoutMs) as Promise<T>;
  }

  /** Resolves with the next event of that name (and matching the predicate). */
  waitForEvent(name: string, options: WaitForEventOptions = {}): Promise<QmpEvent> {
    const label = `event ${name}`;
    if (this.closed) return Promise.reject(new LabvirtError('QMP_CLOSED', { command: label }));
    const ms = options.timeoutMs ?? this.#timeoutMs;
    return new Promise((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.off('event', onEvent);
        this.off('close', onClose);
      };
      const onEvent = (event: QmpEvent): void => {
        if (event.event !== name || (options.predicate && !options.predicate(event))) return;
        finish();
        resolve(event);
      };
      const onClose = (reason: Error | undefined): void => {
        finish();
        // A broken stream is reported as such, like it is to pending commands.
        const broken = reason instanceof LabvirtError && reason.code === 'QMP_PROTOCOL';
        reject(broken ? reason : new LabvirtError('QMP_CLOSED', { command: label }));
      };
      const timer = setTimeout(() => {
        finish();
        reject(new LabvirtError('QMP_TIMEOUT', { command: label, ms }));
      }, ms);
      this.on('event', onEvent);
      this.on('close', onClose);
    });
  }

  /** Ends the connection; pending commands are rejected with QMP_CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return;
    const closed = new Promise<void>((resolve) => this.once('close', () => resolve()));
    // end() flushes what was written; destroy() then guarantees 'close' even if the peer
    // never answers our FIN.
    this.#socket.end(() => this.#socket.destroy());
    await closed;
  }

  #send(command: string, args: Record<string, unknown> | undefined, ms: number): Promise<unknown> {
    if (this.closed) return Promise.reject(new LabvirtError('QMP_CLOSED', { command }));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // Forgetting the id is what makes a late reply harmless: it is then unknown.
        this.#pending.delete(id);
        reject(new LabvirtError('QMP_TIMEOUT', { command, ms }));
      }, ms);
      this.#pending.set(id, { command, resolve, reject, timer });
      const message =
        args === undefined ? { execute: command, id } : { execute: command, arguments: args, id };
      this.#socket.write(`${JSON.stringify(message)}\n`);
    });
  }

  #onData(chunk: Buffer | string): void {
    if (this.closed) return;
    let lines: string[];
    try {
      lines = this.#framer.push(chunk);
    } catch (error) {
      this.#shutdown(error as LabvirtError);
      return;
    }
    for (const line of lines) {
      let message: Record<string, unknown>;
      try {
        message = parseMessage(line);
        if (this.#phase === 'greeting') {
          this.#greeting = parseGreeting(message);
          this.#phase = 'negotiating';
          this.#onGreeting?.();
          this.#onGreeting = undefined;
          continue;
        }
      } catch (error) {
        this.#shutdown(error as LabvirtError);
        return;
      }
      // Outside the try: an exception thrown by an 'event' listener is the listener's bug,
      // not a protocol error, and must not be disguised as one.
      this.#onMessage(message);
    }
  }

  #onMessage(message: Record<string, unknown>): void {
    if (typeof message['event'] === 'string') {
      this.emit('event', toEvent(message));
      return;
    }
    if (!('return' in message) && !('error' in message)) return; // a repeated greeting, say
    const id = message['id'];
    const pending = typeof id === 'number' ? this.#pending.get(id) : undefined;
    if (!pending) return; // a late reply to a timed-out command, or one sent by no one
    this.#pending.delete(id as number);
    clearTimeout(pending.timer);
    if ('return' in message) {
      pending.resolve(message['return']);
      return;
    }
    const error = asRecord(message['error']);
    pending.reject(
      new QmpCommandError(
        pending.command,
        typeof error?.['class'] === 'string' ? error['class'] : 'GenericError',
        typeof error?.['desc'] === 'string' ? error['desc'] : JSON.stringify(message['error']),
      ),
    );
  }

  /**
   * Tears the connection down once, whatever the cause: pending commands are rejected with
   * the protocol error that broke the stream, or else QMP_CLOSED; then 'close' is emitted.
   */
  #shutdown(reason?: LabvirtError, cause?: NodeJS.ErrnoException): void {
    if (this.closed) return;
    this.#phase = 'closed';
    this.#socket.destroy();
    const rejection = (command: string): LabvirtError =>
      reason ?? new LabvirtError('QMP_CLOSED', { command }, { cause });
    this.#onGreeting?.(rejection('greeting'));
    this.#onGreeting = undefined;
    for (const [id, pending] of this.#pending) {
      clearTimeout(pending.timer);
      this.#pending.delete(id);
      pending.reject(rejection(pending.command));
    }
    this.emit('close', reason ?? (isPeerGone(cause) ? undefined : cause));
  }
}

/** A reset or broken pipe is how a QEMU that quit or died can look: an end, not a fault. */
function isPeerGone(error: NodeJS.ErrnoException | undefined): boolean {
  return error?.code === 'ECONNRESET' || error?.code === 'EPIPE';
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function protocolError(detail: string): LabvirtError {
  return new LabvirtError('QMP_PROTOCOL', { detail });
}

function parseMessage(line: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw protocolError(`not JSON: ${line.slice(0, 80)}`);
  }
  const record = asRecord(value);
  if (!record) throw protocolError(`not a JSON object: ${line.slice(0, 80)}`);
  return record;
}

function parseGreeting(message: Record<string, unknown>): QmpGreeting {
  const body = asRecord(message['QMP']);
  const version = asRecord(body?.['version']);
  const qemu = asRecord(version?.['qemu']);
  const numbers = ['major', 'minor', 'micro'].map((key) => qemu?.[key]);
  if (!body || !qemu || !numbers.every((n) => typeof n === 'number')) {
    throw protocolError('the first message is not a QMP greeting');
  }
  const [major, minor, micro] = numbers as [number, number, number];
  const capabilities = Array.isArray(body['capabilities']) ? body['capabilities'] : [];
  return {
    version: {
      qemu: { major, minor, micro },
      package: typeof version?.['package'] === 'string' ? version['package'] : '',
    },
    capabilities: capabilities.filter((c): c is string => typeof c === 'string'),
  };
}

function toEvent(message: Record<string, unknown>): QmpEvent {
  const timestamp = asRecord(message['timestamp']);
  return {
    event: message['event'] as string,
    data: asRecord(message['data']) ?? {},
    timestamp: {
      seconds: typeof timestamp?.['seconds'] === 'number' ? timestamp['seconds'] : 0,
      microseconds: typeof timestamp?.['microseconds'] === 'number' ? timestamp['microseconds'] : 0,
    },
  };
}
