// Enrolment of hosts and the agents' credential (issue 8): `host add` hands out a one-time
// join token; a wrong, reused or expired token, a name other than the one added, an agent
// claiming another host's id, a removed host's secret, are refused, logged and audited;
// users' tokens never pass for an agent nor agents' secrets for a user. Hosts are drained,
// retuned and removed through the API, with their refusals one problem each.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, beforeEach, describe, it } from 'node:test';
import { generate } from 'selfsigned';
import { registerHost } from '../../src/controller/services/hosts.js';
import { createApiFixture, problem, snapshot, type ApiFixture } from '../helpers/api.js';
import { dialects, rows } from '../helpers/databases.js';
import { fakeAgent, fakeReport } from '../helpers/fake-agent.js';

interface Added {
  host: { id: string; name: string; state: string; pending: boolean; cpuRatio: number };
  joinToken: string;
  joinCommand: string;
  expiresAt: string;
}
interface Joined {
  hostId: string;
  name: string;
  agentSecret: string;
  controllerSecret: string;
}
interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

const WARN = 40;

/** Pino's lines, parsed, as the app writes them. */
class LogCapture extends Writable {
  readonly lines: LogLine[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n'))
      if (line.trim() !== '') this.lines.push(JSON.parse(line) as LogLine);
    done();
  }
  warnings(msg: string): LogLine[] {
    return this.lines.filter((line) => line.level === WARN && line.msg === msg);
  }
}

let certificate: string;
before(async () => {
  const pems = await generate([{ name: 'commonName', value: 'agent' }], {
    keySize: 2048,
  });
  certificate = pems.cert;
});

