// Opening the VM console's WebSocket as a browser would (the `ws` package), for the refusal
// tests: resolves with the open socket, or rejects with the HTTP refusal that came instead
// of the upgrade (status, content type, problem code).
import WebSocket from 'ws';

export interface Refusal extends Error {
  readonly status: number;
  readonly type: string | undefined;
  readonly problem: { readonly code: string };
}

export function openConsole(
  base: string,
  path: string,
  options: { cookie?: string; origin?: string | null } = {},
): Promise<WebSocket> {
  const ws = new WebSocket(`ws${base.slice(4)}${path}`, {
    headers: options.cookie === undefined ? {} : { cookie: options.cookie },
    ...(options.origin === null ? {} : { origin: options.origin ?? base }),
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_request, response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        ws.terminate();
        reject(
          Object.assign(new Error(`HTTP ${response.statusCode}: ${body}`), {
            status: response.statusCode ?? 0,
            type: response.headers['content-type'],
            problem: JSON.parse(body) as { code: string },
          }),
        );
      });
    });
    ws.once('error', reject);
  });
}
