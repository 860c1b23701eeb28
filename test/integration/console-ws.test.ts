// Issue 7: the web console's VM console over a real listening server, the real LocalAgent
// and running QEMU VMs, with the `ws` package as the browser. A ticket (POST, session and
// CSRF token) opens the WebSocket bridged to the VM's VNC display: the RFB handshake
// (None, also on a terminal's ticketed display, whose console has a password-less server of
// its own while the terminals' socket keeps asking for theirs) and a framebuffer update
// come through. Refused before the
// upgrade (HTTP 401/403, problem+json): no ticket, an expired one (the injected clock), a
// used one, another user's, one for another VM, a foreign Origin, no Origin. A viewer is
// view-only: its keys never reach the VM (QEMU's keyboard interrupt count stays 0, where an
// operator's keys raise it), its connection stays and keeps getting updates, and its
// exclusive ClientInit does not disconnect another client, as it does straight on QEMU.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import type { TerminalConfig } from '../../src/terminal/config.js';
import type { ApiUser } from '../helpers/api.js';
import { dialects } from '../helpers/databases.js';
import { connectUnix, vncResponse, type ByteReader } from '../helpers/display-clients.js';
import { waitFor } from '../helpers/env.js';
import {
  labServes,
  guestProfile,
  GuestMode,
  json,
  startClient,
  vmFixture,
  vmRow,
  waitForState,
  type VmFixture,
} from '../helpers/vm-fixture.js';

interface ConsoleTicketView {
  readonly ticket: string;
  readonly path: string;
  readonly expiresAt: string;
  readonly viewOnly: boolean;
}

interface Session {
  readonly user: ApiUser;
  readonly cookie: string;
  readonly csrf: string;
}

/** A byte stream read in exact pieces: a WebSocket's binary messages, or a Unix socket. */
interface Pipe {
  read(size: number): Promise<Buffer>;
  write(bytes: Buffer): void;
}

