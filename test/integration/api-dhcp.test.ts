// Labs' address pools, the DHCP export and what the agents are told, on both dialects:
// every terminal of a lab with a pool gets an address of it (one transaction), terminals
// joining get one and leaving give it back, the export lists exactly those (json, dnsmasq,
// dhcpd) with each terminal's stable VM MAC, and every change is pushed to the agent.
// Refusals (a full pool, an overlap, a bad range, an unknown lab, a bad format, a MAC an
// active VM has) are problems naming what is wrong, and change nothing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AgentVm, AgentVmSpec, DhcpHost } from '../../src/agent/host-agent.js';
import { terminalVmMac } from '../../src/domain/terminal-mac.js';
import type { LabView } from '../../src/controller/services/labs.js';
import type { TerminalView } from '../../src/controller/services/terminals.js';
import type { DhcpHostEntry } from '../../src/domain/dhcp-hosts.js';
import { createApiFixture, problem, snapshot, type ApiFixture } from '../helpers/api.js';
import { dialects, rows } from '../helpers/databases.js';
import { dhcpRecordingAgent } from '../helpers/fake-agent.js';
import { tempDir, waitFor } from '../helpers/env.js';
import { migrateToLatest, openDatabase } from '../../src/db/index.js';
import { startServer } from '../../src/controller/server.js';
import { createLab } from '../../src/controller/services/labs.js';
import { addTerminal as addTerminalRow } from '../../src/controller/services/terminals.js';
import { setAddressPool } from '../../src/controller/services/lab-addresses.js';

/** An agent that "runs" what it is asked to (no QEMU), remembering each spec. */
function startingAgent() {
  const specs: AgentVmSpec[] = [];
  const running = new Map<string, AgentVm>();
  const recording = dhcpRecordingAgent({
    listVms: async () => [...running.values()],
    vm: async (name) => running.get(name),
    startVm: async (spec) => {
      specs.push(spec);
      const vm: AgentVm = {
        name: spec.name,
        uuid: spec.uuid,
        pid: 1,
        state: 'running',
        runStatus: 'running',
        mac: spec.nic.mac,
        vncSocket: '/nonexistent',
        discardWrites: true,
        startedAt: new Date().toISOString(),
        display: null,
        connections: [],
      };
      running.set(spec.name, vm);
      return vm;
    },
    stopVm: async (name) => {
      running.delete(name);
      return { name, state: 'stopped', reason: undefined, stopMethod: undefined };
    },
  });
  return { ...recording, specs };
}

