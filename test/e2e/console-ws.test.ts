// The console WebSocket from a browser's side: a page of the server's own origin opens it
// (under the console's Content-Security-Policy: connect-src 'self' covers ws: to itself), a
// page of a foreign origin cannot, even holding a valid ticket. The foreign page (no CSP of
// ours) is served on another port and reached two ways: http://localhost:OTHER (another
// site: the SameSite=Strict session cookie stays home) and http://127.0.0.1:OTHER (the same
// site, so the browser does send the cookie: only the Origin check stands in the way — the
// ticket, unspent, still opens the console from the right origin afterwards). The API-level
// refusals (missing, expired, someone else's ticket) are tested in test/integration.
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { GuestMode } from '../../scripts/guest.js';
import type { VmView } from '../../src/controller/services/vms.js';
import { launchBrowser, logIn, newPage } from '../helpers/browser.js';
import { guestProfile, startClient, waitForState } from '../helpers/vm-fixture.js';
import { startWebServer, type WebServer } from '../helpers/web-server.js';

interface Ticket {
  readonly ticket: string;
  readonly path: string;
}

/** Opens a WebSocket from the page; says how it went: open, or how it failed. */
function tryWebSocket(page: Page, url: string): Promise<string> {
  return page.evaluate<string>(`new Promise((resolve) => {
    const socket = new WebSocket(${JSON.stringify(url)});
    socket.binaryType = 'arraybuffer';
    const timer = setTimeout(() => resolve('timeout'), 20000);
    socket.onopen = () => { clearTimeout(timer); socket.close(); resolve('open'); };
    socket.onerror = () => { clearTimeout(timer); resolve('error'); };
    socket.onclose = (event) => { clearTimeout(timer); resolve('closed ' + event.code); };
  })`);
}

describe('the console WebSocket in a browser', () => {
  let server: WebServer;
  let elsewhere: Server;
  let elsewhereUrl: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let vm: VmView;
  /** The handshakes the server saw: their Origin and whether a session cookie came. */
  const upgrades: { url: string; origin: string | undefined; cookie: boolean }[] = [];

  const ticket = async (): Promise<Ticket> => {
    const response = await fetch(`${server.url}/api/v1/vms/${vm.id}/console`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${server.f.users.admin.token}`,
        'content-type': 'application/json',
      },
      body: '{}',
    });
    assert.equal(response.status, 201, await response.clone().text());
    return (await response.json()) as Ticket;
  };
  const wsUrl = (path: string) => `ws://127.0.0.1:${server.port}${path}`;

  before(async () => {
    server = await startWebServer();
    server.f.app.server.on('upgrade', (request: IncomingMessage) =>
      upgrades.push({
        url: request.url ?? '',
        origin: request.headers.origin,
        cookie: /labvirt_session=/.test(request.headers.cookie ?? ''),
      }),
    );
    const profile = await guestProfile(server.f, { mode: GuestMode.waitForPowerButton });
    vm = await startClient(server.f, profile.id, server.f.users.admin);
    await waitForState(server.f, vm.id, 'running');
    // A page of another origin on the same host (another port).
    elsewhere = createServer((_request, response) =>
      response.end('<!doctype html><title>elsewhere</title><p>another site</p>'),
    );
    elsewhere.listen(0, '127.0.0.1');
    await once(elsewhere, 'listening');
    const address = elsewhere.address();
    assert.ok(address !== null && typeof address === 'object');
    elsewhereUrl = `http://127.0.0.1:${address.port}`;
    browser = await launchBrowser();
    ({ context, page } = await newPage(browser));
    await logIn(page, server.url, server.f.users.admin);
  });
  after(async () => {
    await context?.close();
    await browser?.close();
    elsewhere?.close();
    await server?.close();
  });

  it("opens from a page of the server's own origin", async () => {
    const { path } = await ticket();
    assert.equal(await tryWebSocket(page, wsUrl(path)), 'open');
    const seen = upgrades.at(-1);
    assert.equal(seen?.origin, server.url);
    assert.equal(seen?.cookie, true);
  });

  it('is refused to a page of another site (http://localhost)', async () => {
    const { path } = await ticket();
    const foreign = await context.newPage();
    await foreign.goto(elsewhereUrl.replace('127.0.0.1', 'localhost'));
    const before = upgrades.length;
    const outcome = await tryWebSocket(foreign, wsUrl(path));
    assert.notEqual(outcome, 'open');
    const seen = upgrades.slice(before);
    assert.equal(seen.length, 1, 'the handshake reached the server');
    assert.equal(seen[0]?.origin, elsewhereUrl.replace('127.0.0.1', 'localhost'));
    await foreign.close();
  });

  it('is refused to a page of another origin that does send the session cookie', async () => {
    const { path } = await ticket();
    // The same browser context: logged in, and 127.0.0.1's cookies go to any of its ports.
    const foreign = await context.newPage();
    await foreign.goto(elsewhereUrl);
    const before = upgrades.length;
    const outcome = await tryWebSocket(foreign, wsUrl(path));
    assert.notEqual(outcome, 'open');
    const [seen] = upgrades.slice(before);
    assert.equal(seen?.origin, elsewhereUrl);
    assert.equal(seen?.cookie, true, 'the browser sent the session cookie');
    await foreign.close();
    // The ticket was not spent: the refusal came before it was looked at.
    assert.equal(await tryWebSocket(page, wsUrl(path)), 'open');
  });
});
