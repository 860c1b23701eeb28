// Issue 6: a real RFB (VNC) client on a VM's display makes it connected through QMP (no
// gateway, nothing in the guest: QEMU's client list, refreshed by its VNC_CONNECTED and
// VNC_DISCONNECTED events); the idle policy (a one-minute timeout on an injected clock)
// shuts down an idle VM and leaves the connected one alone. Two terminals' VMs of one lab.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TerminalConfig } from '../../src/terminal/config.js';
import { dialects } from '../helpers/databases.js';
import { connectUnix, rfbHandshake } from '../helpers/display-clients.js';
import { waitFor } from '../helpers/env.js';
import {
  guestProfile,
  GuestMode,
  json,
  vmFixture,
  vmRow,
  waitForState,
  type VmFixture,
} from '../helpers/vm-fixture.js';

let macCounter = 0;
const nextMac = () => `52:54:00:6c:a0:${(macCounter++ % 256).toString(16).padStart(2, '0')}`;

for (const dialect of dialects) {
  describe(`connection awareness on ${dialect.name}`, () => {
    let f: VmFixture;
    const clock = { now: new Date('2031-03-03T09:00:00.000Z') };
    const db = () => f.database.db;

    before(async () => {
      f = await vmFixture(dialect, {
        now: () => clock.now,
        terminalRateLimit: { max: 10_000, windowMs: 60_000 },
        vmStopGraceMs: 0,
      });
      const profile = await guestProfile(f, { mode: GuestMode.waitForPowerButton });
      const lab = f.labs.mine.id;
      await db()
        .insertInto('lab_profiles')
        .values({ lab_id: lab, profile_id: profile.id })
        .execute();
      await db()
        .updateTable('labs')
        .set({ default_profile_id: profile.id, idle_minutes: 1 })
        .where('id', '=', lab)
        .execute();
    });
    after(() => f?.close());

    async function servedTerminal(): Promise<{ vm: string; id: string }> {
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
      const config = await waitFor(`terminal ${mac} served`, async () => {
        const response = await f.app.inject({
          method: 'GET',
          url: `/terminal/v1/config?mac=${mac}`,
          remoteAddress: '127.0.0.1',
        });
        return response.statusCode === 202 ? undefined : json<TerminalConfig>(response, 200);
      });
      const row = await db()
        .selectFrom('vms')
        .select('id')
        .where('name', '=', config.vm)
        .executeTakeFirstOrThrow();
      return { vm: config.vm, id: row.id };
    }

    it('a VNC client on the socket shows within 2 s; the idle VM is stopped, the connected one kept', async () => {
      const a = await servedTerminal();
      const b = await servedTerminal();
      const vncSocket = (await f.agent.vm(a.vm))?.vncSocket;
      assert.ok(vncSocket !== undefined);
      assert.deepEqual((await vmRow(f, a.id)).connections, []);

      // Straight on A's display socket (the console's way), not through the gateway.
      const ticket = await f.agent.ticket(a.vm, 60);
      const client = await connectUnix(vncSocket);
      const session = await rfbHandshake(client, ticket);
      assert.equal(session.ok, true, session.reason);
      const connectedAt = Date.now();
      const shown = await waitFor(
        'A connected',
        async () => {
          const vm = await vmRow(f, a.id);
          return vm.connections.length > 0 ? vm.connections : undefined;
        },
        2_000,
        20,
      );
      assert.ok(Date.now() - connectedAt <= 2_000, `shown after ${Date.now() - connectedAt} ms`);
      assert.deepEqual(
        shown.map((c) => [c.peer, c.via]),
        [['unix:vnc', 'display']],
      );
      assert.deepEqual((await vmRow(f, b.id)).connections, []);

      // The policy: B idle since the first round, past a minute at the next; A connected.
      const first = await f.app.terminalVms.tick();
      assert.deepEqual(first.idle, []);
      clock.now = new Date(clock.now.getTime() + 61_000);
      const round = await f.app.terminalVms.tick();
      assert.deepEqual(round.idle, [b.vm]);
      await waitForState(f, b.id, 'stopped');
      const audit = await db()
        .selectFrom('audit_events')
        .select('action')
        .where('target_id', '=', b.id)
        .execute();
      assert.ok(audit.some((event) => event.action === 'vm.idle'));
      assert.equal((await vmRow(f, a.id)).state, 'running');
      assert.ok((await f.agent.vm(a.vm)) !== undefined, 'A still runs on the host');

      client.socket.destroy();
      const gone = Date.now();
      await waitFor(
        'A not connected',
        async () => ((await vmRow(f, a.id)).connections.length === 0 ? true : undefined),
        2_000,
        20,
      );
      assert.ok(Date.now() - gone <= 2_000, `gone after ${Date.now() - gone} ms`);
    });
  });
}