for (const dialect of dialects) {
  describe(`address pools and DHCP export on ${dialect.name}`, () => {
    let f: ApiFixture;
    let pushes: DhcpHost[][];
    let specs: AgentVmSpec[];
    before(async () => {
      const agent = startingAgent();
      pushes = agent.pushes;
      specs = agent.specs;
      f = await createApiFixture(dialect, { agents: [agent.agent] });
    });
    after(() => f?.close());

    const admin = () => f.users.admin;
    const call = (
      method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
      url: string,
      payload?: object,
    ) => f.request({ method, url, as: admin(), ...(payload === undefined ? {} : { payload }) });
    const setPool = (lab: string, pool: string | null) =>
      call('PUT', `/api/v1/labs/${encodeURIComponent(lab)}/address-pool`, { pool });
    const addTerminal = async (mac: string, lab: string, name?: string) => {
      const response = await call('POST', '/api/v1/terminals', {
        mac,
        lab,
        ...(name === undefined ? {} : { name }),
      });
      assert.equal(response.statusCode, 201, response.body);
      return response.json<TerminalView>();
    };
    const exported = async (query = '') => {
      const response = await call('GET', `/api/v1/dhcp/hosts${query}`);
      assert.equal(response.statusCode, 200, response.body);
      return response;
    };
    const entries = async (query = '') => (await exported(query)).json<DhcpHostEntry[]>();
    const terminal = async (ref: string) =>
      (await call('GET', `/api/v1/terminals/${ref}`)).json<TerminalView>();
    const lastPush = () => pushes.at(-1);
    /** A refusal: the problem, nothing changed in any table, and nothing pushed. */
    const refused = async (
      request: () => Promise<import('fastify').LightMyRequestResponse>,
      status: number,
      code: string,
      field?: string,
    ) => {
      const before = await snapshot(f.database);
      const pushed = pushes.length;
      const body = problem(await request(), status, code);
      if (field !== undefined) assert.equal(body.field, field, body.detail);
      assert.deepEqual(await snapshot(f.database), before, `${code} changed nothing`);
      assert.equal(pushes.length, pushed, `${code} pushed nothing`);
      return body;
    };

    let t1: TerminalView;
    let t2: TerminalView;
    let t3: TerminalView;

    it('a pool gives every terminal of the lab a distinct address of it, in one go', async () => {
      t1 = await addTerminal('02:00:00:00:01:01', 'lab-mine', 'Puesto 1');
      t2 = await addTerminal('02:00:00:00:01:02', 'lab-mine', 'Puesto 2');
      t3 = await addTerminal('02:00:00:00:01:03', 'lab-mine');
      assert.equal(t1.address, null);
      assert.equal(t1.vmMac, terminalVmMac(t1.id));
      assert.deepEqual(await entries(), []);

      const response = await setPool('lab-mine', ' 10.20.0.10 - 10.20.0.20 ');
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(response.json<LabView>().addressPool, '10.20.0.10-10.20.0.20');
      const shown = (await call('GET', '/api/v1/labs/lab-mine')).json<LabView>();
      assert.equal(shown.addressPool, '10.20.0.10-10.20.0.20');
      const listed = (await call('GET', '/api/v1/labs')).json<LabView[]>();
      assert.equal(listed.find((lab) => lab.name === 'lab-mine')?.addressPool, shown.addressPool);

      // By name (a terminal named by its MAC sorts first), the lowest addresses in order.
      assert.equal((await terminal(t3.id)).address, '10.20.0.10');
      assert.equal((await terminal(t1.id)).address, '10.20.0.11');
      assert.equal((await terminal(t2.id)).address, '10.20.0.12');
      const t3Name = `t-${t3.mac.replaceAll(':', '')}`;
      const expected: DhcpHostEntry[] = [
        {
          lab: 'lab-mine',
          terminal: t3.mac,
          mac: terminalVmMac(t3.id),
          ip: '10.20.0.10',
          name: t3Name,
        },
        {
          lab: 'lab-mine',
          terminal: t1.mac,
          mac: terminalVmMac(t1.id),
          ip: '10.20.0.11',
          name: 'puesto-1',
        },
        {
          lab: 'lab-mine',
          terminal: t2.mac,
          mac: terminalVmMac(t2.id),
          ip: '10.20.0.12',
          name: 'puesto-2',
        },
      ];
      assert.deepEqual(await entries(), expected);
      assert.deepEqual(await entries('?format=json&lab=lab-mine'), expected);
      assert.deepEqual(await entries('?lab=lab-other'), []);

      const dnsmasq = await exported('?format=dnsmasq');
      assert.match(String(dnsmasq.headers['content-type']), /^text\/plain/);
      assert.equal(dnsmasq.body, expected.map((e) => `${e.mac},${e.ip},${e.name}\n`).join(''));
      const dhcpd = await exported('?format=dhcpd&lab=lab-mine');
      assert.equal(
        dhcpd.body,
        expected
          .map((e) => `host ${e.name} { hardware ethernet ${e.mac}; fixed-address ${e.ip}; }\n`)
          .join(''),
      );
      // The agent was told the same entries.
      assert.deepEqual(
        lastPush(),
        expected.map(({ mac, ip, name }) => ({ mac, ip, name })),
      );
    });

    it('a terminal added, enrolled or moved into the lab gets the next free address, and it is pushed', async () => {
      const added = await addTerminal('02:00:00:00:01:04', 'lab-mine', 'Puesto 4');
      assert.equal(added.address, '10.20.0.13');
      assert.deepEqual(lastPush()?.at(-1), {
        mac: terminalVmMac(added.id),
        ip: '10.20.0.13',
        name: 'puesto-4',
      });
      assert.ok((await entries()).some((entry) => entry.terminal === added.mac));

      const pending = rows.terminal({ mac: '02:00:00:00:01:05', name: 'Puesto 5' });
      await f.database.db.insertInto('terminals').values(pending).execute();
      const enrol = await call('POST', `/api/v1/terminals/${pending.id}/enrol`, {
        lab: 'lab-mine',
      });
      assert.equal(enrol.statusCode, 200, enrol.body);
      assert.equal(enrol.json<TerminalView>().address, '10.20.0.14');
      assert.equal(lastPush()?.length, 5);

      // Leaving the lab gives it back; the next one takes the lowest free address.
      const away = await call('PATCH', `/api/v1/terminals/${added.id}`, { lab: 'lab-other' });
      assert.equal(away.statusCode, 200, away.body);
      assert.equal(away.json<TerminalView>().address, null);
      assert.equal(lastPush()?.length, 4);
      const removed = await call('DELETE', `/api/v1/terminals/${pending.id}`);
      assert.equal(removed.statusCode, 204);
      assert.equal(lastPush()?.length, 3);
      const back = await call('PATCH', `/api/v1/terminals/${added.id}`, { lab: 'lab-mine' });
      assert.equal(back.json<TerminalView>().address, '10.20.0.13');
      assert.deepEqual(
        (await entries()).map((entry) => entry.ip),
        ['10.20.0.10', '10.20.0.11', '10.20.0.12', '10.20.0.13'],
      );
    });

    it('a new pool keeps the addresses inside it and gives the others new ones', async () => {
      const before = new Map((await entries()).map((entry) => [entry.terminal, entry.ip]));
      const response = await setPool('lab-mine', '10.20.0.12-10.20.0.15');
      assert.equal(response.statusCode, 200, response.body);
      const after = new Map((await entries()).map((entry) => [entry.terminal, entry.ip]));
      // .12 and .13 were inside: kept; .10 and .11 were not: the free ones, lowest first.
      assert.equal(after.get(t2.mac), before.get(t2.mac));
      assert.equal(after.get(t2.mac), '10.20.0.12');
      assert.equal(after.get('02:00:00:00:01:04'), '10.20.0.13');
      assert.equal(after.get(t3.mac), '10.20.0.14');
      assert.equal(after.get(t1.mac), '10.20.0.15');
      assert.equal(new Set(after.values()).size, 4);
      assert.equal(lastPush()?.length, 4);
    });

    it('a full pool is POOL_EXHAUSTED, naming the lab, its size and terminals; nothing changes', async () => {
      const body = await refused(
        () => setPool('lab-mine', '10.20.0.12-10.20.0.14'),
        409,
        'POOL_EXHAUSTED',
        'pool',
      );
      assert.match(body.detail, /10\.20\.0\.12-10\.20\.0\.14/);
      assert.match(body.detail, /lab-mine/);
      assert.match(body.detail, /\b3 addresses\b/);
      assert.match(body.detail, /\b4 terminals\b/);
      // The lab is full now: no terminal joins it.
      await refused(
        () => call('POST', '/api/v1/terminals', { mac: '02:00:00:00:01:06', lab: 'lab-mine' }),
        409,
        'POOL_EXHAUSTED',
      );
      const pending = rows.terminal({ mac: '02:00:00:00:01:07' });
      await f.database.db.insertInto('terminals').values(pending).execute();
      await refused(
        () => call('POST', `/api/v1/terminals/${pending.id}/enrol`, { lab: 'lab-mine' }),
        409,
        'POOL_EXHAUSTED',
      );
      const outside = await addTerminal('02:00:00:00:01:08', 'lab-other');
      await refused(
        () => call('PATCH', `/api/v1/terminals/${outside.id}`, { lab: 'lab-mine' }),
        409,
        'POOL_EXHAUSTED',
      );
      assert.equal((await terminal(outside.id)).lab, 'lab-other');
    });

    it('a pool overlapping another lab’s is POOL_OVERLAP; nothing changes', async () => {
      const body = await refused(
        () => setPool('lab-other', '10.20.0.0/28'),
        409,
        'POOL_OVERLAP',
        'pool',
      );
      assert.match(body.detail, /lab-mine/);
      assert.match(body.detail, /10\.20\.0\.12-10\.20\.0\.15/);
      const ok = await setPool('lab-other', '10.20.0.16/28');
      assert.equal(ok.statusCode, 200, ok.body);
      // A subnet: its host addresses.
      assert.equal(ok.json<LabView>().addressPool, '10.20.0.17-10.20.0.30');
    });

    it('malformed, reversed, too big or IPv6 pools are POOL_INVALID, saying why; nothing changes', async () => {
      for (const [pool, why] of [
        ['10.0.0.1', /not an IPv4 range or subnet/],
        ['10.0.0.300-10.0.0.310', /not an IPv4 range or subnet/],
        ['fd00::1-fd00::9', /not an IPv4 range or subnet/],
        ['10.0.0.0/33', /not an IPv4 range or subnet/],
        ['10.0.0.99-10.0.0.10', /reversed: 10\.0\.0\.99 comes after 10\.0\.0\.10/],
        ['10.0.0.0/15', /131070 addresses/],
        ['10.0.0.0-10.1.0.0', /65537 addresses/],
      ] as const) {
        const body = await refused(() => setPool('lab-mine', pool), 400, 'POOL_INVALID', 'pool');
        assert.match(body.detail, why, pool);
        assert.match(body.detail, /65536/, pool);
      }
      // The most a pool may hold.
      const largest = await setPool('lab-mine', '10.100.0.0-10.100.255.255');
      assert.equal(largest.statusCode, 200, largest.body);
    });

    it('an unknown lab or format is a 4xx naming it; nothing changes', async () => {
      const lab = await refused(
        () => setPool('no-such-lab', '10.30.0.1-10.30.0.9'),
        404,
        'LAB_NOT_FOUND',
      );
      assert.match(lab.detail, /no-such-lab/);
      const query = await refused(
        () => call('GET', '/api/v1/dhcp/hosts?lab=no-such-lab'),
        404,
        'LAB_NOT_FOUND',
        'query.lab',
      );
      assert.match(query.detail, /no-such-lab/);
      const format = await refused(
        () => call('GET', '/api/v1/dhcp/hosts?format=bind'),
        400,
        'FIELD_NOT_ALLOWED',
        'query.format',
      );
      for (const allowed of ['json', 'dnsmasq', 'dhcpd'])
        assert.match(format.detail, new RegExp(allowed));
      await refused(
        () => call('PUT', '/api/v1/labs/lab-mine/address-pool', {}),
        400,
        'FIELD_REQUIRED',
        'pool',
      );
    });

    it('a terminal enrolled by its subnet gets an address, and it is pushed', async () => {
      const subnets = await call('PUT', '/api/v1/labs/lab-mine/subnets', {
        subnets: ['192.0.2.0/24'],
      });
      assert.equal(subnets.statusCode, 200, subnets.body);
      const mac = '02:00:00:00:04:01';
      // Whatever it is told (the lab has no profile yet), the request enrolled it.
      await f.app.inject({
        method: 'GET',
        url: `/terminal/v1/config?mac=${mac}`,
        remoteAddress: '192.0.2.5',
      });
      const enrolled = await terminal(mac);
      assert.equal(enrolled.lab, 'lab-mine');
      assert.ok(enrolled.address?.startsWith('10.100.'), String(enrolled.address));
      await waitFor('the push of its entry', async () =>
        lastPush()?.some((host) => host.mac === enrolled.vmMac && host.ip === enrolled.address)
          ? true
          : undefined,
      );
      await call('PUT', '/api/v1/labs/lab-mine/subnets', { subnets: [] });
    });

    it('viewers read the export; operators may not set a pool', async () => {
      const read = await f.request({
        method: 'GET',
        url: '/api/v1/dhcp/hosts?format=dnsmasq',
        as: f.users.viewer,
      });
      assert.equal(read.statusCode, 200);
      await refused(
        () =>
          f.request({
            method: 'PUT',
            url: '/api/v1/labs/lab-mine/address-pool',
            payload: { pool: null },
            as: f.users.operator,
          }),
        403,
        'FORBIDDEN',
      );
    });

    it('a terminal’s VM has its stable MAC and its address, session after session', async () => {
      const db = f.database.db;
      const profile = rows.profile({ published_version_id: 'v1', display: 'rdp' });
      await db.insertInto('profiles').values(profile).execute();
      const labId = f.labs.other.id;
      await db
        .insertInto('lab_profiles')
        .values({ lab_id: labId, profile_id: profile.id })
        .execute();
      await db
        .updateTable('labs')
        .set({ default_profile_id: profile.id })
        .where('id', '=', labId)
        .execute();
      const served = await addTerminal('02:00:00:00:02:01', 'lab-other', 'Sesiones');
      assert.ok(served.address !== null);
      const session = async () => {
        const started = await call('POST', '/api/v1/labs/lab-other/start', {});
        assert.equal(started.statusCode, 200, started.body);
        assert.deepEqual(started.json<{ failed: unknown[] }>().failed, []);
        const vm = await db
          .selectFrom('vms')
          .select('name')
          .where('terminal_id', '=', served.id)
          .executeTakeFirstOrThrow();
        const stopped = await call('POST', '/api/v1/labs/lab-other/stop', {});
        assert.equal(stopped.statusCode, 200, stopped.body);
        const spec = specs.find((candidate) => candidate.name === vm.name);
        assert.ok(spec, `the agent was asked for ${vm.name}`);
        return spec;
      };
      const first = await session();
      const second = await session();
      assert.notEqual(first.name, second.name, 'two VMs');
      for (const spec of [first, second]) {
        assert.equal(spec.nic.mac, terminalVmMac(served.id));
        assert.equal(spec.address, served.address);
      }
      const vms = await db
        .selectFrom('vms')
        .select(['mac', 'state'])
        .where('mac', '=', served.vmMac)
        .execute();
      assert.deepEqual(vms.map((vm) => vm.state).sort(), ['stopped', 'stopped']);
    });

    it('a MAC an active VM has is MAC_IN_USE, naming it and the VM; nothing is started', async () => {
      const db = f.database.db;
      const victim = await addTerminal('02:00:00:00:02:02', 'lab-other', 'Duplicado');
      // Another active VM (a manual one, say) already has the MAC of the terminal's VM.
      const holder = rows.vm({
        kind: 'manual',
        state: 'running',
        mac: victim.vmMac,
        name: 'manual-holder',
      });
      await db.insertInto('vms').values(holder).execute();
      const startsBefore = specs.length;
      const vmsBefore = await db.selectFrom('vms').select('id').execute();
      const started = await call('POST', '/api/v1/labs/lab-other/start', {});
      assert.equal(started.statusCode, 200, started.body);
      const { failed } = started.json<{ failed: { terminal: string; reason: string }[] }>();
      assert.equal(failed.length, 1, started.body);
      assert.equal(failed[0]?.terminal, 'Duplicado');
      assert.match(failed[0]!.reason, new RegExp(`${victim.vmMac}.*manual-holder`));
      // The lab's other terminals' VMs started; none for this one, and no row for it.
      const startedNow = specs.length - startsBefore;
      assert.ok(startedNow >= 1);
      assert.ok(specs.slice(startsBefore).every((spec) => spec.nic.mac !== victim.vmMac));
      const vmsAfter = await db.selectFrom('vms').select(['id', 'mac']).execute();
      assert.equal(vmsAfter.length, vmsBefore.length + startedNow);
      assert.equal(vmsAfter.filter((vm) => vm.mac === victim.vmMac).length, 1);
      await call('POST', '/api/v1/labs/lab-other/stop', {});
      await db.deleteFrom('vms').where('id', '=', holder.id).execute();
    });

    it('clearing the pool takes its addresses back, and deleting a lab takes its terminals’', async () => {
      const cleared = await setPool('lab-mine', null);
      assert.equal(cleared.statusCode, 200, cleared.body);
      assert.equal(cleared.json<LabView>().addressPool, null);
      assert.deepEqual(await entries('?lab=lab-mine'), []);
      assert.ok((lastPush() ?? []).every((host) => !host.ip.startsWith('10.100.')));
      assert.ok((await entries()).length > 0, 'lab-other keeps its own');
      const deleted = await call('DELETE', '/api/v1/labs/lab-other');
      assert.equal(deleted.statusCode, 204);
      assert.deepEqual(await entries(), []);
      assert.deepEqual(lastPush(), []);
      assert.deepEqual(
        await f.database.db.selectFrom('terminal_addresses').selectAll().execute(),
        [],
      );
    });
  });
}

