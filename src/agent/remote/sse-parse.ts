// The text/event-stream format, read: complete blocks off a buffer, the rest kept for the
// next chunk: `event:` and `data:` lines, and comments (a server's pings).

export interface SseEvent {
  readonly event: string;
  readonly data: string;
}

/**
 * Parses the complete blocks of `buffer`; returns their events, their comments (a server's
 * pings) and what is left (incomplete).
 */
export function parseSse(buffer: string): { events: SseEvent[]; comments: string[]; rest: string } {
  const events: SseEvent[] = [];
  const comments: string[] = [];
  let rest = buffer.replaceAll('\r\n', '\n');
  for (let end = rest.indexOf('\n\n'); end >= 0; end = rest.indexOf('\n\n')) {
    const block = rest.slice(0, end);
    rest = rest.slice(end + 2);
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) comments.push(line.slice(1).trim());
      else if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (data.length > 0) events.push({ event, data: data.join('\n') });
  }
  return { events, comments, rest };
}
