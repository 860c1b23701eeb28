// Issue 7's main path in a real browser (Debian's Chromium through playwright-core) against a
// real controller (LocalAgent, QEMU, the boot-counting guest): log in, create a lab, enrol a
// terminal, import the test profile and watch its progress bar, start a VM and see it run
// without a reload, see the guest's screen in the console (the canvas against QEMU's own
// screendump of the same VM), open an admin session and publish it.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { bootsInLog } from '../../scripts/guest.js';
import type { VmView } from '../../src/controller/services/vms.js';
import {
  collectPageErrors,
  launchBrowser,
  logIn,
  newPage,
  screenshot,
  submitDialog,
} from '../helpers/browser.js';
import { waitFor } from '../helpers/env.js';
import {
  canvasPixels,
  meanDifference,
  pixelsUnlikeFirst,
  type Rgb,
} from '../helpers/screen-pixels.js';
import { startWebServer, type WebServer } from '../helpers/web-server.js';

const LAB = 'e2e-lab';
const PROFILE = 'e2e-guest';
const TERMINAL_MAC = '52:54:00:e2:e0:01';
const TERMINAL_NAME = 'pc-01';
/** Mean absolute difference per colour channel (0-255) allowed between canvas and screendump. */
const SCREEN_TOLERANCE = 12;

/** A binary PPM (P6, maxval 255) as QEMU's screendump writes it. */
function parsePpm(data: Buffer): Rgb {
  const header = /^P6\s+(\d+)\s+(\d+)\s+255\s/.exec(data.toString('latin1', 0, 64));
  assert.ok(header, 'a P6 header with maxval 255');
  const width = Number(header[1]);
  const height = Number(header[2]);
  const start = header[0].length;
  return { width, height, pixels: data.subarray(start, start + width * height * 3) };
}

