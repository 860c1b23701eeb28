// A plain server-sent events client for tests: one http.get, its text/event-stream parsed
// into messages as they arrive (with the time each arrived), comments counted apart.
import { get, type IncomingHttpHeaders } from 'node:http';
import { waitFor } from './env.js';
import { parseSse as parseBlocks } from '../../src/agent/remote/sse-parse.js';

export interface SseMessage {
  readonly event: string;
  readonly data: unknown;
  /** Date.now() when its last line arrived. */
  readonly at: number;
}

export interface SseClient {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly messages: readonly SseMessage[];
  readonly comments: readonly string[];
  /** Resolves when the server ends the stream (or the connection goes). */
  readonly ended: Promise<void>;
  /** The text of an answer that is not a stream (a problem), once it ended. */
  readonly body: Promise<string>;
  /** Up to timeoutMs for a message (already received or still to come) that matches. */
  next(
    what: string,
    match: (message: SseMessage) => boolean,
    timeoutMs?: number,
  ): Promise<SseMessage>;
  close(): void;
}

/** Parses complete blocks off the buffer (src/agent/remote/sse-parse.ts); returns what is left. */
export function parseSse(
  buffer: string,
  onMessage: (event: string, data: string) => void,
  onComment: (text: string) => void,
): string {
  const { events, comments, rest } = parseBlocks(buffer);
  for (const comment of comments) onComment(comment);
  for (const { event, data } of events) onMessage(event, data);
  return rest;
}

export function openSse(url: string, headers: Record<string, string>): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const request = get(url, { headers: { accept: 'text/event-stream', ...headers } });
    request.once('error', reject);
    request.once('response', (response) => {
      const messages: SseMessage[] = [];
      const comments: string[] = [];
      let buffer = '';
      let body = '';
      response.setEncoding('utf8');
      const ended = new Promise<void>((done) => {
        response.once('end', done);
        response.once('close', done);
        response.once('error', () => done());
      });
      response.on('data', (chunk: string) => {
        if (response.statusCode !== 200) {
          body += chunk;
          return;
        }
        buffer = parseSse(
          buffer + chunk,
          (event, data) => messages.push({ event, data: JSON.parse(data), at: Date.now() }),
          (text) => comments.push(text),
        );
      });
      resolve({
        status: response.statusCode ?? 0,
        headers: response.headers,
        messages,
        comments,
        ended,
        body: ended.then(() => body),
        next: (what, match, timeoutMs = 20_000) =>
          waitFor(what, () => messages.find(match), timeoutMs, 20),
        close: () => request.destroy(),
      });
    });
  });
}
