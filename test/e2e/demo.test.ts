// The README's first hour, exactly: `labvirt server --demo` on a fresh data directory prints
// a one-time sign-in link; opening it in a real browser (Debian's Chromium through
// playwright-core) lands on the dashboard with the demo lab's two terminals' VMs running,
// and a VM's console shows the guest's screen: the noVNC canvas equals, within a tolerance,
// the VM's framebuffer read at the same time straight from its VNC socket. A second start
// reuses the demo; a guest that cannot be imported fails in one line with exit code 2 and
// leaves no demo behind. The VMs outlive the server by design: the test stops them.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { stopGatewayDaemon } from '../../src/agent/gateway-client.js';
import { openDatabase } from '../../src/db/index.js';
import { RunDir } from '../../src/qemu/process/run-dir.js';
import { collectPageErrors, launchBrowser, newPage, screenshot } from '../helpers/browser.js';
import {
  canvasPixels,
  meanDifference,
  pixelsUnlikeFirst,
  type Rgb,
} from '../helpers/screen-pixels.js';
import { cliEnv } from '../helpers/cli-server.js';
import { connectUnix, rfbHandshake, type ByteReader } from '../helpers/display-clients.js';
import { LABVIRT_BIN, readIfExists, REPO_ROOT, tempDir, waitFor } from '../helpers/env.js';
import { LINUX_GUEST_BOOT_MS } from '../helpers/linux-guest.js';
import { killAll } from '../helpers/vm-fixture.js';

/** This dist's CLI: bin/labvirt runs dist/, a helper's own dist runs its own main.js. */
const CLI_MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const GUEST_BUILDER = fileURLToPath(new URL('../../src/guest/linux-guest.js', import.meta.url));
const LINK_LINE = /^LabVirt demo: open (http:\/\/127\.0\.0\.1:\d+)(\/sign-in\?token=[\w%-]+)$/m;
/** The first start may download Debian's kernel and busybox, then imports and boots two VMs. */
const DEMO_START_MS = 480_000;
/** Mean absolute difference per colour channel (0-255) allowed between canvas and framebuffer. */
const SCREEN_TOLERANCE = 12;

function labvirtArgv(args: readonly string[]): [string, string[]] {
  // bin/labvirt itself, run by this very node: a test's PATH may hide node (and apt).
  if (CLI_MAIN === join(REPO_ROOT, 'dist/src/cli/main.js')) {
    return [process.execPath, [LABVIRT_BIN, ...args]];
  }
  const entry = `import { main } from ${JSON.stringify(CLI_MAIN)}; process.exitCode = await main(process.argv.slice(1));`;
  return [process.execPath, ['--input-type=module', '-e', entry, ...args]];
}

interface DemoServer {
  readonly child: ChildProcess;
  readonly exited: Promise<unknown>;
  stdout(): string;
  stderr(): string;
}

function startDemo(data: string, env: NodeJS.ProcessEnv = cliEnv()): DemoServer {
  const [command, args] = labvirtArgv([
    'server',
    '--demo',
    '--data',
    data,
    '--listen',
    '127.0.0.1:0',
    '--log-format',
    'json',
  ]);
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return { child, exited: once(child, 'exit'), stdout: () => stdout, stderr: () => stderr };
}

/** The printed link, once the demo is set up. */
async function linkOf(server: DemoServer): Promise<{ base: string; link: string }> {
  return waitFor(
    'the demo’s sign-in link',
    async () => {
      if (server.child.exitCode !== null)
        throw new Error(`the server exited: ${server.stderr()}\n${server.stdout().slice(-2000)}`);
      const match = LINK_LINE.exec(server.stdout());
      return match === null ? undefined : { base: match[1]!, link: `${match[1]}${match[2]}` };
    },
    DEMO_START_MS,
    200,
  );
}

async function interrupt(server: DemoServer): Promise<number | null> {
  if (server.child.exitCode === null) server.child.kill('SIGINT');
  await server.exited;
  return server.child.exitCode;
}

/** The VM's whole screen from its VNC socket (RFB 3.8, raw encoding, the server's format). */
async function framebuffer(socket: string): Promise<Rgb> {
  const reader: ByteReader = await connectUnix(socket);
  try {
    const init = await rfbHandshake(reader, undefined);
    assert.ok(init.ok, init.reason);
    const width = init.width!;
    const height = init.height!;
    // 32 bits per pixel, little-endian true colour: red at bit 16, green 8, blue 0.
    const format = Buffer.alloc(20);
    format.writeUInt8(0, 0);
    Buffer.from([32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0]).copy(format, 4);
    const request = Buffer.alloc(10);
    request.writeUInt8(3, 0);
    request.writeUInt16BE(width, 6);
    request.writeUInt16BE(height, 8);
    reader.socket.write(Buffer.concat([format, request]));
    const pixels = Buffer.alloc(width * height * 3);
    const header = await reader.read(4, 10_000);
    assert.equal(header.readUInt8(0), 0, 'a FramebufferUpdate');
    for (let rect = header.readUInt16BE(2); rect > 0; rect--) {
      const r = await reader.read(12, 10_000);
      const [x, y, w, h] = [0, 2, 4, 6].map((at) => r.readUInt16BE(at)) as [
        number,
        number,
        number,
        number,
      ];
      assert.equal(r.readInt32BE(8), 0, 'raw encoding');
      const data = await reader.read(w * h * 4, 10_000);
      for (let row = 0; row < h; row++)
        for (let col = 0; col < w; col++) {
          const from = (row * w + col) * 4;
          const to = ((y + row) * width + x + col) * 3;
          pixels[to] = data[from + 2]!;
          pixels[to + 1] = data[from + 1]!;
          pixels[to + 2] = data[from]!;
        }
    }
    return { width, height, pixels };
  } finally {
    reader.socket.destroy();
  }
}