for (const dialect of dialects) {
  describe(`host enrolment and agent credentials on ${dialect.name}`, () => {
    let f: ApiFixture;
    let clock = new Date();
    const log = new LogCapture();
    let localId: string;
    // Each test joins from an address of its own: refusals count per address (rate limit).
    let addresses = 0;
    let address = '';

    before(async () => {
      f = await createApiFixture(dialect, {
        agents: [fakeAgent()],
        now: () => clock,
        logger: { level: 'info', stream: log },
      });
      localId = await registerHost(f.database.db, fakeReport, new Date());
    });
    after(() => f?.close());
    beforeEach(() => {
      clock = new Date();
      address = `192.0.2.${++addresses}`;
    });

    const add = async (name: string, body: Record<string, unknown> = {}) => {
      const response = await f.request({
        method: 'POST',
        url: '/api/v1/hosts',
        as: f.users.admin,
        payload: { name, ...body },
      });
      assert.equal(response.statusCode, 201, response.body);
      return response.json<Added>();
    };
    const join = (token: string, name: string, url = 'https://127.0.0.1:8445') =>
      f.request({
        method: 'POST',
        url: '/api/v1/agent/join',
        payload: { token, name, url, certificate },
        remoteAddress: address,
      });
    const hello = (secret: string | undefined, hostId: string | undefined, url: string) =>
      f.request({
        method: 'POST',
        url: '/api/v1/agent/hello',
        headers: {
          ...(secret === undefined ? {} : { authorization: `Bearer ${secret}` }),
          ...(hostId === undefined ? {} : { 'x-labvirt-host': hostId }),
        },
        payload: { url },
      });
    const auditOf = (action: string) =>
      f.database.db
        .selectFrom('audit_events')
        .selectAll()
        .where('action', '=', action)
        .orderBy('at')
        .execute();
    const enrol = async (name: string) => {
      const added = await add(name);
      const joined = await join(added.joinToken, name);
      assert.equal(joined.statusCode, 200, joined.body);
      return joined.json<Joined>();
    };

    it('add: a pending host, a one-time token naming the certificate, the command to run', async () => {
      const added = await add('node-a', { cpuRatio: 2.5, sharedStore: true });
      assert.match(added.joinToken, /^lvj1\.[A-Za-z0-9_-]{43}\.none$/);
      // inject() asks for http://localhost:80, whose origin is http://localhost.
      assert.equal(
        added.joinCommand,
        `labvirt agent --join http://localhost --token ${added.joinToken} --name node-a`,
      );
      assert.equal(added.host.state, 'pending');
      assert.equal(added.host.pending, true);
      assert.equal(added.host.cpuRatio, 2.5);
      assert.equal(Date.parse(added.expiresAt) - clock.getTime(), 3600_000);
      const row = await f.database.db
        .selectFrom('hosts')
        .selectAll()
        .where('name', '=', 'node-a')
        .executeTakeFirstOrThrow();
      assert.equal(row.shared_store, 1);
      assert.notEqual(row.join_token_hash, null);
      assert.ok(!JSON.stringify(row).includes(added.joinToken.split('.')[1]!), 'only a hash');
      assert.equal((await auditOf('host.add')).at(-1)?.target_id, added.host.id);
      problem(
        await f.request({
          method: 'POST',
          url: '/api/v1/hosts',
          as: f.users.admin,
          payload: { name: 'node-a' },
        }),
        409,
        'HOST_EXISTS',
      );
      problem(
        await f.request({
          method: 'POST',
          url: '/api/v1/hosts',
          as: f.users.admin,
          payload: { name: '-bad name' },
        }),
        400,
        'HOST_NAME_INVALID',
      );
      problem(
        await f.request({
          method: 'POST',
          url: '/api/v1/hosts',
          as: f.users.operator,
          payload: { name: 'node-z' },
        }),
        403,
        'FORBIDDEN',
      );
    });

    it('join succeeds once; a reused token is refused (401), logged and audited', async () => {
      const added = await add('node-b');
      const first = await join(added.joinToken, 'node-b');
      assert.equal(first.statusCode, 200, first.body);
      const joined = first.json<Joined>();
      assert.equal(joined.hostId, added.host.id);
      assert.match(joined.agentSecret, /^[A-Za-z0-9_-]{43}$/);
      assert.match(joined.controllerSecret, /^[A-Za-z0-9_-]{43}$/);
      const row = await f.database.db
        .selectFrom('hosts')
        .selectAll()
        .where('id', '=', joined.hostId)
        .executeTakeFirstOrThrow();
      assert.equal(row.state, 'offline');
      assert.equal(row.address, 'https://127.0.0.1:8445');
      assert.equal(row.agent_certificate, certificate);
      assert.equal(row.join_token_hash, null);
      assert.equal(row.controller_secret, joined.controllerSecret);
      assert.notEqual(row.agent_secret_hash, joined.agentSecret, 'the agent secret is hashed');
      assert.equal((await auditOf('host.join')).at(-1)?.target_id, joined.hostId);

      const warned = log.warnings('host join refused').length;
      const refusals = (await auditOf('host.join-refused')).length;
      problem(await join(added.joinToken, 'node-b'), 401, 'JOIN_TOKEN_INVALID');
      const line = log.warnings('host join refused').at(-1);
      assert.equal(log.warnings('host join refused').length, warned + 1);
      assert.equal(line?.['source'], address);
      assert.equal(line?.['claimed'], 'node-b');
      const audited = await auditOf('host.join-refused');
      assert.equal(audited.length, refusals + 1);
      assert.equal(audited.at(-1)?.source_ip, address);
      assert.match(String(audited.at(-1)?.details), /JOIN_TOKEN_INVALID/);
      problem(await join('lvj1.wrong.none', 'node-b'), 401, 'JOIN_TOKEN_INVALID');
    });

    it('an expired token is refused', async () => {
      const added = await add('node-c');
      clock = new Date(clock.getTime() + 3600_000 + 1);
      problem(await join(added.joinToken, 'node-c'), 401, 'JOIN_TOKEN_INVALID');
      const row = await f.database.db
        .selectFrom('hosts')
        .select('state')
        .where('id', '=', added.host.id)
        .executeTakeFirstOrThrow();
      assert.equal(row.state, 'pending');
    });

    it('another name is refused (403) and the token still works for the right one', async () => {
      const added = await add('node-d');
      const refusals = (await auditOf('host.join-refused')).length;
      const body = problem(await join(added.joinToken, 'node-x'), 403, 'HOST_IDENTITY_MISMATCH');
      assert.match(body.detail, /node-d/);
      assert.equal((await auditOf('host.join-refused')).length, refusals + 1);
      assert.ok(log.warnings('host join refused').some((line) => line['claimed'] === 'node-x'));
      problem(await join(added.joinToken, 'node-d', 'http://127.0.0.1:1'), 400, 'OPTION_INVALID');
      assert.equal((await join(added.joinToken, 'node-d')).statusCode, 200);
    });

    it('two concurrent joins with one token: exactly one wins', async () => {
      for (let round = 0; round < 3; round++) {
        const added = await add(`node-race-${round}`);
        address = `198.51.100.${round + 1}`;
        const answers = await Promise.all(
          Array.from({ length: 4 }, () => join(added.joinToken, added.host.name)),
        );
        const codes = answers.map((answer) => answer.statusCode).sort();
        assert.deepEqual(codes, [200, 401, 401, 401], answers.map((a) => a.body).join('\n'));
      }
    });

    it('rule.agent: its own secret and id pass; another host’s id is refused and logged', async () => {
      const a = await enrol('node-e');
      const b = await enrol('node-f');
      const ok = await hello(a.agentSecret, a.hostId, 'https://10.0.0.5:9000/');
      assert.equal(ok.statusCode, 200, ok.body);
      assert.deepEqual(ok.json(), {
        hostId: a.hostId,
        name: 'node-e',
        address: 'https://10.0.0.5:9000',
      });
      assert.equal((await auditOf('host.update')).at(-1)?.target_id, a.hostId);

      const before = (await auditOf('host.identity-refused')).length;
      const body = problem(
        await hello(a.agentSecret, b.hostId, 'https://10.0.0.6:9000'),
        403,
        'HOST_IDENTITY_MISMATCH',
      );
      assert.match(body.detail, /node-e/);
      const line = log.warnings('agent claimed another host’s identity').at(-1);
      assert.equal(line?.['claimed'], b.hostId);
      assert.equal(line?.['enrolled'], 'node-e');
      assert.equal((await auditOf('host.identity-refused')).length, before + 1);
      problem(await hello(a.agentSecret, undefined, 'https://x:1'), 403, 'HOST_IDENTITY_MISMATCH');

      const refused = log.warnings('agent credential refused').length;
      problem(await hello(undefined, a.hostId, 'https://x:1'), 401, 'AGENT_CREDENTIAL_INVALID');
      problem(await hello('forged', a.hostId, 'https://x:1'), 401, 'AGENT_CREDENTIAL_INVALID');
      assert.equal(log.warnings('agent credential refused').length, refused + 2);
      assert.ok(log.warnings('agent credential refused').every((l) => l['source'] !== undefined));
      const row = await f.database.db
        .selectFrom('hosts')
        .select('address')
        .where('id', '=', b.hostId)
        .executeTakeFirstOrThrow();
      assert.equal(row.address, 'https://127.0.0.1:8445', 'B untouched');
    });

    it('users’ tokens and sessions never pass for an agent, nor agent secrets for a user', async () => {
      const a = await enrol('node-g');
      for (const user of Object.values(f.users)) {
        problem(
          await f.request({
            method: 'POST',
            url: '/api/v1/agent/hello',
            as: user,
            headers: { 'x-labvirt-host': a.hostId },
            payload: { url: 'https://x:1' },
          }),
          401,
          'AGENT_CREDENTIAL_INVALID',
        );
      }
      problem(
        await f.request({
          method: 'GET',
          url: '/api/v1/hosts',
          headers: { authorization: `Bearer ${a.agentSecret}`, 'x-labvirt-host': a.hostId },
        }),
        401,
        'AUTH_REQUIRED',
      );
      // A pending host has no credential yet.
      const pending = await add('node-h');
      problem(await hello('', pending.host.id, 'https://x:1'), 401, 'AGENT_CREDENTIAL_INVALID');
    });

    it('remove: refuses the local host and one with active VMs; a removed host’s agent is refused', async () => {
      problem(
        await f.request({ method: 'DELETE', url: `/api/v1/hosts/${localId}`, as: f.users.admin }),
        409,
        'HOST_IS_LOCAL',
      );
      const a = await enrol('node-i');
      const vm = rows.vm({ state: 'running', host_id: a.hostId });
      await f.database.db.insertInto('vms').values(vm).execute();
      problem(
        await f.request({ method: 'DELETE', url: '/api/v1/hosts/node-i', as: f.users.admin }),
        409,
        'HOST_HAS_VMS',
      );
      await f.database.db
        .updateTable('vms')
        .set({ state: 'stopped' })
        .where('id', '=', vm.id)
        .execute();
      const removed = await f.request({
        method: 'DELETE',
        url: '/api/v1/hosts/node-i',
        as: f.users.admin,
      });
      assert.equal(removed.statusCode, 204, removed.body);
      assert.equal((await auditOf('host.remove')).at(-1)?.target_id, a.hostId);
      problem(await hello(a.agentSecret, a.hostId, 'https://x:1'), 401, 'AGENT_CREDENTIAL_INVALID');
      problem(
        await f.request({ method: 'DELETE', url: '/api/v1/hosts/node-i', as: f.users.admin }),
        404,
        'HOST_NOT_FOUND',
      );
    });

    it('PATCH: drain, ratio, link, shared store; bad input is one problem and changes nothing', async () => {
      const patch = (payload: Record<string, unknown>) =>
        f.request({
          method: 'PATCH',
          url: '/api/v1/hosts/node-a',
          as: f.users.admin,
          payload,
        });
      const changed = await patch({
        maintenance: true,
        cpuRatio: 1.5,
        monitoringUrl: 'https://munin.example/node-a.html',
        sharedStore: false,
      });
      assert.equal(changed.statusCode, 200, changed.body);
      const view = changed.json<Record<string, unknown>>();
      assert.equal(view['maintenance'], true);
      assert.equal(view['cpuRatio'], 1.5);
      assert.equal(view['monitoringUrl'], 'https://munin.example/node-a.html');
      assert.equal(view['sharedStore'], false);
      assert.equal((await auditOf('host.update')).at(-1)?.target_id, view['id']);
      const unset = await patch({ maintenance: false, monitoringUrl: null });
      assert.equal(unset.json<{ maintenance: boolean }>().maintenance, false);
      assert.equal(unset.json<{ monitoringUrl: unknown }>().monitoringUrl, null);

      const before = await snapshot(f.database);
      for (const payload of [
        { cpuRatio: 0 },
        { cpuRatio: 65 },
        { cpuRatio: '2' },
        { monitoringUrl: 'javascript:alert(1)' },
        { monitoringUrl: 'not a url' },
        { maintenance: 'yes' },
        { name: 'renamed' },
      ]) {
        const response = await patch(payload);
        const body = problem(response, 400, undefined, JSON.stringify(payload));
        assert.ok(!body.detail.includes('\n'), body.detail);
      }
      assert.deepEqual(await snapshot(f.database), before);
      problem(
        await f.request({
          method: 'PATCH',
          url: '/api/v1/hosts/node-a',
          as: f.users.operator,
          payload: { maintenance: true },
        }),
        403,
        'FORBIDDEN',
      );
    });

    it('join attempts are rate limited per address', async () => {
      let last = 0;
      for (let i = 0; i < 12 && last !== 429; i++) {
        last = (
          await f.request({
            method: 'POST',
            url: '/api/v1/agent/join',
            payload: { token: 'lvj1.guess.none', name: 'x', url: 'https://x:1', certificate },
            remoteAddress: '203.0.113.9',
          })
        ).statusCode;
      }
      assert.equal(last, 429);
    });
  });
}
