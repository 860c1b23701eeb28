// The web console's built files (dist/web) served at /: hashed assets under /assets/ cached
// for a year, index.html never cached (it names the current assets), and index.html for the
// single-page app's own paths (/labs/3, /vms/7/console…). /api/ and /terminal/ stay the
// API's: an unknown path there is still a problem+json 404.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LabvirtError } from '../domain/errors.js';
import { rule } from './auth/rules.js';

/** From dist/src/controller/ the built web is dist/web. */
export const defaultWebRoot = fileURLToPath(new URL('../../web/', import.meta.url));

/**
 * What the console's pages may load: only this origin ('self' also covers ws:/wss: to it
 * in current Chromium and Firefox, which the VM console's WebSocket needs); inline styles
 * because React and PatternFly set style attributes; data: images and fonts that Vite and
 * PatternFly inline; never framed (clickjacking).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "style-src 'self' 'unsafe-inline'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
} as const;

export interface WebConsoleOptions {
  /** The built web directory (index.html, assets/); default dist/web. */
  readonly root?: string | undefined;
}

/** Paths the app owns; the SPA fallback never answers them. */
/** A browser's navigation asks for text/html; no Accept, or any type, is taken as yes. */
export function acceptsHtml(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === '') return true;
  return accept
    .split(',')
    .map((part) => part.split(';')[0]?.trim().toLowerCase())
    .some((type) => type === 'text/html' || type === 'text/*' || type === '*/*');
}

function isServerPath(url: string): boolean {
  return /^\/(api|terminal)(\/|$)/.test(url);
}

/** The URL paths of the files outside assets/ (favicon…), read once at start. */
function topFiles(root: string): Set<string> {
  const files = new Set<string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (path !== join(root, 'assets')) walk(path);
      } else if (entry.isFile()) files.add('/' + relative(root, path).split(sep).join('/'));
    }
  };
  walk(root);
  return files;
}

export async function webConsole(
  app: FastifyInstance,
  options: WebConsoleOptions = {},
): Promise<void> {
  const root = options.root ?? defaultWebRoot;
  const built = existsSync(join(root, 'index.html')) && statSync(root).isDirectory();
  const config = { auth: rule.public };
  const schema = { hide: true };

  // Every answer of the console (its pages and assets, not the API's) carries the headers.
  app.addHook('onSend', async (request, reply) => {
    if (!isServerPath(request.url)) void reply.headers(SECURITY_HEADERS);
  });

  if (!built) {
    // A build without the web (tsc alone): say so rather than a bare 404.
    app.get('/*', { config, schema }, async (request, reply) => {
      if (isServerPath(request.url)) return reply.callNotFound();
      throw new LabvirtError('WEB_CONSOLE_NOT_BUILT');
    });
    return;
  }

  const files = topFiles(root);
  // @fastify/static adds its routes without a rule: they serve only the public bundle.
  app.addHook('onRoute', (route) => {
    route.config ??= {};
    route.config.auth ??= rule.public;
  });
  // Vite names assets by content hash: a changed file is a new URL, so they never go stale.
  await app.register(fastifyStatic, {
    root: join(root, 'assets'),
    prefix: '/assets/',
    index: false,
    immutable: true,
    maxAge: '365d',
  });

  const sendIndex = (reply: FastifyReply): FastifyReply =>
    reply
      .header('cache-control', 'no-cache')
      .type('text/html; charset=utf-8')
      .sendFile('index.html', root, { cacheControl: false });

  app.get('/*', { config, schema }, async (request: FastifyRequest, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    if (isServerPath(path)) return reply.callNotFound();
    if (files.has(path) && path !== '/index.html')
      return reply.header('cache-control', 'no-cache').sendFile(path.slice(1), root, {
        cacheControl: false,
      });
    // The app's pages are for browsers: an API client that asks for JSON at a wrong base
    // URL (the CLI with LABVIRT_URL=…/elsewhere) gets the problem+json 404, not a page.
    if (!acceptsHtml(request.headers.accept)) return reply.callNotFound();
    return sendIndex(reply);
  });
}
