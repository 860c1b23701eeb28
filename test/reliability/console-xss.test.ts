// Script in what users type, shown by the web console (real Chromium against a real
// controller): names carrying markup are refused by every schema that takes a name (lab,
// profile, terminal, user, host, token); free text that takes it (lab and profile
// descriptions, a version's note, an import's file name and an upload's name, which reach
// job errors and the audit log) is stored and then shown on every console page as text.
// On each page: window.__xss stays undefined, no dialog opens, and the payloads where the
// page shows them are there literally.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { VmView } from '../../src/controller/services/vms.js';
import { PASSWORD } from '../helpers/api.js';
import { launchBrowser, logIn, newPage, screenshot } from '../helpers/browser.js';
import { waitFor } from '../helpers/env.js';
import { startWebServer, type WebServer } from '../helpers/web-server.js';
import { hostileInputs, invariant } from './ledger.js';

const PAYLOADS = [
  '<img src=x onerror="window.__xss=1">',
  '<script>window.__xss=1</script>',
  '<svg onload="window.__xss=1"></svg>',
  '"><img src=x onerror=window.__xss=1>',
  '\'><iframe srcdoc="<script>parent.__xss=1</script>"></iframe>',
];
/** File names cannot hold "/": the payloads that do without. */
const FILE_PAYLOADS = PAYLOADS.filter((payload) => !payload.includes('/'));
const PROFILE = { memoryMiB: 32, cpus: 1, nicModel: 'virtio', diskBus: 'ide', display: 'vnc' };

