// The server's log lines. pino writes JSON (one object a line), which is what log
// collectors want; on a terminal a person reads "12:00:01 INFO message" instead.

const levels: Readonly<Record<number, string>> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

/** One pino JSON line as text; anything unparsable is passed through. */
export function formatLogLine(line: string): string {
  let entry: {
    level?: number;
    time?: number;
    msg?: string;
    err?: { message?: string };
    req?: { method?: string; url?: string; remoteAddress?: string };
    res?: { statusCode?: number };
    responseTime?: number;
  };
  try {
    entry = JSON.parse(line) as typeof entry;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const time =
    typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 19) : '';
  const level = levels[entry.level ?? 30] ?? String(entry.level);
  const details: string[] = [];
  if (entry.req) details.push(`${entry.req.method ?? ''} ${entry.req.url ?? ''}`.trim());
  if (entry.req?.remoteAddress) details.push(`from ${entry.req.remoteAddress}`);
  if (entry.res?.statusCode !== undefined) details.push(String(entry.res.statusCode));
  if (typeof entry.responseTime === 'number') details.push(`${Math.round(entry.responseTime)} ms`);
  if (entry.err?.message) details.push(entry.err.message);
  const suffix = details.length > 0 ? `: ${details.join(' ')}` : '';
  return `${time} ${level.padEnd(5)} ${entry.msg ?? ''}${suffix}\n`;
}

/** A pino destination writing text lines to `out`. */
export function textLogStream(out: (text: string) => void): { write(line: string): void } {
  return {
    write: (chunk) =>
      chunk
        .split('\n')
        .filter(Boolean)
        .forEach((line) => out(formatLogLine(line))),
  };
}