describe('the server at start', () => {
  it('gives its agent the DHCP host entries once it is up', async () => {
    const dir = await tempDir('lv-dhcp-start-');
    try {
      // Addresses given before this server started (by another controller, say).
      const database = await openDatabase({ dataDir: dir.path });
      const actor = { principal: undefined, source: 'test' };
      try {
        await migrateToLatest(database.db);
        await createLab(database.db, actor, { name: 'Sala' }, new Date());
        for (const mac of ['02:00:00:00:03:01', '02:00:00:00:03:02'])
          await addTerminalRow(database.db, actor, { mac, lab: 'Sala' }, new Date());
        await setAddressPool(
          database.db,
          actor,
          'Sala',
          { pool: '10.60.0.5-10.60.0.9' },
          new Date(),
        );
      } finally {
        await database.close();
      }
      const { agent, pushes } = dhcpRecordingAgent();
      const server = await startServer({
        dataDir: dir.path,
        host: '127.0.0.1',
        port: 0,
        startAgent: async () => ({ agent, adopted: [] }),
      });
      try {
        assert.equal(pushes.length, 1);
        const terminals = await server.database.db
          .selectFrom('terminals')
          .select(['id', 'mac'])
          .orderBy('mac')
          .execute();
        assert.deepEqual(
          pushes[0],
          terminals.map((terminal, index) => ({
            mac: terminalVmMac(terminal.id),
            ip: `10.60.0.${5 + index}`,
            name: `t-${terminal.mac.replaceAll(':', '')}`,
          })),
        );
      } finally {
        await server.close();
      }
    } finally {
      await dir.cleanup();
    }
  });
});

