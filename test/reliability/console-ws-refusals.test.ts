// The VM console's WebSocket refuses, before the upgrade (an HTTP 401/403 problem, never a
// 101), every attempt that lacks one of: a ticket, the ticket's own user's session, a ticket
// still valid (the fixture's clock moved past its 30 s), the console page's Origin, a ticket
// not yet used. Over a real listening server, the real LocalAgent and a running QEMU VM;
// after each refusal QEMU lists no display client on the VM (nothing was opened). The
// rest of the console (screens, view-only) is test/integration/console-ws.test.ts.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { dialects } from '../helpers/databases.js';
import { waitFor } from '../helpers/env.js';
import {
  guestProfile,
  GuestMode,
  json,
  startClient,
  vmFixture,
  vmRow,
  waitForState,
  type VmFixture,
} from '../helpers/vm-fixture.js';
import { hostileInputs, invariant } from './ledger.js';
import { openConsole, type Refusal } from './matrix-console.js';

// One dialect: the refusals are the route's, not the database's (the matrix of routes runs
// on both); PostgreSQL is what production uses.
const dialect = dialects.find((d) => d.name === 'postgres') ?? dialects[0]!;

describe(`console WebSocket refusals on ${dialect.name}`, () => {
  let f: VmFixture;
  let base: string;
  let vm: string;
  const clock = { offsetMs: 0 };
  const cookies: Partial<Record<'operator' | 'viewer', string>> = {};
  let csrf = '';
  let refusals = 0;

  before(async () => {
    f = await vmFixture(dialect, {
      now: () => new Date(Date.now() + clock.offsetMs),
      vmStopGraceMs: 0,
    });
    await f.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(f.app.server.address() as AddressInfo).port}`;
    for (const role of ['operator', 'viewer'] as const) {
      const user = f.users[role];
      const response = await f.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { username: user.username, password: user.password },
      });
      const body = json<{ csrfToken: string }>(response, 200);
      if (role === 'operator') csrf = body.csrfToken;
      cookies[role] = /^(labvirt_session=[^;]+)/.exec(String(response.headers['set-cookie']))![1]!;
    }
    const profile = await guestProfile(f, { mode: GuestMode.waitForPowerButton });
    const started = await startClient(f, profile.id);
    await waitForState(f, started.id, 'running');
    vm = started.id;
  });
  after(async () => {
    hostileInputs('console ws refusal', refusals);
    await f?.close();
  });

  const cookie = (role: 'operator' | 'viewer') => cookies[role]!;

  async function ticket(): Promise<string> {
    // As the console page asks: the operator's session, with its CSRF token.
    const response = await f.app.inject({
      method: 'POST',
      url: `/api/v1/vms/${vm}/console`,
      headers: { cookie: cookie('operator'), 'x-csrf-token': csrf },
      payload: {},
    });
    return json<{ path: string }>(response, 201).path;
  }

  async function displayClients(): Promise<number> {
    return (await vmRow(f, vm)).connections.filter((c) => c.via === 'display').length;
  }

  /** The attempt is refused before the upgrade with this problem, and opens nothing. */
  async function refused(
    name: string,
    attempt: Promise<unknown>,
    status: number,
    code: string,
  ): Promise<void> {
    refusals++;
    await invariant(`console ws refused before the upgrade: ${name}`, async () => {
      await assert.rejects(attempt, (error: Refusal) => {
        assert.equal(error.status, status, error.message);
        assert.match(String(error.type), /^application\/problem\+json/);
        assert.equal(error.problem.code, code);
        return true;
      });
      assert.equal(await displayClients(), 0, 'no display client opened on the VM');
    });
  }

  it('no ticket, a forged one', async () => {
    const path = `/api/v1/vms/${vm}/console/ws`;
    await refused(
      'no ticket',
      openConsole(base, path, { cookie: cookie('operator') }),
      401,
      'CONSOLE_TICKET_INVALID',
    );
    await refused(
      'a forged ticket',
      openConsole(base, `${path}?ticket=${'A'.repeat(43)}`, { cookie: cookie('operator') }),
      401,
      'CONSOLE_TICKET_INVALID',
    );
  });

  it('someone else’s ticket, or no session at all', async () => {
    const path = await ticket();
    await refused(
      'someone else’s ticket',
      openConsole(base, path, { cookie: cookie('viewer') }),
      401,
      'CONSOLE_TICKET_INVALID',
    );
    await refused(
      'a ticket without a session',
      openConsole(base, await ticket()),
      401,
      'AUTH_REQUIRED',
    );
  });

  it('an expired ticket', async () => {
    const path = await ticket();
    clock.offsetMs += 31_000;
    try {
      await refused(
        'an expired ticket',
        openConsole(base, path, { cookie: cookie('operator') }),
        401,
        'CONSOLE_TICKET_INVALID',
      );
    } finally {
      clock.offsetMs -= 31_000;
    }
  });

  it('a foreign Origin, or none', async () => {
    const path = await ticket();
    const options = { cookie: cookie('operator') };
    await refused(
      'a foreign Origin',
      openConsole(base, path, { ...options, origin: 'http://evil.example' }),
      403,
      'CONSOLE_ORIGIN_REFUSED',
    );
    await refused(
      'no Origin',
      openConsole(base, path, { ...options, origin: null }),
      403,
      'CONSOLE_ORIGIN_REFUSED',
    );
  });

  it('a used ticket', async () => {
    const path = await ticket();
    // The first use opens the console: QEMU lists it as a display client.
    const ws = await openConsole(base, path, { cookie: cookie('operator') });
    await waitFor('the console listed', async () =>
      (await displayClients()) > 0 ? true : undefined,
    );
    ws.close();
    await waitFor('the console gone', async () =>
      (await displayClients()) === 0 ? true : undefined,
    );
    await refused(
      'a used ticket',
      openConsole(base, path, { cookie: cookie('operator') }),
      401,
      'CONSOLE_TICKET_INVALID',
    );
  });
});