/** Ends every QEMU and the gateway daemon of a demo data directory (whatever a failure left). */
async function killDemoVms(data: string): Promise<void> {
  const runRoot = join(data, 'run');
  await killAll(new RunDir(runRoot)).catch(() => undefined);
  await stopGatewayDaemon(runRoot).catch(() => undefined);
}

interface VmRow {
  readonly id: string;
  readonly name: string;
  readonly state: string;
  readonly terminal: string | null;
  readonly profile: string;
}

describe('labvirt server --demo, as the README says', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let data: string;
  let server: DemoServer;
  let base: string;
  let link: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let errors: string[];

  /** The API as the signed-in browser (its session cookie; CSRF token for changes). */
  const api = async <T>(method: 'GET' | 'POST', path: string): Promise<T> => {
    const session = await context.request.get(`${base}/api/v1/auth/session`);
    const { csrfToken } = (await session.json()) as { csrfToken: string };
    const response = await context.request.fetch(`${base}/api/v1${path}`, {
      method,
      headers: { 'x-csrf-token': csrfToken },
      ...(method === 'POST' ? { data: {} } : {}),
    });
    assert.ok(response.ok(), `${method} ${path}: ${response.status()} ${await response.text()}`);
    return (await response.json()) as T;
  };

  before(async () => {
    dir = await tempDir('lv-demo-');
    data = join(dir.path, 'data');
    server = startDemo(data);
    ({ base, link } = await linkOf(server));
    browser = await launchBrowser();
    ({ context, page } = await newPage(browser));
    errors = collectPageErrors(page);
  });

  after(async () => {
    // The demo's VMs keep running after the server by design: stop them through the API.
    if (server?.child.exitCode === null && context !== undefined)
      await api('POST', '/labs/demo/stop').catch(() => undefined);
    if (server !== undefined) await interrupt(server);
    await browser?.close();
    if (data !== undefined) await killDemoVms(data);
    await dir?.cleanup();
  });

  it('the link signs in and lands on the dashboard: the demo lab, two VMs running', async () => {
    assert.match(server.stderr(), /labvirt demo: .*demo guest/);
    await page.goto(link);
    await page.waitForURL(`${base}/`);
    const lab = page.getByRole('region', { name: 'Lab demo' });
    await lab.waitFor();
    for (const terminal of ['demo-1', 'demo-2']) {
      const row = lab.getByRole('row').filter({ hasText: terminal });
      await row.getByRole('link', { name: 'running' }).waitFor({ timeout: 60_000 });
    }
    await screenshot(page, 'demo-dashboard');
    const vms = await api<VmRow[]>('GET', '/vms');
    const running = vms.filter((vm) => vm.state === 'running' && vm.profile === 'demo');
    assert.equal(running.length, 2, JSON.stringify(vms));
    // The link was for one use.
    const again = await browser.newContext();
    try {
      const reused = await again.request.post(`${base}/api/v1/auth/link`, {
        data: { token: decodeURIComponent(new URL(link).searchParams.get('token') ?? '') },
      });
      assert.equal(reused.status(), 401);
    } finally {
      await again.close();
    }
  });

  it("a VM's console shows the guest's screen", async () => {
    const lab = page.getByRole('region', { name: 'Lab demo' });
    await lab
      .getByRole('row')
      .filter({ hasText: 'demo-1' })
      .getByRole('link', { name: 'running' })
      .click();
    await page.waitForURL(/\/vms\/[^/]+$/);
    const id = decodeURIComponent(new URL(page.url()).pathname.split('/')[2] ?? '');
    const vm = await api<VmRow>('GET', `/vms/${id}`);
    await page.getByRole('button', { name: 'Open console' }).click();
    await page.waitForURL(/\/console$/);
    await page.getByText('Connected', { exact: true }).waitFor({ timeout: 60_000 });
    // Under TCG the kernel takes its time: the guest has its address (and has drawn its
    // banner and address on the screen) before the screens are compared.
    const serialLog = join(data, 'run', 'logs', `${vm.name}.serial.log`);
    await waitFor(
      'the guest to boot and take its address',
      async () =>
        (await readIfExists(serialLog)).includes('labvirt-guest: ip=') ? true : undefined,
      LINUX_GUEST_BOOT_MS,
      1_000,
    );
    const socket = join(data, 'run', 'vms', vm.name, 'vnc.sock');
    const compared = await waitFor(
      'the canvas to match the VM’s framebuffer',
      async () => {
        const screen = await framebuffer(socket);
        const canvas = await canvasPixels(page);
        if (canvas.width !== screen.width || canvas.height !== screen.height) return undefined;
        const difference = meanDifference(canvas, screen);
        return difference < SCREEN_TOLERANCE ? { screen, canvas, difference } : undefined;
      },
      60_000,
      500,
    );
    await screenshot(page, 'demo-console');
    assert.ok(pixelsUnlikeFirst(compared.screen) > 100, 'the guest screen shows something');
    assert.ok(pixelsUnlikeFirst(compared.canvas) > 100, 'the canvas is not uniform');
    assert.ok(compared.difference < SCREEN_TOLERANCE, `difference ${compared.difference}`);
  });

  it('a second start reuses the demo and its running VMs, with a new link', async () => {
    const before = await api<VmRow[]>('GET', '/vms');
    assert.equal(await interrupt(server), 0, server.stderr());
    server = startDemo(data);
    const second = await linkOf(server);
    assert.notEqual(second.link, link);
    base = second.base;
    assert.match(server.stderr(), /0 VMs started, 2 already running/);
    assert.doesNotMatch(server.stderr(), /made the (profile|lab|administrator)|importing/);
    const after = await api<VmRow[]>('GET', '/vms');
    const ids = (rows: VmRow[]) =>
      rows
        .filter((vm) => vm.state === 'running')
        .map((vm) => vm.id)
        .sort();
    assert.deepEqual(ids(after), ids(before));
    const profiles = await api<{ name: string }[]>('GET', '/profiles');
    assert.deepEqual(
      profiles.map((p) => p.name),
      ['demo'],
    );
    const versions = await api<unknown[]>('GET', '/profiles/demo/versions');
    assert.equal(versions.length, 1);
  });

  it('showed no script errors', () => {
    assert.deepEqual(
      errors.filter((error) => error.startsWith('pageerror')),
      [],
    );
  });
});

