// One agent's event stream, kept open: connects, reads server-sent events, and reconnects
// every 2 s while closed. A stream that says nothing for longer than three pings is taken
// for dead (a host that vanished sends no RST) and opened again. Each (re)open is reported,
// so the caller can reconcile what it may have missed meanwhile.
import type { IncomingMessage } from 'node:http';
import type { AgentHttp } from './agent-http.js';
import { parseSse, type SseEvent } from './sse-parse.js';

export interface EventStreamHandlers {
  readonly onEvent: (event: SseEvent) => void;
  readonly onOpen: () => void;
  /** Why it closed or could not open (for a debug log); it tries again by itself. */
  readonly onProblem?: (error: unknown) => void;
}

export interface EventStreamTiming {
  readonly retryMs?: number;
  readonly idleMs?: number;
  readonly connectTimeoutMs?: number;
}

export class AgentEventStream {
  #http: AgentHttp;
  #handlers: EventStreamHandlers;
  #retryMs: number;
  #idleMs: number;
  #connectTimeoutMs: number;
  #started = false;
  #closed = false;
  #response: IncomingMessage | undefined;
  #retry: NodeJS.Timeout | undefined;
  #idle: NodeJS.Timeout | undefined;

  constructor(http: AgentHttp, handlers: EventStreamHandlers, timing: EventStreamTiming = {}) {
    this.#http = http;
    this.#handlers = handlers;
    this.#retryMs = timing.retryMs ?? 2_000;
    this.#idleMs = timing.idleMs ?? 50_000;
    this.#connectTimeoutMs = timing.connectTimeoutMs ?? 10_000;
  }

  /** Opens it (once; later calls do nothing). */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#connect();
  }

  get open(): boolean {
    return this.#response !== undefined;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#retry);
    clearTimeout(this.#idle);
    this.#response?.destroy();
    this.#response = undefined;
  }

  #connect(): void {
    this.#http.stream('/events', this.#connectTimeoutMs).then(
      (response) => this.#read(response),
      (error: unknown) => this.#lost(error),
    );
  }

  #read(response: IncomingMessage): void {
    if (this.#closed) {
      response.destroy();
      return;
    }
    this.#response = response;
    let buffer = '';
    let done = false;
    const finish = (error: unknown) => {
      if (done) return;
      done = true;
      clearTimeout(this.#idle);
      response.destroy();
      if (this.#response === response) this.#response = undefined;
      this.#lost(error);
    };
    const watch = () => {
      clearTimeout(this.#idle);
      this.#idle = setTimeout(
        () => finish(new Error('the event stream went silent')),
        this.#idleMs,
      );
      this.#idle.unref();
    };
    watch();
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      watch();
      const parsed = parseSse(buffer + chunk);
      buffer = parsed.rest;
      for (const event of parsed.events) {
        try {
          this.#handlers.onEvent(event);
        } catch (error) {
          this.#handlers.onProblem?.(error);
        }
      }
    });
    response.once('error', finish);
    response.once('end', () => finish(new Error('the agent ended the event stream')));
    response.once('close', () => finish(new Error('the event stream closed')));
    try {
      this.#handlers.onOpen();
    } catch (error) {
      this.#handlers.onProblem?.(error);
    }
  }

  #lost(error: unknown): void {
    if (this.#closed) return;
    this.#handlers.onProblem?.(error);
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => this.#connect(), this.#retryMs);
    this.#retry.unref();
  }
}