describe('script in names and text shown by the console', () => {
  let server: WebServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const dialogs: string[] = [];
  let labId = '';
  let profileId = '';
  let adminVm: VmView;

  const api = async <T>(method: string, path: string, body?: unknown): Promise<[number, T]> => {
    const response = await fetch(`${server.url}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${server.f.users.admin.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return [response.status, (await response.json()) as T];
  };
  const ok = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const [status, answer] = await api<T>(method, path, body);
    assert.ok(status >= 200 && status < 300, `${method} ${path}: ${JSON.stringify(answer)}`);
    return answer;
  };
  const waitJob = (id: string) =>
    waitFor(`job ${id}`, async () => {
      const job = await ok<{ state: string }>('GET', `/jobs/${id}`);
      return job.state === 'running' ? undefined : job;
    });

  before(async () => {
    server = await startWebServer();
    browser = await launchBrowser();
    ({ context, page } = await newPage(browser));
    page.on('dialog', (dialog) => {
      dialogs.push(`${dialog.type()}: ${dialog.message()}`);
      void dialog.dismiss();
    });
  });
  after(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
  });

  it('names with markup are refused by every schema that takes a name', async () => {
    const requests = (name: string): [string, string, object][] => [
      ['POST', '/labs', { name }],
      ['POST', '/profiles', { name, ...PROFILE }],
      ['POST', '/terminals', { mac: '52:54:00:ee:55:01', lab: 'lab-mine', name }],
      ['POST', '/users', { username: name, role: 'viewer', password: PASSWORD }],
      ['POST', '/hosts', { name }],
      ['POST', '/auth/tokens', { username: 'admin', password: PASSWORD, name }],
    ];
    let tried = 0;
    await invariant('XSS names refused (400) by every name schema', async () => {
      for (const payload of PAYLOADS) {
        for (const [method, path, body] of requests(payload)) {
          const [status, answer] = await api(method, path, body);
          tried++;
          assert.equal(status, 400, `${path} ${payload}: ${JSON.stringify(answer)}`);
        }
      }
    });
    hostileInputs('XSS name', tried);
  });

  it('free text carrying markup is accepted and stored as it was typed', async () => {
    const text = PAYLOADS.join(' ');
    labId = (await ok<{ id: string }>('POST', '/labs', { name: 'xss-lab', description: text })).id;
    const profile = await ok<{ id: string }>('POST', '/profiles', {
      name: 'xss-profile',
      description: text,
      ...PROFILE,
    });
    profileId = profile.id;
    await ok('PATCH', '/labs/lab-mine', { description: PAYLOADS[1] });
    const imported = await ok<{ id: string }>('POST', '/profiles/xss-profile/import', {
      path: server.guestDisk,
      format: 'raw',
    });
    assert.equal((await waitJob(imported.id)).state, 'succeeded');
    // Failed imports whose error and audit entry name a file called like a payload.
    for (const payload of FILE_PAYLOADS) {
      const name = `${payload}.img`;
      await writeFile(join(server.f.dir, 'import', name), 'not a disk\n');
      const job = await ok<{ id: string }>('POST', '/profiles/xss-profile/import', { path: name });
      assert.equal((await waitJob(job.id)).state, 'failed');
    }
    const upload = await fetch(
      `${server.url}/api/v1/profiles/xss-profile/upload?name=${encodeURIComponent(PAYLOADS[1]!)}`,
      {
        method: 'PUT',
        headers: {
          authorization: `Bearer ${server.f.users.admin.token}`,
          'content-type': 'application/octet-stream',
        },
        body: 'not a disk either\n',
      },
    );
    assert.equal(upload.status, 202);
    assert.equal((await waitJob(((await upload.json()) as { id: string }).id)).state, 'failed');
    // A version whose note is the payloads: an admin session, its VM off, published.
    const session = await ok<{ vm: VmView }>('POST', '/profiles/xss-profile/admin-session', {});
    adminVm = session.vm;
    await ok('POST', `/vms/${adminVm.id}/stop`, { force: true });
    await ok('POST', '/profiles/xss-profile/admin-session/publish', { note: text });
    const versions = await ok<{ note: string }[]>('GET', '/profiles/xss-profile/versions');
    assert.ok(versions.some((version) => version.note === text));
    hostileInputs('XSS free text', PAYLOADS.length * 4 + FILE_PAYLOADS.length + 1);
  });

  it('every console page shows them as text and runs none', async () => {
    await logIn(page, server.url, server.f.users.admin);
    // Each page, what shows it has its data (a name), and what it shows of the payloads as
    // text (the audit log shows details as JSON, quotes escaped).
    const pages: [string, string | undefined, string | undefined][] = [
      ['/', undefined, undefined],
      ['/labs', 'xss-lab', PAYLOADS[0]],
      [`/labs/${labId}`, 'xss-lab', PAYLOADS[0]],
      ['/terminals', undefined, undefined],
      ['/profiles', 'xss-profile', PAYLOADS[0]],
      [`/profiles/${profileId}`, 'xss-profile', PAYLOADS[0]],
      ['/vms', undefined, undefined],
      [`/vms/${adminVm.id}`, undefined, undefined],
      ['/hosts', undefined, undefined],
      [`/hosts/${server.hostId}`, undefined, undefined],
      ['/users', 'other-operator', undefined],
      ['/audit', 'admin-session.publish', 'window.__xss=1'],
      ['/settings', undefined, undefined],
    ];
    for (const [path, loaded, shown] of pages) {
      await page.goto(`${server.url}${path}`);
      await page.getByRole('navigation', { name: 'Main navigation' }).waitFor();
      if (loaded !== undefined) await page.getByText(loaded).first().waitFor();
      // Whatever else the page loads (and would run) arrives meanwhile.
      await page.waitForTimeout(300);
      await screenshot(page, `console-xss${path === '/' ? '-home' : path.replace(/\//g, '-')}`);
      await invariant(
        `console shows user text as text, runs none: ${path.split('/')[1] || 'dashboard'}`,
        async () => {
          const xss: unknown = await page.evaluate('window.__xss');
          assert.equal(xss, undefined, `${path}: a payload ran`);
          assert.deepEqual(dialogs, [], `${path}: a dialog opened`);
          assert.equal(
            await page.locator('img[src="x"], svg[onload], iframe[srcdoc]').count(),
            0,
            `${path}: user text became elements`,
          );
          if (shown !== undefined) {
            const body = await page.locator('body').innerText();
            assert.ok(body.includes(shown), `${path} shows the payload literally`);
          }
        },
      );
    }
  });
});