describe('labvirt server --demo in a bad state', () => {
  /** Runs the demo on a fresh data directory, expecting it to fail; checks nothing is left. */
  async function failedDemo(setup: (dir: string) => Promise<Record<string, string>>) {
    const dir = await tempDir('lv-demo-bad-');
    const data = join(dir.path, 'data');
    try {
      const server = startDemo(data, cliEnv(await setup(dir.path)));
      const ended = await Promise.race([
        server.exited.then(() => true),
        // unref: a pending timer must not keep the test process alive once it exited.
        new Promise((resolve) => setTimeout(resolve, DEMO_START_MS, false).unref()),
      ]);
      if (!ended) server.child.kill('SIGKILL');
      assert.equal(server.child.exitCode, 2, server.stderr());
      const errorLines = server
        .stderr()
        .split('\n')
        .filter((line) => line.startsWith('labvirt: '));
      assert.equal(errorLines.length, 1, server.stderr());
      assert.match(errorLines[0]!, /^labvirt: error: the demo cannot be set up: \S/);
      assert.doesNotMatch(server.stdout(), LINK_LINE);
      if (existsSync(data)) {
        const database = await openDatabase({ dataDir: data });
        try {
          for (const table of ['profiles', 'versions', 'labs', 'terminals', 'vms'] as const) {
            const rows = await database.db.selectFrom(table).selectAll().execute();
            assert.deepEqual(rows, [], `${table} is empty`);
          }
        } finally {
          await database.close();
        }
        assert.deepEqual(await readdir(join(data, 'import')), [], 'the import copy is gone');
      }
      return errorLines[0]!;
    } finally {
      await killDemoVms(join(dir.path, 'data'));
      await dir.cleanup();
    }
  }

  it('no way to download the guest’s packages: one line, exit code 2, nothing made', async () => {
    // An empty cache and no apt on the PATH.
    const line = await failedDemo(async (dir) => ({
      LABVIRT_TEST_GUEST_CACHE: join(dir, 'cache'),
      PATH: '/nonexistent',
    }));
    assert.match(line, /apt/);
  });

  it('a guest image that cannot be imported: the profile made for it is removed', async () => {
    await failedDemo(async (dir) => {
      // A "cached" image of this very builder that cannot be read as a file (a directory).
      const hash = createHash('sha256')
        .update(await readFile(GUEST_BUILDER))
        .digest('hex');
      const cache = join(dir, 'cache');
      await mkdir(join(cache, `linux-guest-${hash.slice(0, 12)}-broken.raw`), { recursive: true });
      return { LABVIRT_TEST_GUEST_CACHE: cache };
    });
  });
});