class WsPipe implements Pipe {
  readonly ws: WebSocket;
  #buffer = Buffer.alloc(0);
  #closed = false;
  #wake: (() => void) | undefined;

  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, data]);
      this.#wake?.();
    });
    ws.on('close', () => {
      this.#closed = true;
      this.#wake?.();
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  async read(size: number, timeoutMs = 20_000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.#buffer.length < size) {
      if (this.#closed) throw new Error(`closed after ${this.#buffer.length} of ${size} bytes`);
      if (Date.now() > deadline) throw new Error(`timed out reading ${size} bytes`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const piece = this.#buffer.subarray(0, size);
    this.#buffer = this.#buffer.subarray(size);
    return piece;
  }

  write(bytes: Buffer): void {
    this.ws.send(bytes, { binary: true });
  }
}

function socketPipe(reader: ByteReader): Pipe {
  return {
    read: (size) => reader.read(size, 20_000),
    write: (bytes) => reader.socket.write(bytes),
  };
}

interface Desktop {
  readonly width: number;
  readonly height: number;
  readonly bytesPerPixel: number;
}

/** RFB 3.8 up to ServerInit: None, or VNC Authentication with the password. */
async function handshake(
  pipe: Pipe,
  password: string | null,
  options: { banner?: Buffer; shared?: boolean } = {},
): Promise<Desktop> {
  const banner = options.banner ?? (await pipe.read(12));
  assert.equal(banner.toString('latin1'), 'RFB 003.008\n');
  pipe.write(Buffer.from('RFB 003.008\n', 'latin1'));
  const count = (await pipe.read(1))[0]!;
  assert.ok(count > 0, 'the server offers security types');
  const types = [...(await pipe.read(count))];
  if (password === null) {
    assert.deepEqual(types, [1], 'None');
    pipe.write(Buffer.from([1]));
  } else {
    assert.deepEqual(types, [2], 'VNC Authentication');
    pipe.write(Buffer.from([2]));
    pipe.write(vncResponse(await pipe.read(16), password));
  }
  assert.equal((await pipe.read(4)).readUInt32BE(0), 0, 'SecurityResult OK');
  pipe.write(Buffer.from([options.shared === false ? 0 : 1]));
  const init = await pipe.read(24);
  await pipe.read(init.readUInt32BE(20));
  return { width: init.readUInt16BE(0), height: init.readUInt16BE(2), bytesPerPixel: init[4]! / 8 };
}

/** Asks for the whole screen and reads the FramebufferUpdate (raw rectangles): it covers it. */
async function screen(pipe: Pipe, desktop: Desktop): Promise<number> {
  const request = Buffer.alloc(10);
  request.writeUInt8(3, 0);
  request.writeUInt16BE(desktop.width, 6);
  request.writeUInt16BE(desktop.height, 8);
  pipe.write(request);
  for (;;) {
    const header = await pipe.read(4);
    const type = header[0]!;
    if (type === 2) continue; // Bell
    assert.equal(type, 0, `FramebufferUpdate, not message ${type}`);
    const rectangles = header.readUInt16BE(2);
    let pixels = 0;
    let [right, bottom] = [0, 0];
    for (let i = 0; i < rectangles; i++) {
      const rect = await pipe.read(12);
      const [x, y] = [rect.readUInt16BE(0), rect.readUInt16BE(2)];
      const [w, h, encoding] = [rect.readUInt16BE(4), rect.readUInt16BE(6), rect.readInt32BE(8)];
      assert.equal(encoding, 0, 'raw (no other encoding was asked for)');
      await pipe.read(w * h * desktop.bytesPerPixel);
      pixels += w * h;
      [right, bottom] = [Math.max(right, x + w), Math.max(bottom, y + h)];
    }
    // The whole screen, as it is now: the guest may have changed video mode since
    // ServerInit (this raw client asked for no resize messages), e.g. 640×480 → 640×400.
    assert.ok(pixels > 0, 'a framebuffer update with pixels');
    assert.equal(pixels, right * bottom, 'the update covers the screen');
    return pixels;
  }
}

const KEY_DOWN_A = Buffer.from('0401000000000061', 'hex');
const KEY_UP_A = Buffer.from('0400000000000061', 'hex');
const POINTER = Buffer.from('0501000a0014', 'hex');

let macCounter = 0;
const nextMac = () => `52:54:00:6c:c7:${(macCounter++ % 256).toString(16).padStart(2, '0')}`;

for (const dialect of dialects) {
  describe(`the VM console WebSocket on ${dialect.name}`, () => {
    let f: VmFixture;
    let origin: string;
    const clock = { offsetMs: 0 };
    const sessions: Partial<Record<'admin' | 'operator' | 'viewer', Session>> = {};
    /** A client VM (no display for terminals: its VNC socket has no password). */
    let client: { id: string; name: string };
    /** A terminal's VM: a ticketed VNC display (terminals need a one-time password). */
    let terminal: { id: string; name: string };
    const opened: WebSocket[] = [];

    before(async () => {
      f = await vmFixture(dialect, {
        now: () => new Date(Date.now() + clock.offsetMs),
        terminalRateLimit: { max: 10_000, windowMs: 60_000 },
        vmStopGraceMs: 0,
      });
      await f.app.listen({ host: '127.0.0.1', port: 0 });
      origin = `http://127.0.0.1:${(f.app.server.address() as AddressInfo).port}`;
      for (const role of ['admin', 'operator', 'viewer'] as const) {
        const user = f.users[role];
        const response = await f.app.inject({
          method: 'POST',
          url: '/api/v1/auth/login',
          payload: { username: user.username, password: user.password },
        });
        const body = json<{ csrfToken: string }>(response, 200);
        const cookie = /^(labvirt_session=[^;]+)/.exec(String(response.headers['set-cookie']))![1]!;
        sessions[role] = { user, cookie, csrf: body.csrfToken };
      }

      const profile = await guestProfile(f, { mode: GuestMode.waitForPowerButton });
      const started = await startClient(f, profile.id);
      await waitForState(f, started.id, 'running');
      client = { id: started.id, name: started.name };

      const lab = f.labs.mine.id;
      const db = f.database.db;
      await labServes(f, lab, profile.id);
      const mac = nextMac();
      json(
        await f.request({
          method: 'POST',
          url: '/api/v1/terminals',
          as: f.users.admin,
          payload: { mac, lab: f.labs.mine.name },
        }),
        201,
      );
      const config = await waitFor(
        `terminal ${mac} served`,
        async () => {
          const response = await f.app.inject({
            method: 'GET',
            url: `/terminal/v1/config?mac=${mac}`,
            remoteAddress: '127.0.0.1',
          });
          return response.statusCode === 202 ? undefined : json<TerminalConfig>(response, 200);
        },
        60_000,
      );
      assert.equal(config.protocol, 'vnc');
      const row = await db
        .selectFrom('vms')
        .select(['id', 'name'])
        .where('name', '=', config.vm)
        .executeTakeFirstOrThrow();
      terminal = row;
    });
    after(async () => {
      for (const ws of opened) ws.terminate();
      await f?.close();
    });

    function session(role: 'admin' | 'operator' | 'viewer'): Session {
      const found = sessions[role];
      assert.ok(found);
      return found;
    }

    async function ticketFor(role: 'admin' | 'operator' | 'viewer', vm: string) {
      const s = session(role);
      const response = await f.app.inject({
        method: 'POST',
        url: `/api/v1/vms/${vm}/console`,
        headers: { cookie: s.cookie, 'x-csrf-token': s.csrf },
        payload: {},
      });
      return json<ConsoleTicketView>(response, 201);
    }

    /** Opens the WebSocket; resolves once open, or rejects with the HTTP refusal. */
    function connect(
      path: string,
      options: { cookie?: string; origin?: string | null } = {},
    ): Promise<WsPipe> {
      const headers: Record<string, string> = {};
      if (options.cookie !== undefined) headers['cookie'] = options.cookie;
      const ws = new WebSocket(`ws${origin.slice(4)}${path}`, {
        headers,
        ...(options.origin === null ? {} : { origin: options.origin ?? origin }),
      });
      opened.push(ws);
      const pipe = new WsPipe(ws);
      return new Promise((resolve, reject) => {
        ws.once('open', () => resolve(pipe));
        ws.once('unexpected-response', (_request, response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () =>
            reject(
              Object.assign(new Error(`HTTP ${response.statusCode}`), {
                status: response.statusCode,
                type: response.headers['content-type'],
                problem: JSON.parse(body) as { code: string },
              }),
            ),
          );
        });
        ws.once('error', reject);
      });
    }

    async function assertRefused(
      attempt: Promise<unknown>,
      status: number,
      code: string,
    ): Promise<void> {
      await assert.rejects(
        attempt,
        (error: { status?: number; type?: string; problem?: { code: string } }) => {
          assert.equal(error.status, status);
          assert.match(String(error.type), /^application\/problem\+json/);
          assert.equal(error.problem?.code, code);
          return true;
        },
      );
    }

    it('a ticket, the session cookie and the same Origin open the screen of a client VM', async () => {
      const ticket = await ticketFor('operator', client.id);
      assert.equal(ticket.viewOnly, false);
      assert.equal(ticket.path, `/api/v1/vms/${client.id}/console/ws?ticket=${ticket.ticket}`);
      const left = Date.parse(ticket.expiresAt) - (Date.now() + clock.offsetMs);
      assert.ok(left > 25_000 && left <= 30_000, `expires in ${left} ms`);

      const pipe = await connect(ticket.path, { cookie: session('operator').cookie });
      const desktop = await handshake(pipe, null);
      assert.ok(desktop.width > 0 && desktop.height > 0);
      await screen(pipe, desktop);

      // QEMU lists the console as a display client; closing the socket closes it there too.
      await waitFor('the console listed', async () =>
        (await vmRow(f, client.id)).connections.some((c) => c.via === 'display') ? true : undefined,
      );
      const audit = await f.database.db
        .selectFrom('audit_events')
        .selectAll()
        .where('action', '=', 'vm.console')
        .where('target_id', '=', client.id)
        .execute();
      assert.equal(audit.length, 1);
      assert.equal(audit[0]!.actor_user_id, session('operator').user.id);
      assert.deepEqual(JSON.parse(audit[0]!.details), { name: client.name, viewOnly: false });
      pipe.ws.close();
      await waitFor('the console gone from QEMU', async () =>
        (await vmRow(f, client.id)).connections.length === 0 ? true : undefined,
      );

      // Single use.
      await assertRefused(
        connect(ticket.path, { cookie: session('operator').cookie }),
        401,
        'CONSOLE_TICKET_INVALID',
      );
    });

    it('a terminal’s ticketed display: the console needs no password and takes no terminal’s', async () => {
      // A terminal holds a one-time password for the socket the gateway relays to it.
      const password = await f.agent.ticket(terminal.name, 60);
      assert.ok(password !== undefined);
      const ticket = await ticketFor('admin', terminal.id);
      assert.equal('password' in ticket, false, 'no VNC password is ever handed out');
      assert.equal(ticket.viewOnly, false);
      // The console reaches the VM's own password-less server, not the terminals' socket.
      const pipe = await connect(ticket.path, { cookie: session('admin').cookie });
      const desktop = await handshake(pipe, null);
      await screen(pipe, desktop);
      pipe.ws.close();
      // The terminals' socket still asks for VNC Authentication, and the terminal's
      // password, given before the console's ticket, still opens it.
      const vncSocket = (await f.agent.vm(terminal.name))?.vncSocket;
      assert.ok(vncSocket !== undefined);
      const direct = await connectUnix(vncSocket);
      const seen = await handshake(socketPipe(direct), password);
      assert.equal(seen.width, desktop.width);
      direct.socket.destroy();
    });

    it('is refused before the upgrade without a valid ticket, session and Origin', async () => {
      const operator = session('operator');
      const viewer = session('viewer');
      const base = `/api/v1/vms/${client.id}/console/ws`;
      await assertRefused(
        connect(base, { cookie: operator.cookie }),
        401,
        'CONSOLE_TICKET_INVALID',
      );
      await assertRefused(
        connect(`${base}?ticket=${'A'.repeat(43)}`, { cookie: operator.cookie }),
        401,
        'CONSOLE_TICKET_INVALID',
      );

      const noSession = await ticketFor('operator', client.id);
      await assertRefused(connect(noSession.path), 401, 'AUTH_REQUIRED');

      const expired = await ticketFor('operator', client.id);
      clock.offsetMs += 31_000;
      try {
        await assertRefused(
          connect(expired.path, { cookie: operator.cookie }),
          401,
          'CONSOLE_TICKET_INVALID',
        );
      } finally {
        clock.offsetMs -= 31_000;
      }

      const someoneElses = await ticketFor('operator', client.id);
      await assertRefused(
        connect(someoneElses.path, { cookie: viewer.cookie }),
        401,
        'CONSOLE_TICKET_INVALID',
      );

      const otherVm = await ticketFor('operator', terminal.id);
      await assertRefused(
        connect(`/api/v1/vms/${client.id}/console/ws?ticket=${otherVm.ticket}`, {
          cookie: operator.cookie,
        }),
        401,
        'CONSOLE_TICKET_INVALID',
      );

      const foreign = await ticketFor('operator', client.id);
      await assertRefused(
        connect(foreign.path, { cookie: operator.cookie, origin: 'http://evil.example' }),
        403,
        'CONSOLE_ORIGIN_REFUSED',
      );
      await assertRefused(
        connect(foreign.path, { cookie: operator.cookie, origin: null }),
        403,
        'CONSOLE_ORIGIN_REFUSED',
      );
      // Refused for its Origin, the ticket was not spent: the right page still gets in.
      const pipe = await connect(foreign.path, { cookie: operator.cookie });
      await handshake(pipe, null);
      pipe.ws.close();
    });

    it('a viewer watches only: input is dropped, the screen keeps coming, others stay', async () => {
      // Straight on QEMU, an exclusive ClientInit disconnects the other clients.
      const vncSocket = (await f.agent.vm(client.name))?.vncSocket;
      assert.ok(vncSocket !== undefined);
      const bystander = await connectUnix(vncSocket);
      const bystanderDesktop = await handshake(socketPipe(bystander), null);
      const exclusive = await connectUnix(vncSocket);
      await handshake(socketPipe(exclusive), null, { shared: false });
      await bystander.closed(20_000);
      exclusive.socket.destroy();

      const other = await connectUnix(vncSocket);
      const otherDesktop = await handshake(socketPipe(other), null);
      const ticket = await ticketFor('viewer', client.id);
      assert.equal(ticket.viewOnly, true);
      const pipe = await connect(ticket.path, { cookie: session('viewer').cookie });
      const desktop = await handshake(pipe, null, { shared: false });
      await screen(pipe, desktop);
      // Through the console, it was made shared: the other client is still served.
      await screen(socketPipe(other), otherDesktop);
      assert.deepEqual(otherDesktop, bystanderDesktop);

      // The guest reads no keyboard: a key reaching QEMU's PS/2 keyboard raises IRQ 1 once.
      const keyboardIrqs = async () => {
        const info = await f.supervisor
          .qmp(client.name)
          .execute<string>('human-monitor-command', { 'command-line': 'info irq' });
        const counts = [...info.matchAll(/^\s*1: (\d+)\s*$/gm)].map((m) => Number(m[1]));
        return Math.max(0, ...counts);
      };
      assert.equal(await keyboardIrqs(), 0, 'no key pressed yet');
      for (let i = 0; i < 5; i++) pipe.write(Buffer.concat([KEY_DOWN_A, KEY_UP_A, POINTER]));
      // QEMU handles a client's messages in order: once this update came, the keys would have.
      await screen(pipe, desktop);
      assert.equal(pipe.closed, false);
      assert.equal(await keyboardIrqs(), 0, 'the viewer’s keys never reached the VM');
      // The same keys from a full-access console do.
      const operator = await ticketFor('operator', client.id);
      const full = await connect(operator.path, { cookie: session('operator').cookie });
      const fullDesktop = await handshake(full, null);
      full.write(Buffer.concat([KEY_DOWN_A, KEY_UP_A]));
      await screen(full, fullDesktop);
      // Pressed again while waiting: on a loaded machine a first key was once not seen in
      // 20 s (CI); any one of them reaching QEMU's keyboard is what this control proves.
      await waitFor(
        'the keyboard interrupt',
        async () => {
          if ((await keyboardIrqs()) > 0) return true;
          full.write(Buffer.concat([KEY_DOWN_A, KEY_UP_A]));
          return undefined;
        },
        30_000,
        500,
      );
      full.ws.close();

      // A message the filter cannot frame ends the connection.
      pipe.write(Buffer.from([7, 0, 0, 0]));
      await waitFor('the console closed', () => (pipe.closed ? true : undefined));
      other.socket.destroy();
    });

    it('ends an open console once its session is signed out', async () => {
      // A session of its own, so the others stay signed in.
      const user = f.users.operator;
      const login = await f.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { username: user.username, password: user.password },
      });
      const { csrfToken } = json<{ csrfToken: string }>(login, 200);
      const cookie = /^(labvirt_session=[^;]+)/.exec(String(login.headers['set-cookie']))![1]!;
      const issued = await f.app.inject({
        method: 'POST',
        url: `/api/v1/vms/${client.id}/console`,
        headers: { cookie, 'x-csrf-token': csrfToken },
        payload: {},
      });
      const ticket = json<ConsoleTicketView>(issued, 201);
      const pipe = await connect(ticket.path, { cookie });
      await handshake(pipe, null);
      const out = await f.app.inject({
        method: 'POST',
        url: '/api/v1/auth/logout',
        headers: { cookie, 'x-csrf-token': csrfToken },
      });
      assert.equal(out.statusCode, 204);
      // Checked every RECHECK_INTERVAL_MS (15 s): closed within the next round.
      await waitFor(
        'the console closed after sign-out',
        async () => (pipe.closed ? true : undefined),
        25_000,
      );
    });

    it('ends the WebSocket when the VM ends', async () => {
      const ticket = await ticketFor('operator', client.id);
      const pipe = await connect(ticket.path, { cookie: session('operator').cookie });
      await handshake(pipe, null);
      json(
        await f.request({
          method: 'POST',
          url: `/api/v1/vms/${client.id}/stop`,
          as: f.users.operator,
          payload: { force: true },
        }),
        200,
      );
      await waitFor('the console closed', () => (pipe.closed ? true : undefined));
      const refused = await f.app.inject({
        method: 'POST',
        url: `/api/v1/vms/${client.id}/console`,
        headers: { cookie: session('operator').cookie, 'x-csrf-token': session('operator').csrf },
        payload: {},
      });
      assert.equal(refused.statusCode, 409, refused.body);
      assert.equal(refused.json<{ code: string }>().code, 'VM_NOT_RUNNING');
    });
  });
}