describe('the web console, end to end', () => {
  let server: WebServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let errors: string[];
  let vm: VmView;

  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${server.url}/api/v1${path}`, {
      headers: { authorization: `Bearer ${server.f.users.admin.token}` },
    });
    assert.equal(response.status, 200, `${path}: ${await response.clone().text()}`);
    return (await response.json()) as T;
  };

  before(async () => {
    server = await startWebServer();
    browser = await launchBrowser();
    ({ context, page } = await newPage(browser));
    errors = collectPageErrors(page);
  });
  after(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
  });

  it('logs in through the login page', async () => {
    await logIn(page, server.url, server.f.users.admin);
    assert.equal(new URL(page.url()).pathname, '/');
    await screenshot(page, 'flow-dashboard');
  });

  it('creates a lab', async () => {
    await page
      .getByRole('navigation', { name: 'Main navigation' })
      .getByRole('link', { name: 'Labs' })
      .click();
    await page.getByRole('button', { name: 'Create lab' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name').fill(LAB);
    await submitDialog(page, 'Create lab');
    await page.waitForURL(/\/labs\/[^/]+$/);
    const labs = await api<{ id: string; name: string }[]>('/labs');
    const lab = labs.find((candidate) => candidate.name === LAB);
    assert.ok(lab, 'the lab exists');
    assert.equal(new URL(page.url()).pathname, `/labs/${lab.id}`);
  });

  it('enrols a pending terminal into it', async () => {
    // A terminal that asks for its configuration becomes pending.
    const asked = await fetch(`${server.url}/terminal/v1/config?mac=${TERMINAL_MAC}`);
    assert.equal(asked.status, 403);
    await page.goto(`${server.url}/terminals`);
    const row = page.getByRole('row').filter({ hasText: TERMINAL_MAC });
    await row.getByRole('button', { name: 'Enrol' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Lab').selectOption({ label: LAB });
    await dialog.getByLabel('Name').fill(TERMINAL_NAME);
    await submitDialog(page, 'Enrol');
    const terminal = await waitFor('the terminal enrolled', async () => {
      const terminals =
        await api<{ mac: string; name: string; lab: string | null }[]>('/terminals');
      const found = terminals.find((candidate) => candidate.mac === TERMINAL_MAC);
      return found?.lab === LAB ? found : undefined;
    });
    assert.equal(terminal.lab, LAB);
    assert.equal(terminal.name, TERMINAL_NAME);
    await page.getByRole('row').filter({ hasText: TERMINAL_NAME }).getByText(LAB).waitFor();
  });

  it('imports the test profile from the import directory, its progress bar to the end', async () => {
    await page.goto(`${server.url}/profiles`);
    await page.getByRole('button', { name: 'Create profile' }).click();
    let dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name').fill(PROFILE);
    await submitDialog(page, 'Create');
    const row = page.getByRole('row').filter({ hasText: PROFILE });
    await row.getByRole('button', { name: 'Import' }).click();
    dialog = page.getByRole('dialog');
    await dialog.getByLabel('Image file').fill('bootcount.img');
    await dialog.getByLabel('Format').selectOption('raw');
    await submitDialog(page, 'Import');
    const bar = page.getByRole('progressbar', { name: `Importing an image into ${PROFILE}` });
    await bar.waitFor();
    await waitFor(
      'the progress bar at 100',
      async () => ((await bar.getAttribute('aria-valuenow')) === '100' ? true : undefined),
      60_000,
    );
    await screenshot(page, 'flow-import-done');
    // The list shows the published version without a reload.
    await row.getByText('version 1').waitFor();
  });

  it('starts a VM, which the page shows running without a reload', async () => {
    await page.evaluate('window.e2eMarker = true');
    const row = page.getByRole('row').filter({ hasText: PROFILE });
    await row.getByRole('button', { name: 'Start VM' }).click();
    await page.waitForURL(/\/vms\/[^/]+$/);
    const id = decodeURIComponent(new URL(page.url()).pathname.split('/')[2] ?? '');
    await page.getByText('running', { exact: true }).first().waitFor({ timeout: 60_000 });
    assert.equal(await page.evaluate('window.e2eMarker'), true, 'the same document: no reload');
    vm = await api<VmView>(`/vms/${id}`);
    assert.equal(vm.state, 'running');
    assert.equal(vm.profile, PROFILE);
  });

  it("shows the guest's screen in its console", async () => {
    await page.getByRole('button', { name: 'Open console' }).click();
    await page.waitForURL(/\/console$/);
    await page.getByText('Connected', { exact: true }).waitFor({ timeout: 60_000 });
    // The guest has written its line (serial and screen) before the screens are compared.
    await waitFor(
      'the boot line',
      async () => {
        const serial = await fetch(`${server.url}/api/v1/vms/${vm.id}/serial`, {
          headers: { authorization: `Bearer ${server.f.users.admin.token}` },
        });
        return bootsInLog(await serial.text()).length > 0 ? true : undefined;
      },
      60_000,
    );
    const dumpPath = join(server.f.dir, 'screen.ppm');
    // The screen settles (BIOS → guest text), then the canvas catches up with it.
    const compared = await waitFor(
      'the canvas to match the screendump',
      async () => {
        await server.f.supervisor.qmp(vm.name).execute('screendump', { filename: dumpPath });
        const dump = parsePpm(await readFile(dumpPath));
        const canvas = await canvasPixels(page);
        if (canvas.width !== dump.width || canvas.height !== dump.height) return undefined;
        const difference = meanDifference(canvas, dump);
        return difference < SCREEN_TOLERANCE ? { dump, canvas, difference } : undefined;
      },
      60_000,
      500,
    );
    await screenshot(page, 'flow-console');
    assert.ok(pixelsUnlikeFirst(compared.dump) > 100, 'the guest screen shows something');
    assert.ok(pixelsUnlikeFirst(compared.canvas) > 100, 'the canvas is not uniform');
    assert.ok(compared.difference < SCREEN_TOLERANCE, `difference ${compared.difference}`);
  });

  it('opens an admin session and publishes it', async () => {
    await page.goto(`${server.url}/profiles/${vm.profileId}`);
    await page.getByRole('button', { name: 'Open admin session' }).click();
    await page.getByText('Administrative VM:').waitFor();
    const publish = page.getByRole('button', { name: 'Publish', exact: true });
    await publish.click();
    await page.getByText('Published as version 2').waitFor({ timeout: 120_000 });
    await screenshot(page, 'flow-published');
    const versions = await api<{ number: number }[]>(`/profiles/${vm.profileId}/versions`);
    assert.deepEqual(versions.map((version) => version.number).sort(), [1, 2]);
    const profile = await api<{ publishedVersion: string }>(`/profiles/${vm.profileId}`);
    const published = await api<{ id: string; number: number }[]>(
      `/profiles/${vm.profileId}/versions`,
    );
    assert.equal(published.find((version) => version.id === profile.publishedVersion)?.number, 2);
  });

  it('showed no script errors and broke no Content-Security-Policy rule', () => {
    // A refused request shows as a console error in Chromium: only script failures and
    // CSP refusals (the console's own policy getting in the way) count.
    assert.deepEqual(
      errors.filter(
        (error) => error.startsWith('pageerror') || /Content Security Policy/i.test(error),
      ),
      [],
    );
  });
});