describe('an agent that never answers its DHCP host entries', () => {
  let f: ApiFixture;
  const stuck: (readonly DhcpHost[])[] = [];
  const working = dhcpRecordingAgent();
  before(async () => {
    const never = dhcpRecordingAgent({
      setDhcpHosts: (hosts) => {
        stuck.push(hosts);
        return new Promise<void>(() => {});
      },
    });
    f = await createApiFixture(dialects[0]!, { agents: [never.agent, working.agent] });
  });
  after(() => f?.close());

  it('holds up no admin change: each is answered and pushed to the other agents', async () => {
    const call = (method: 'POST' | 'PUT', url: string, payload: object) =>
      f.request({ method, url, as: f.users.admin, payload });
    assert.equal((await call('POST', '/api/v1/labs', { name: 'stuck-lab' })).statusCode, 201);
    const added = await call('POST', '/api/v1/terminals', {
      mac: '02:00:00:00:07:01',
      lab: 'stuck-lab',
    });
    assert.equal(added.statusCode, 201, added.body);
    const before = working.pushes.length;
    // The first change waits the agent's time limit (5 s) at most; the next one not at all,
    // as the stuck agent is still busy with its first call and gets no second one meanwhile.
    for (const pool of ['10.61.0.5-10.61.0.9', '10.61.0.20-10.61.0.29']) {
      const set = await call('PUT', '/api/v1/labs/stuck-lab/address-pool', { pool });
      assert.equal(set.statusCode, 200, set.body);
    }
    assert.equal(working.pushes.length, before + 2);
    assert.equal(working.pushes.at(-1)?.[0]?.ip, '10.61.0.20');
    assert.equal(stuck.length, 1, 'no second call while the first is unanswered');
  });
});
