// A plain server-sent events client for tests: one http.get, its text/event-stream parsed
// into messages as they arrive (with the time each arrived), comments counted apart.
import { get, type IncomingHttpHeaders } from 'node:http';
import { waitFor } from './env.js';

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

/** Parses complete blocks off the buffer; returns what is left (an incomplete block). */
export function parseSse(
  buffer: string,
  onMessage: (event: string, data: string) => void,
  onComment: (text: string) => void,
): string {
  let rest = buffer;
  for (let end = rest.indexOf('\n\n'); end >= 0; end = rest.indexOf('\n\n')) {
    const block = rest.slice(0, end);
    rest = rest.slice(end + 2);
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) onComment(line.slice(1).trim());
      else if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (data.length > 0) onMessage(event, data.join('\n'));
  }
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
