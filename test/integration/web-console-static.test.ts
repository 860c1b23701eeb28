// The server serves the built web console: index.html for / and the app's own paths
// (uncached, with the security headers), hashed assets cached for a year, and the API's
// unknown paths still problem+json. A build without the web answers 503, not a crash.
// The web directory here is a small stand-in written by the test (the e2e tests use the
// real Vite build).
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createApiFixture, problem, type ApiFixture } from '../helpers/api.js';
import { dialects } from '../helpers/databases.js';
import { tempDir } from '../helpers/env.js';

const sqlite = dialects.find((dialect) => dialect.name === 'sqlite')!;
const INDEX = '<!doctype html><title>LabVirt</title><script src="/assets/app-3f2a9c.js"></script>';
const SCRIPT = 'console.log("the console");\n';

function assertSecurityHeaders(headers: Record<string, unknown>, what: string): void {
  const csp = String(headers['content-security-policy']);
  for (const directive of [
    "default-src 'self'",
    "connect-src 'self'",
    "img-src 'self' data: blob:",
    "style-src 'self' 'unsafe-inline'",
    "frame-ancestors 'none'",
  ])
    assert.ok(csp.includes(directive), `${what}: CSP has ${directive} (${csp})`);
  assert.ok(!/script-src[^;]*unsafe/.test(csp), `${what}: no unsafe scripts`);
  assert.equal(headers['x-content-type-options'], 'nosniff', what);
  assert.equal(headers['referrer-policy'], 'same-origin', what);
}

describe('web console files', () => {
  let web: { path: string; cleanup: () => Promise<void> };
  let f: ApiFixture;
  before(async () => {
    web = await tempDir('lv-web-');
    await mkdir(join(web.path, 'assets'));
    await writeFile(join(web.path, 'index.html'), INDEX);
    await writeFile(join(web.path, 'assets/app-3f2a9c.js'), SCRIPT);
    await writeFile(join(web.path, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    f = await createApiFixture(sqlite, { webRoot: web.path });
  });
  after(async () => {
    await f?.close();
    await web?.cleanup();
  });

  it('answers index.html, uncached and with the security headers, for / and the app paths', async () => {
    for (const url of [
      '/',
      '/index.html',
      '/login',
      '/labs/x',
      '/vms/0b7c/console',
      '/settings?tab=1',
      '/apiary',
      '/terminals',
    ]) {
      const response = await f.request({ method: 'GET', url });
      assert.equal(response.statusCode, 200, url);
      assert.equal(response.body, INDEX, url);
      assert.match(String(response.headers['content-type']), /^text\/html/, url);
      assert.equal(response.headers['cache-control'], 'no-cache', url);
      assertSecurityHeaders(response.headers, url);
    }
    const head = await f.request({ method: 'HEAD', url: '/labs' });
    assert.equal(head.statusCode, 200);
  });

  it('serves hashed assets with a long cache, and other files uncached', async () => {
    const asset = await f.request({ method: 'GET', url: '/assets/app-3f2a9c.js' });
    assert.equal(asset.statusCode, 200);
    assert.equal(asset.body, SCRIPT);
    assert.match(String(asset.headers['content-type']), /javascript/);
    const cache = String(asset.headers['cache-control']);
    assert.match(cache, /max-age=31536000/);
    assert.match(cache, /immutable/);
    assert.equal(asset.headers['x-content-type-options'], 'nosniff');

    const icon = await f.request({ method: 'GET', url: '/favicon.svg' });
    assert.equal(icon.statusCode, 200);
    assert.match(String(icon.headers['content-type']), /svg/);
    assert.equal(icon.headers['cache-control'], 'no-cache');

    // A missing asset is a 404, not the app's page (a stale bundle must fail visibly).
    const missing = await f.request({ method: 'GET', url: '/assets/app-000000.js' });
    assert.equal(missing.statusCode, 404);
    assert.doesNotMatch(missing.body, /<title>/);
  });

  it('leaves the API and the terminal endpoint their problem+json 404s', async () => {
    for (const url of [
      '/api/v1/nope',
      '/api/nope',
      '/api',
      '/terminal/v2/x',
      '/api/v1/labs/x/y/z',
    ]) {
      const response = await f.request({ method: 'GET', url });
      problem(response, 404, 'ROUTE_NOT_FOUND', url);
      assert.equal(response.headers['content-security-policy'], undefined, url);
    }
    for (const method of ['POST', 'PUT', 'DELETE'] as const) {
      problem(await f.request({ method, url: '/labs/x', payload: {} }), 404, 'ROUTE_NOT_FOUND');
    }
    // A JSON client at a wrong base URL (…/elsewhere/api/v1/labs) is not sent a page; a
    // browser's navigation to the same path is.
    const wrongBase = '/elsewhere/api/v1/labs';
    const json = { accept: 'application/json' };
    problem(
      await f.request({ method: 'GET', url: wrongBase, headers: json }),
      404,
      'ROUTE_NOT_FOUND',
    );
    const navigation = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
    const page = await f.request({ method: 'GET', url: wrongBase, headers: navigation });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    // The API itself is untouched.
    const labs = await f.request({ method: 'GET', url: '/api/v1/labs', as: f.users.viewer });
    assert.equal(labs.statusCode, 200);
    assert.match(String(labs.headers['content-type']), /json/);
  });

  it('keeps its routes out of the OpenAPI document, each with a public rule', async () => {
    const doc = (await f.request({ method: 'GET', url: '/api/docs/json' })).json<{
      paths: Record<string, unknown>;
    }>();
    assert.deepEqual(
      Object.keys(doc.paths).filter(
        (path) => !path.startsWith('/api/v1/') && !path.startsWith('/terminal/v1/'),
      ),
      [],
    );
    const web = f.app.registeredRoutes.filter(
      (route) => route.url === '/*' || route.url === '/assets/*',
    );
    assert.ok(web.length >= 2);
    for (const route of web) assert.equal(route.config.auth?.access, 'public', route.url);
  });
});

describe('a server built without the web console', () => {
  let f: ApiFixture;
  before(async () => (f = await createApiFixture(sqlite, { webRoot: '/nonexistent/web' })));
  after(() => f?.close());

  it('answers 503 WEB_CONSOLE_NOT_BUILT for the pages and still serves the API', async () => {
    for (const url of ['/', '/labs/3']) {
      problem(await f.request({ method: 'GET', url }), 503, 'WEB_CONSOLE_NOT_BUILT', url);
    }
    problem(await f.request({ method: 'GET', url: '/api/v1/nope' }), 404, 'ROUTE_NOT_FOUND');
    const labs = await f.request({ method: 'GET', url: '/api/v1/labs', as: f.users.admin });
    assert.equal(labs.statusCode, 200);
  });
});
