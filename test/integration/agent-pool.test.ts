// The cluster core with real VMs: two LocalAgents in this process (separate run directories,
// one image store's files), enrolled as hosts of one controller, behind the AgentPool as
// its remote hosts. Placement follows the lab's policy across the two; a drained host gets
// no new VM; a host that goes offline keeps its VMs (rows are not ended) and is reconciled
// when it is back; two controllers on one PostgreSQL starting the same terminals at once
// give each terminal one VM and no host more vCPUs than its ratio allows.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { stopGatewayDaemon } from '../../src/agent/gateway-client.js';
import type { HostAgent, VmEnded } from '../../src/agent/host-agent.js';
import { LocalAgent } from '../../src/agent/local-agent.js';
import { localSupervisor } from '../../src/agent/local-host.js';
import { AgentPool } from '../../src/controller/agents/agent-pool.js';
import { buildApp } from '../../src/controller/app.js';
import { ACTIVE_STATES, system } from '../../src/controller/services/vms.js';
import type { Database, Profile } from '../../src/db/schema.js';
import { terminalVmMac } from '../../src/domain/terminal-mac.js';
import { ImageStore } from '../../src/images/image-store.js';
import type { Supervisor } from '../../src/qemu/process/supervisor.js';
import { GuestMode, writeGuestDisk } from '../../scripts/guest.js';
import { dialects, rows, type TestDatabase } from '../helpers/databases.js';
import { processAlive, tempDir, waitFor } from '../helpers/env.js';
import { fakeAgent } from '../helpers/fake-agent.js';
import { killAll, publishedProfile } from '../helpers/vm-fixture.js';
import type { Kysely } from 'kysely';

