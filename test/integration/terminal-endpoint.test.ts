// The terminal endpoint's HTTP side, on both dialects: the formats a terminal may ask for,
// the per-address rate limit, the boot script, and that an answer is only ever about the
// asking terminal. The host agent is a stand-in here (its VMs are rows said to run, with a
// display port and a ticket): the real QEMU path is terminal-config.test.ts.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { AgentVm } from '../../src/agent/host-agent.js';
import { buildApp } from '../../src/controller/app.js';
import type { TerminalConfig } from '../../src/terminal/config.js';
import { createApiFixture, type ApiFixture } from '../helpers/api.js';
import { dialects, rows } from '../helpers/databases.js';
import { fakeAgent } from '../helpers/fake-agent.js';

interface Seat {
  readonly mac: string;
  readonly vm: string;
  readonly port: number;
}

function agentVm(name: string, port: number, protocol: 'vnc' | 'rdp'): AgentVm {
  return {
    name,
    uuid: '00000000-0000-4000-8000-000000000000',
    pid: 1,
    state: 'running',
    runStatus: 'running',
    mac: '52:54:00:00:00:01',
    vncSocket: '/nonexistent',
    discardWrites: true,
    startedAt: new Date().toISOString(),
    display: { protocol, port },
    connections: [],
  };
}

for (const dialect of dialects) {
  describe(`the terminal endpoint on ${dialect.name}`, () => {
    let f: ApiFixture;
    const live = new Map<string, AgentVm>();
    const agent = fakeAgent({
      vm: async (name) => live.get(name),
      listVms: async () => [...live.values()],
      ticket: async (name) =>
        live.get(name)?.display?.protocol === 'rdp' ? undefined : randomBytes(4).toString('hex'),
    });
    const seats: Record<'vnc' | 'rdp', Seat> = {} as never;

    before(async () => {
      f = await createApiFixture(dialect, { agents: [agent] });
      const db = f.database.db;
      for (const [index, protocol] of (['vnc', 'rdp'] as const).entries()) {
        const profile = rows.profile({ display: protocol, name: `${protocol}-desktop` });
        await db.insertInto('profiles').values(profile).execute();
        const lab = rows.lab({ default_profile_id: profile.id });
        await db.insertInto('labs').values(lab).execute();
        const terminal = rows.terminal({ lab_id: lab.id });
        await db.insertInto('terminals').values(terminal).execute();
        const vm = rows.vm({
          state: 'running',
          profile_id: profile.id,
          terminal_id: terminal.id,
          name: `client-${protocol}`,
        });
        await db.insertInto('vms').values(vm).execute();
        const port = 5900 + index;
        live.set(vm.name, agentVm(vm.name, port, protocol));
        seats[protocol] = { mac: terminal.mac, vm: vm.name, port };
      }
    });
    after(() => f?.close());

    const ask = (query: string, headers: Record<string, string> = {}) =>
      f.app.inject({ method: 'GET', url: `/terminal/v1/config?${query}`, headers });

    it('answers in every format, about the asking terminal only', async () => {
      const vnc = seats.vnc;
      const json = await ask(`mac=${vnc.mac.toUpperCase()}`, { host: 'labvirt.example:8080' });
      assert.equal(json.statusCode, 200, json.body);
      const config = json.json<TerminalConfig>();
      assert.equal(config.vm, vnc.vm);
      assert.equal(config.port, vnc.port);
      assert.equal(config.host, 'labvirt.example');
      assert.equal(config.terminal.mac, vnc.mac);
      assert.ok(!json.body.includes(seats.rdp.mac) && !json.body.includes(seats.rdp.vm));

      const env = await ask(`mac=${vnc.mac}&format=env`);
      assert.equal(env.statusCode, 200);
      assert.match(env.body, /^LABVIRT_PROTOCOL='vnc'$/m);
      assert.match(env.body, new RegExp(`^LABVIRT_PORT='${vnc.port}'$`, 'm'));

      const vv = await ask(`mac=${vnc.mac}&format=vv`);
      assert.equal(vv.statusCode, 200);
      assert.match(String(vv.headers['content-type']), /virt-viewer/);
      assert.match(vv.body, /^\[virt-viewer\]/);
      assert.match(vv.body, /^password=.+$/m);

      const args = await ask(`mac=${vnc.mac}&format=args&client=xfreerdp&client=vncviewer`);
      assert.equal(args.statusCode, 200, args.body);
      assert.ok(args.body.split('\n').includes('vncviewer'), 'the first client that speaks VNC');
      assert.ok(!args.body.split('\n').includes('xfreerdp'));

      // A format for another protocol, or no client that speaks this one: 409, said why.
      assert.equal((await ask(`mac=${vnc.mac}&format=rdp`)).statusCode, 409);
      assert.equal((await ask(`mac=${vnc.mac}&format=args&client=xfreerdp`)).statusCode, 409);

      const rdp = await ask(`mac=${seats.rdp.mac}&format=rdp`);
      assert.equal(rdp.statusCode, 200, rdp.body);
      assert.match(rdp.body, new RegExp(`full address:s:localhost:${seats.rdp.port}`));
      const rdpJson = (await ask(`mac=${seats.rdp.mac}`)).json<TerminalConfig>();
      assert.equal(rdpJson.ticket, null, 'RDP has no ticket: the guest asks the user');
    });

    it('several MACs: the one enrolled is served; an unknown first MAC is not kept pending', async () => {
      const stranger = '52:54:00:99:99:01';
      const answer = await ask(`mac=${stranger}&mac=${seats.vnc.mac}`);
      assert.equal(answer.statusCode, 200, answer.body);
      assert.equal(answer.json<TerminalConfig>().vm, seats.vnc.vm);
      const kept = await f.database.db
        .selectFrom('terminals')
        .select('id')
        .where('mac', '=', stranger)
        .executeTakeFirst();
      assert.equal(kept, undefined);
    });

    it('serves the boot script, with this server baked in and a hostile Host left out', async () => {
      const script = await f.app.inject({
        method: 'GET',
        url: '/terminal/v1/boot.sh',
        headers: { host: 'labvirt.example:8080' },
      });
      assert.equal(script.statusCode, 200);
      assert.match(script.body, /^#!\/bin\/sh/);
      assert.ok(script.body.includes('http://labvirt.example:8080'));
      const hostile = await f.app.inject({
        method: 'GET',
        url: '/terminal/v1/boot.sh',
        headers: { host: "x';reboot;'" },
      });
      assert.equal(hostile.statusCode, 200);
      assert.ok(!hostile.body.includes('reboot'));
    });

    it('limits requests per source address (429 problem with Retry-After)', async () => {
      const limited = await buildApp({
        db: f.database.db,
        agents: [agent],
        terminalRateLimit: { max: 3, windowMs: 60_000 },
      });
      try {
        const hit = (remoteAddress: string) =>
          limited.inject({
            method: 'GET',
            url: `/terminal/v1/config?mac=${seats.vnc.mac}`,
            remoteAddress,
          });
        for (let i = 0; i < 3; i++) assert.equal((await hit('10.0.0.1')).statusCode, 200);
        const refused = await hit('10.0.0.1');
        assert.equal(refused.statusCode, 429, refused.body);
        assert.match(String(refused.headers['content-type']), /application\/problem\+json/);
        assert.equal(refused.json<{ code: string }>().code, 'TERMINAL_RATE_LIMITED');
        assert.ok(Number(refused.headers['retry-after']) > 0);
        // Another address is not held back by it.
        assert.equal((await hit('10.0.0.2')).statusCode, 200);
      } finally {
        await limited.close();
      }
    });
  });
}
