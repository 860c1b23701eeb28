// The wire format of server-sent events (the HTML standard's text/event-stream): pure, so
// the route stays about connections and the tests about bytes.

/** The answer's headers: no caching, and no buffering by a reverse proxy (nginx). */
export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache',
  'X-Accel-Buffering': 'no',
};

/** A comment line: keeps proxies and the browser from thinking the stream died. */
export const SSE_PING = ': ping\n\n';

/** One message; JSON escapes every line break, so the data is one `data:` line. */
export function sseMessage(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

// Whether the Accept header asks for an event stream (EventSource sends text/event-stream,
// curl "*/*"). A client that does not say so gets a 406, not a stream that never ends.
export function acceptsEventStream(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  return accept.split(',').some((part) => {
    const [range = '', ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    const refused = params.some((param) => /^q=0(\.0*)?$/.test(param));
    return !refused && ['text/event-stream', 'text/*', '*/*'].includes(range);
  });
}