/** A real agent whose host can be made unreachable: reports fail, VM events are lost. */
class Switchable {
  down = false;
  readonly #listeners = new Set<(ended: VmEnded) => void>();
  constructor(
    readonly agent: LocalAgent,
    readonly supervisor: Supervisor,
  ) {
    agent.onVmEnded((ended) => {
      if (!this.down) for (const listener of this.#listeners) listener(ended);
    });
  }

  view(): HostAgent {
    const agent = this.agent;
    const unreachable = () => Promise.reject(new Error('connect ECONNREFUSED'));
    return {
      report: () => (this.down ? unreachable() : agent.report()),
      usage: () => agent.usage(),
      listVms: () => (this.down ? unreachable() : agent.listVms()),
      vm: (name) => agent.vm(name),
      startVm: (spec) => agent.startVm(spec),
      stopVm: (name, request) => agent.stopVm(name, request),
      ticket: (name, ttl) => agent.ticket(name, ttl),
      openDisplay: (name) => agent.openDisplay(name),
      resetVm: (name) => agent.resetVm(name),
      serialLog: (name, max) => agent.serialLog(name, max),
      setDhcpHosts: (hosts) => agent.setDhcpHosts(hosts),
      listImages: () => agent.listImages(),
      ensureImage: (layers) => agent.ensureImage(layers),
      onVmEnded: (listener) => {
        this.#listeners.add(listener);
        return () => this.#listeners.delete(listener);
      },
      close: async () => undefined,
    };
  }
}

interface Controller {
  readonly app: FastifyInstance;
  readonly pool: AgentPool;
}

async function controller(
  db: Kysely<Database>,
  agents: ReadonlyMap<string, Switchable>,
  store: ImageStore,
): Promise<Controller> {
  const ref: { app?: FastifyInstance } = {};
  const pool = new AgentPool({
    db,
    now: () => new Date(),
    connect: (host) => {
      const agent = agents.get(host.name);
      if (agent === undefined) throw new Error(`no agent ${host.name}`);
      return agent.view();
    },
    onHostOnline: async (hostId) => void (await ref.app?.vms.reconcile(hostId)),
  });
  const app = await buildApp({ db, pool, images: store });
  ref.app = app;
  await app.ready();
  await pool.refresh();
  await pool.settled();
  return { app, pool };
}

for (const dialect of dialects) {
  describe(`two hosts behind one controller on ${dialect.name}`, () => {
    const tag = randomBytes(3).toString('hex');
    const names = [`pool-a-${tag}`, `pool-b-${tag}`];
    const agents = new Map<string, Switchable>();
    const hostIds = new Map<string, string>();
    let cleanup: () => Promise<void> = async () => undefined;
    let database: TestDatabase;
    let db: Kysely<Database>;
    let store: ImageStore;
    let c: Controller;
    let profile: Profile;

    before(async () => {
      const temp = await tempDir('lv-pool-');
      const dir = await realpath(temp.path);
      await mkdir(join(dir, 'import'));
      store = new ImageStore({ root: join(dir, 'images'), importDirs: [join(dir, 'import')] });
      for (const name of names) {
        const supervisor = localSupervisor(join(dir, `run-${name}`), { images: store });
        supervisor.setMaxListeners(0);
        const { agent } = await LocalAgent.start(supervisor, {
          images: store,
          name,
          address: `https://127.0.0.1:1/${name}`,
          cpus: 1,
          memoryMiB: 1024,
        });
        agents.set(name, new Switchable(agent, supervisor));
      }
      database = await dialect.create();
      db = database.db;
      cleanup = async () => {
        for (const { agent, supervisor } of agents.values()) {
          await killAll(supervisor.runDir);
          await agent.close();
          await stopGatewayDaemon(supervisor.runDir.root);
        }
        await database.drop();
        await temp.cleanup();
      };
      for (const name of names) {
        const id = randomUUID();
        hostIds.set(name, id);
        await db
          .insertInto('hosts')
          .values(
            rows.host({
              id,
              name,
              address: `https://127.0.0.1:1/${name}`,
              is_local: 0,
              state: 'offline',
              agent_certificate: 'pinned',
              controller_secret: 'secret',
              cpu_ratio: 3,
            }),
          )
          .execute();
      }
      const disk = join(dir, 'import', 'guest.img');
      await writeGuestDisk(disk, GuestMode.waitForPowerButton);
      const version = await store.import(
        disk,
        { profileId: randomUUID(), versionId: randomUUID() },
        { format: 'raw' },
      );
      const profileId = await publishedProfile(db, version, { name: `pool-guest-${tag}` });
      profile = await db
        .selectFrom('profiles')
        .selectAll()
        .where('id', '=', profileId)
        .executeTakeFirstOrThrow();
      c = await controller(db, agents, store);
    });
    after(async () => {
      await c?.app.close();
      await c?.pool.close();
      await cleanup();
    });

    const hostA = () => hostIds.get(names[0]!)!;
    const hostB = () => hostIds.get(names[1]!)!;

    async function lab(count: number, placement: 'spread' | 'pack') {
      const labRow = rows.lab({ default_profile_id: profile.id, placement });
      await db.insertInto('labs').values(labRow).execute();
      const terminals = Array.from({ length: count }, () => rows.terminal({ lab_id: labRow.id }));
      await db.insertInto('terminals').values(terminals).execute();
      return { lab: labRow, terminals };
    }

    async function activeOf(labId: string) {
      return db
        .selectFrom('vms')
        .innerJoin('terminals', 'terminals.id', 'vms.terminal_id')
        .selectAll('vms')
        .where('terminals.lab_id', '=', labId)
        .where('vms.state', 'in', ACTIVE_STATES)
        .execute();
    }

    const count = (hosts: readonly (string | null)[], host: string) =>
      hosts.filter((h) => h === host).length;

    it('both hosts come online', async () => {
      const states = await db.selectFrom('hosts').select(['id', 'state']).execute();
      for (const id of [hostA(), hostB()]) {
        assert.equal(states.find((s) => s.id === id)?.state, 'online');
        assert.ok(c.pool.isOnline(id));
      }
    });

    it('spread puts a lab’s VMs on both hosts; pack fills one first', async () => {
      const spread = await lab(2, 'spread');
      const started = await c.app.terminalVms.startLab(spread.lab.name, system);
      assert.deepEqual(started.failed, []);
      const spreadHosts = (await activeOf(spread.lab.id)).map((vm) => vm.host_id);
      assert.equal(count(spreadHosts, hostA()), 1, JSON.stringify(spreadHosts));
      assert.equal(count(spreadHosts, hostB()), 1);
      // Each VM runs on the agent its row names.
      for (const vm of await activeOf(spread.lab.id)) {
        const agent = agents.get(vm.host_id === hostA() ? names[0]! : names[1]!)!.agent;
        assert.ok(await agent.vm(vm.name), `${vm.name} runs on its host`);
      }
      await c.app.terminalVms.stopLab(spread.lab.name, system);

      // 1 CPU × ratio 3: three VMs fit a host.
      const pack = await lab(4, 'pack');
      const packed = await c.app.terminalVms.startLab(pack.lab.name, system);
      assert.deepEqual(packed.failed, []);
      const packHosts = (await activeOf(pack.lab.id)).map((vm) => vm.host_id);
      assert.equal(count(packHosts, hostA()), 3, JSON.stringify(packHosts));
      assert.equal(count(packHosts, hostB()), 1);
      await c.app.terminalVms.stopLab(pack.lab.name, system);
    });

    it('a drained host gets no new VMs', async () => {
      await db.updateTable('hosts').set({ maintenance: 1 }).where('id', '=', hostA()).execute();
      try {
        const drained = await lab(2, 'spread');
        const started = await c.app.terminalVms.startLab(drained.lab.name, system);
        assert.deepEqual(started.failed, []);
        const hosts = (await activeOf(drained.lab.id)).map((vm) => vm.host_id);
        assert.deepEqual(hosts, [hostB(), hostB()]);
        await c.app.terminalVms.stopLab(drained.lab.name, system);
      } finally {
        await db.updateTable('hosts').set({ maintenance: 0 }).where('id', '=', hostA()).execute();
      }
    });

    it('an offline host’s VMs are not ended, and are reconciled when it is back', async () => {
      await db.updateTable('hosts').set({ maintenance: 1 }).where('id', '=', hostA()).execute();
      const offline = await lab(3, 'spread');
      const [t1, t2, t3] = offline.terminals as [
        (typeof offline.terminals)[0],
        (typeof offline.terminals)[0],
        (typeof offline.terminals)[0],
      ];
      // Two VMs on host b (a is drained for them).
      for (const terminal of [t1, t2]) {
        const { launched } = await c.app.vms.startClientRow(profile.id, system, {
          terminal: { id: terminal.id, mac: terminal.mac, decide: async () => undefined },
        });
        await launched;
      }
      await db.updateTable('hosts').set({ maintenance: 0 }).where('id', '=', hostA()).execute();
      const [vm1, vm2] = await activeOf(offline.lab.id);
      assert.ok(vm1 !== undefined && vm2 !== undefined);
      const b = agents.get(names[1]!)!;

      b.down = true;
      await c.pool.refresh();
      const row = await db
        .selectFrom('hosts')
        .selectAll()
        .where('id', '=', hostB())
        .executeTakeFirstOrThrow();
      assert.equal(row.state, 'offline');
      assert.match(row.state_reason ?? '', /ECONNREFUSED/);
      assert.throws(() => c.pool.agentFor(hostB()), { code: 'HOST_OFFLINE' });
      // The policy round and the listing end nothing of an unreachable host.
      await c.app.terminalVms.tick();
      const listed = await c.app.vms.list({ state: 'active' });
      assert.deepEqual(
        listed
          .filter((vm) => vm.id === vm1.id || vm.id === vm2.id)
          .map((vm) => vm.state)
          .sort(),
        ['running', 'running'],
      );

      // While it is away: vm1 dies (its end is not heard), vm2's row is ended by another
      // controller (its QEMU still runs), and a controller died mid-start of t3's VM.
      const pid1 = (await b.supervisor.runDir.readPid(vm1.name))!;
      process.kill(pid1, 'SIGKILL');
      await waitFor('vm1 to die', async () => ((await processAlive(pid1)) ? undefined : true));
      await db
        .updateTable('vms')
        .set({ state: 'stopped', terminal_id: null })
        .where('id', '=', vm2.id)
        .execute();
      const id3 = randomUUID();
      const row3 = {
        ...c.app.vms.newRow(id3, 'client', profile, profile.published_version_id, hostB()),
        terminal_id: t3.id,
        mac: terminalVmMac(t3.id),
      };
      await db.insertInto('vms').values(row3).execute();
      assert.equal((await c.app.vms.find(vm1.id)).state, 'running', 'not ended while away');

      b.down = false;
      await c.pool.refresh();
      await c.pool.settled();
      await c.app.vms.settled();
      assert.ok(c.pool.isOnline(hostB()));
      // Ended: found gone by the reconcile ('stopped'), or heard from the supervisor, which
      // may notice the kill only after the host is back ('crashed').
      assert.match((await c.app.vms.find(vm1.id)).state, /^(stopped|crashed)$/, 'vm1 ended');
      assert.equal(await b.agent.vm(vm2.name), undefined, 'its ended row: stopped');
      await waitFor('t3’s VM to run', async () =>
        (await c.app.vms.find(id3)).state === 'running' ? true : undefined,
      );
      assert.ok(await b.agent.vm(row3.name), 'started again on its host');
      assert.equal((await activeOf(offline.lab.id)).length, 1);
      await c.app.terminalVms.stopLab(offline.lab.name, system);
    });

    it('a host removed from the table is dropped and its agent closed', async () => {
      const id = randomUUID();
      let closed = 0;
      const pool = new AgentPool({
        db,
        now: () => new Date(),
        connect: (host) =>
          host.id === id
            ? fakeAgent({ close: async () => void closed++ })
            : agents.get(host.name)!.view(),
      });
      try {
        // Drained: the other tests' placements never see it.
        await db
          .insertInto('hosts')
          .values(
            rows.host({
              id,
              is_local: 0,
              maintenance: 1,
              agent_certificate: 'pinned',
              controller_secret: 'secret',
            }),
          )
          .execute();
        await pool.refresh();
        assert.ok(pool.isOnline(id));
        assert.equal(pool.entries().length, 3);
        await db.deleteFrom('hosts').where('id', '=', id).execute();
        await pool.refresh();
        assert.equal(pool.isOnline(id), false);
        assert.deepEqual(
          pool
            .entries()
            .map((e) => e.hostId)
            .sort(),
          [hostA(), hostB()].sort(),
        );
        assert.equal(closed, 1);
        assert.throws(() => pool.agentFor(id), { code: 'HOST_OFFLINE' });
      } finally {
        await pool.close();
      }
    });

    if (dialect.name === 'postgres') {
      it('two controllers on one database: one VM per terminal, no host over its ratio', async () => {
        const other = await controller(db, agents, store);
        try {
          await db.updateTable('hosts').set({ cpu_ratio: 2 }).execute();
          // Four places (two hosts × 1 CPU × 2) for six terminals, asked by both at once.
          const crowd = await lab(6, 'spread');
          const results = await Promise.all(
            [c, other].map((x) => x.app.terminalVms.startLab(crowd.lab.name, system)),
          );
          const active = await activeOf(crowd.lab.id);
          const terminals = active.map((vm) => vm.terminal_id);
          assert.equal(new Set(terminals).size, terminals.length, 'one VM per terminal');
          assert.equal(active.length, 4, JSON.stringify(results));
          const hosts = active.map((vm) => vm.host_id);
          assert.equal(count(hosts, hostA()), 2);
          assert.equal(count(hosts, hostB()), 2);
          for (const result of results) {
            for (const failed of result.failed) assert.match(failed.reason, /no host can take/);
          }
          const live = [
            ...(await agents.get(names[0]!)!.agent.listVms()),
            ...(await agents.get(names[1]!)!.agent.listVms()),
          ];
          assert.equal(live.length, 4, 'as many QEMUs as rows');
          await c.app.terminalVms.stopLab(crowd.lab.name, system);
        } finally {
          await db.updateTable('hosts').set({ cpu_ratio: 3 }).execute();
          await other.app.close();
          await other.pool.close();
        }
      });
    }
  });
}
