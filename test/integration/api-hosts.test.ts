// Hosts, their VMs and health: what the agents report, shown to viewers, without the
// host-side paths (sockets, logs) the agents know; health says 503 when the database is gone.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AgentVm, HostAgent, HostReport } from '../../src/agent/host-agent.js';
import { buildApp, VERSION } from '../../src/controller/app.js';
import { registerHost } from '../../src/controller/services/hosts.js';
import { openDatabase } from '../../src/db/index.js';
import { createApiFixture, problem, type ApiFixture } from '../helpers/api.js';
import { dialects, rows } from '../helpers/databases.js';
import { fakeAgent } from '../helpers/fake-agent.js';

const report: HostReport = {
  name: 'rack-1',
  address: 'local',
  cpus: 16,
  memoryMiB: 65536,
  qemu: { available: true, version: '8.2.2' },
  kvm: { usable: false, reason: 'no /dev/kvm' },
};

const vm: AgentVm = {
  name: 'pc-01',
  uuid: '6f1c1b1e-8d7a-4b8e-9a43-0a1b2c3d4e5f',
  pid: 4242,
  state: 'running',
  runStatus: 'running',
  mac: '52:54:00:aa:bb:cc',
  vncSocket: '/var/lib/labvirt/run/pc-01/vnc.sock',
  discardWrites: true,
  startedAt: '2031-01-01T00:00:00.000Z',
  display: null,
  connections: [],
};

const agent: HostAgent = fakeAgent({ report: async () => report, vms: [vm] });

for (const dialect of dialects) {
  describe(`hosts, VMs and health on ${dialect.name}`, () => {
    let f: ApiFixture;
    before(async () => {
      f = await createApiFixture(dialect, { agents: [agent] });
      const hostId = await registerHost(f.database.db, report, new Date());
      await f.database.db
        .insertInto('vms')
        .values(rows.vm({ name: vm.name, state: 'running', host_id: hostId, mac: vm.mac }))
        .execute();
    });
    after(() => f?.close());

    it('hosts are listed and shown to viewers', async () => {
      const list = await f.request({ method: 'GET', url: '/api/v1/hosts', as: f.users.viewer });
      assert.equal(list.statusCode, 200);
      const [host] = list.json<{ id: string; name: string; cpus: number; stateReason: string }[]>();
      assert.equal(host?.name, 'rack-1');
      assert.equal(host.cpus, 16);
      assert.match(host.stateReason, /no KVM/);
      for (const ref of [host.id, host.name]) {
        const shown = await f.request({
          method: 'GET',
          url: `/api/v1/hosts/${ref}`,
          as: f.users.viewer,
        });
        assert.equal(shown.json<{ name: string }>().name, 'rack-1');
      }
      problem(
        await f.request({ method: 'GET', url: '/api/v1/hosts/rack-9', as: f.users.viewer }),
        404,
        'HOST_NOT_FOUND',
      );
    });

    it('VMs are listed without the host-side paths', async () => {
      const response = await f.request({ method: 'GET', url: '/api/v1/vms', as: f.users.viewer });
      assert.equal(response.statusCode, 200);
      const [listed] = response.json<Record<string, unknown>[]>();
      assert.equal(listed?.['name'], 'pc-01');
      assert.equal(listed['pid'], 4242, 'live facts from the agent');
      assert.equal(listed['host'], 'rack-1');
      assert.ok(!('vncSocket' in listed) && !('serialLog' in listed), response.body);
      assert.ok(!response.body.includes('/var/lib/labvirt'));
    });

    it('health: 200 with the version, 503 DATABASE_UNAVAILABLE without a database', async () => {
      const ok = await f.request({ method: 'GET', url: '/api/v1/health' });
      assert.deepEqual(ok.json(), { status: 'ok', version: VERSION });
      const lost = await openDatabase(f.database.options);
      const app = await buildApp({ db: lost.db });
      try {
        // Used once (Kysely connects lazily: closing an unused one would not stick).
        assert.equal((await app.inject({ method: 'GET', url: '/api/v1/health' })).statusCode, 200);
        await lost.close();
        problem(
          await app.inject({ method: 'GET', url: '/api/v1/health' }),
          503,
          'DATABASE_UNAVAILABLE',
        );
      } finally {
        await app.close();
      }
    });
  });
}
