// The terminal endpoint on real QEMU (issue 5, invariant 4): an enrolled terminal's first
// config request starts its VM (202), then it is told where to connect (200, a one-time
// ticket); each terminal has its own VM, and asking again gives the same one; a lab's
// timetable changes the profile of the VMs nobody is connected to, and leaves a connected
// one alone until it ends; the idle policy ends VMs nobody uses. The clock is injected.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import type { TerminalConfig } from '../../src/terminal/config.js';
import { dialects } from '../helpers/databases.js';
import { waitFor } from '../helpers/env.js';
import {
  guestProfile,
  GuestMode,
  json,
  vmFixture,
  waitForState,
  type TestProfile,
  type VmFixture,
} from '../helpers/vm-fixture.js';

let macCounter = 0;
const nextMac = () => `52:54:00:7e:00:${(macCounter++ % 256).toString(16).padStart(2, '0')}`;

for (const dialect of dialects) {
  describe(`terminal config on ${dialect.name}`, () => {
    let f: VmFixture;
    let first: TestProfile;
    let second: TestProfile;
    // Monday 2031-03-03, 09:00 UTC (the lab's zone).
    const clock = { now: new Date('2031-03-03T09:00:00.000Z') };
    const db = () => f.database.db;

    before(async () => {
      f = await vmFixture(dialect, {
        now: () => clock.now,
        terminalRateLimit: { max: 10_000, windowMs: 60_000 },
        vmStopGraceMs: 0,
      });
      first = await guestProfile(f, { mode: GuestMode.waitForPowerButton, name: 'first' });
      second = await guestProfile(f, { mode: GuestMode.waitForPowerButton, name: 'second' });
      const lab = f.labs.mine.id;
      await db()
        .insertInto('lab_profiles')
        .values([
          { lab_id: lab, profile_id: first.id },
          { lab_id: lab, profile_id: second.id },
        ])
        .execute();
      await db()
        .updateTable('labs')
        .set({ default_profile_id: first.id })
        .where('id', '=', lab)
        .execute();
    });
    after(() => f?.close());

    const ask = (query: string, remoteAddress = '127.0.0.1') =>
      f.app.inject({ method: 'GET', url: `/terminal/v1/config?${query}`, remoteAddress });

    async function enrol(lab = f.labs.mine.name): Promise<string> {
      const mac = nextMac();
      json(
        await f.request({
          method: 'POST',
          url: '/api/v1/terminals',
          as: f.users.admin,
          payload: { mac, lab },
        }),
        201,
      );
      return mac;
    }

    /** Asks until the VM runs: 202 (with Retry-After) first, then 200. */
    async function served(mac: string): Promise<TerminalConfig> {
      return waitFor(`terminal ${mac} to be served`, async () => {
        const response = await ask(`mac=${mac}`);
        if (response.statusCode === 202) {
          assert.match(String(response.headers['retry-after']), /^\d+$/);
          return undefined;
        }
        return json<TerminalConfig>(response, 200);
      });
    }

    async function activeVms(mac: string) {
      return db()
        .selectFrom('vms')
        .innerJoin('terminals', 'terminals.id', 'vms.terminal_id')
        .select(['vms.name', 'vms.state', 'vms.profile_id'])
        .where('terminals.mac', '=', mac)
        .where('vms.state', 'in', ['starting', 'running', 'stopping'])
        .execute();
    }

    it('first request 202, then 200 once the VM runs; each terminal its own VM, the same again', async () => {
      const a = await enrol();
      const b = await enrol();
      const firstAnswer = await ask(`mac=${a}`);
      assert.equal(firstAnswer.statusCode, 202, firstAnswer.body);
      assert.ok(Number(firstAnswer.headers['retry-after']) >= 1);
      assert.equal(firstAnswer.headers['cache-control'], 'no-store');

      const configA = await served(a);
      assert.equal(configA.protocol, 'vnc');
      assert.equal(configA.profile, first.name);
      assert.equal(configA.lab, f.labs.mine.name);
      assert.deepEqual(configA.terminal, { name: a, mac: a });
      assert.equal(configA.host, 'localhost'); // the host the terminal reached us at
      assert.ok(configA.port > 0);
      assert.match(configA.ticket ?? '', /^.{8}$/);
      assert.ok(Date.parse(configA.ticketExpiresAt ?? '') > clock.now.getTime());

      const configB = await served(b);
      assert.notEqual(configB.vm, configA.vm);
      assert.notEqual(configB.port, configA.port);

      const again = json<TerminalConfig>(await ask(`mac=${a}`), 200);
      assert.equal(again.vm, configA.vm);
      assert.notEqual(again.ticket, configA.ticket, 'a new one-time ticket each time');
      assert.equal((await activeVms(a)).length, 1);
      assert.equal((await activeVms(b)).length, 1);

      // The VM's display is reachable where the terminal was told (the agent's gateway).
      const banner = await readBanner(configA.port);
      assert.match(banner, /^RFB 003\.00\d\n$/);
    });

    it('ten requests at once for a new terminal start one VM (invariant 4)', async () => {
      const mac = await enrol();
      const answers = await Promise.all(Array.from({ length: 10 }, () => ask(`mac=${mac}`)));
      for (const answer of answers) assert.equal(answer.statusCode, 202, answer.body);
      assert.equal((await activeVms(mac)).length, 1);
      await served(mac);
      assert.equal((await activeVms(mac)).length, 1);
    });

    it('at a slot change the VMs nobody uses get the new profile; a connected one stays', async () => {
      const used = await enrol();
      const unused = await enrol();
      const usedConfig = await served(used);
      const unusedConfig = await served(unused);
      assert.equal(usedConfig.profile, first.name);
      // Someone sits at the first terminal: a client connected through the gateway.
      const session = await openSession(usedConfig.port);
      try {
        await waitFor('the connection to be seen', async () => {
          const vm = await f.agent.vm(usedConfig.vm);
          return vm !== undefined && vm.connections.length > 0 ? true : undefined;
        });
        // Every day 10:00-12:00 the lab runs the second profile.
        await db()
          .insertInto('lab_slots')
          .values({
            id: randomUUID(),
            lab_id: f.labs.mine.id,
            days: 127,
            start_minute: 600,
            end_minute: 720,
            profile_id: second.id,
          })
          .execute();
        clock.now = new Date('2031-03-03T10:00:00.000Z');
        const round = await f.app.terminalVms.tick();
        assert.ok(round.replaced.includes(unusedConfig.vm), JSON.stringify(round));
        assert.ok(!round.replaced.includes(usedConfig.vm), JSON.stringify(round));

        const replaced = await served(unused);
        assert.notEqual(replaced.vm, unusedConfig.vm);
        assert.equal(replaced.profile, second.name);
        const kept = json<TerminalConfig>(await ask(`mac=${used}`), 200);
        assert.equal(kept.vm, usedConfig.vm, 'the connected terminal keeps its VM');
        assert.equal(kept.profile, first.name);
      } finally {
        session.destroy();
      }
      // Once nobody is connected, the next round gives it the profile of now.
      await waitFor('the disconnect to be seen', async () => {
        const vm = await f.agent.vm(usedConfig.vm);
        return vm !== undefined && vm.connections.length === 0 ? true : undefined;
      });
      await f.app.terminalVms.tick();
      const after = await served(used);
      assert.notEqual(after.vm, usedConfig.vm);
      assert.equal(after.profile, second.name);
      await db().deleteFrom('lab_slots').where('lab_id', '=', f.labs.mine.id).execute();
    });

    it('the idle policy ends a VM nobody connects to, and the terminal gets a fresh one', async () => {
      await db()
        .updateTable('labs')
        .set({ idle_minutes: 1 })
        .where('id', '=', f.labs.mine.id)
        .execute();
      try {
        const mac = await enrol();
        const config = await served(mac);
        const row = await db()
          .selectFrom('vms')
          .select('id')
          .where('name', '=', config.vm)
          .executeTakeFirstOrThrow();
        await f.app.terminalVms.tick(); // notes it idle since now
        clock.now = new Date(clock.now.getTime() + 30_000);
        assert.ok(!(await f.app.terminalVms.tick()).idle.includes(config.vm), 'not yet');
        clock.now = new Date(clock.now.getTime() + 31_000);
        assert.ok((await f.app.terminalVms.tick()).idle.includes(config.vm));
        await waitForState(f, row.id, 'stopped');
        const audit = await db()
          .selectFrom('audit_events')
          .select('action')
          .where('target_id', '=', row.id)
          .execute();
        assert.ok(audit.some((event) => event.action === 'vm.idle'));
        const fresh = await served(mac);
        assert.notEqual(fresh.vm, config.vm);
      } finally {
        await db()
          .updateTable('labs')
          .set({ idle_minutes: null })
          .where('id', '=', f.labs.mine.id)
          .execute();
      }
    });

    it('lab stop ends the VMs of its terminals; lab start pre-starts them', async () => {
      const mac = await enrol();
      await served(mac);
      const stop = json<{ stopped: number }>(
        await f.request({
          method: 'POST',
          url: `/api/v1/labs/${f.labs.mine.name}/stop`,
          as: f.users.operator,
          payload: {},
        }),
        200,
      );
      assert.ok(stop.stopped >= 1);
      assert.equal((await activeVms(mac)).length, 0);
      const start = json<{ started: number; running: number; failed: unknown[] }>(
        await f.request({
          method: 'POST',
          url: `/api/v1/labs/${f.labs.mine.name}/start`,
          as: f.users.operator,
          payload: {},
        }),
        200,
      );
      assert.deepEqual(start.failed, []);
      assert.ok(start.started >= 1);
      const vms = await activeVms(mac);
      assert.equal(vms.length, 1);
      assert.equal(vms[0]!.state, 'running', 'pre-started: running before the terminal asks');
      assert.equal(json<TerminalConfig>(await ask(`mac=${mac}`), 200).vm, vms[0]!.name);
    });

    it('unknown, disabled, closed and unidentified terminals are told why (403/400)', async () => {
      const stranger = nextMac();
      const pending = await ask(`mac=${stranger}`);
      assertProblem(pending, 403, 'TERMINAL_PENDING');
      assert.match(pending.json<{ detail: string }>().detail, new RegExp(stranger));
      const row = await db()
        .selectFrom('terminals')
        .selectAll()
        .where('mac', '=', stranger)
        .executeTakeFirstOrThrow();
      assert.equal(row.lab_id, null, 'kept as pending for an admin');
      assert.equal(row.last_ip, '127.0.0.1');

      // A subnet rule enrols at once (into a lab with nothing to run: closed).
      await db()
        .insertInto('lab_subnets')
        .values({
          cidr: '10.9.0.0/16',
          lab_id: f.labs.other.id,
          created_at: new Date().toISOString(),
        })
        .execute();
      const newcomer = nextMac();
      assertProblem(await ask(`mac=${newcomer}`, '10.9.3.4'), 403, 'LAB_CLOSED');
      const enrolled = await db()
        .selectFrom('terminals')
        .select('lab_id')
        .where('mac', '=', newcomer)
        .executeTakeFirstOrThrow();
      assert.equal(enrolled.lab_id, f.labs.other.id);

      const disabled = await enrol();
      await db().updateTable('terminals').set({ enabled: 0 }).where('mac', '=', disabled).execute();
      assertProblem(await ask(`mac=${disabled}`), 403, 'TERMINAL_DISABLED');

      assertProblem(await ask('', '192.0.2.1'), 400, 'TERMINAL_UNIDENTIFIED');
      // A terminal registered by its address may ask without a MAC.
      const byIp = await enrol();
      await db()
        .updateTable('terminals')
        .set({ ip: '192.0.2.7' })
        .where('mac', '=', byIp)
        .execute();
      const answer = await ask('', '::ffff:192.0.2.7');
      assert.equal(answer.statusCode, 202, answer.body);
      assert.equal((await activeVms(byIp)).length, 1);
      assert.equal((await served(byIp)).terminal.mac, byIp);
    });

    it('bad input is a 400 naming the problem, and changes nothing', async () => {
      const count = async () =>
        Number(
          (
            await db()
              .selectFrom('terminals')
              .select((eb) => eb.fn.countAll().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        );
      const before = await count();
      const thousand = Array.from(
        { length: 1000 },
        (_, i) =>
          `mac=52:54:00:01:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
      ).join('&');
      for (const [query, code] of [
        ['mac=52:54:00:zz:00:01', 'MAC_MALFORMED'],
        ['mac=hello', 'MAC_MALFORMED'],
        [thousand, 'TERMINAL_MACS_TOO_MANY'],
        [`mac=52:54:00:00:00:01,${'52:54:00:00:00:01,'.repeat(300)}`, 'QUERY_TOO_LONG'],
        [`mac=52:54:00:00:00:01&x=${'a'.repeat(5000)}`, undefined],
        ['mac=52:54:00:00:00:01&format=pdf', undefined],
        ['mac=52:54:00:00:00:01&format=args&client=putty', undefined],
      ] as const) {
        const response = await ask(query);
        assert.equal(response.statusCode, 400, `${query.slice(0, 60)}: ${response.body}`);
        const problem = response.json<{ code: string; detail: string }>();
        if (code !== undefined) assert.equal(problem.code, code);
        assert.ok(problem.detail.length > 0 && !problem.detail.includes('\n'));
      }
      // Just over the maximum number of MACs, in a short enough URL.
      const seventeen = Array.from(
        { length: 17 },
        (_, i) => `52:54:00:02:00:${i.toString(16).padStart(2, '0')}`,
      ).join(',');
      assert.equal((await ask(`mac=${seventeen}`)).statusCode, 400);
      assert.equal(await count(), before);
    });
  });
}

function assertProblem(response: LightMyRequestResponse, status: number, code: string): void {
  assert.equal(response.statusCode, status, response.body);
  assert.match(String(response.headers['content-type']), /application\/problem\+json/);
  assert.equal(response.json<{ code: string }>().code, code);
}

/** The first bytes a VNC server sends: its protocol version. */
function readBanner(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(5000, () => socket.destroy(new Error('no banner within 5 s')));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString('latin1'));
    });
    socket.once('error', reject);
  });
}

/** A TCP connection to the gateway that stays open (a terminal's client, connected). */
function openSession(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('data', () => resolve(socket));
    socket.once('error', reject);
  });
}
