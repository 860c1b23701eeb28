// `labvirt agent --join` against a real controller app (SQLite, plain HTTP on loopback, so
// the token pins nothing): the agent listens, joins with the token `POST /hosts` made,
// writes agent.json (0600), and the controller reaches it with what it stored (URL,
// pinned certificate, controller secret). A spent token and a wrong name are refused with
// the controller's message and exit code 2, leaving no agent.json; a restart says hello
// with its new URL.
import assert from 'node:assert/strict';
import { access, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stopGatewayDaemon } from '../../src/agent/gateway-client.js';
import { readAgentIdentity } from '../../src/agent/agent-identity.js';
import { RemoteAgent } from '../../src/agent/remote/remote-agent.js';
import { AgentProcess, runToEnd } from '../helpers/agent-api.js';
import { createApiFixture, type ApiFixture } from '../helpers/api.js';
import { dialects } from '../helpers/databases.js';
import { tempDir, waitFor } from '../helpers/env.js';

interface Added {
  readonly joinToken: string;
  readonly joinCommand: string;
}

describe('labvirt agent --join against a controller', () => {
  let api: ApiFixture;
  let controllerUrl: string;
  let temp: { path: string; cleanup: () => Promise<void> };
  let agent: AgentProcess | undefined;
  let remote: RemoteAgent | undefined;

  const addHost = async (name: string): Promise<Added> => {
    const response = await api.request({
      method: 'POST',
      url: '/api/v1/hosts',
      as: api.users.admin,
      payload: { name },
    });
    assert.equal(response.statusCode, 201, response.body);
    return response.json<Added>();
  };
  const hostRow = (name: string) =>
    api.database.db
      .selectFrom('hosts')
      .select(['id', 'address', 'agent_certificate', 'controller_secret', 'state'])
      .where('name', '=', name)
      .executeTakeFirstOrThrow();
  const args = (dir: string, extra: string[]) => [
    'agent',
    '--data',
    dir,
    '--listen',
    '127.0.0.1:0',
    '--metrics-listen',
    'off',
    ...extra,
  ];

  before(async () => {
    const sqlite = dialects.find((dialect) => dialect.name === 'sqlite');
    assert.ok(sqlite);
    api = await createApiFixture(sqlite);
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    const address = api.app.server.address();
    controllerUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
    temp = await tempDir('lv-join-');
  });

  after(async () => {
    await remote?.close();
    await agent?.stop('SIGKILL');
    await stopGatewayDaemon(join(temp.path, 'joined', 'run')).catch(() => undefined);
    await api.close();
    await temp.cleanup();
  });

  it('joins with the printed command, and the controller reaches it with what it stored', async () => {
    const added = await addHost('joiner');
    assert.match(added.joinCommand, / --name joiner$/);
    const dir = join(temp.path, 'joined');
    agent = new AgentProcess(
      args(dir, ['--join', controllerUrl, '--token', added.joinToken, '--name', 'joiner']),
    );
    const url = await agent.start();
    const identity = await readAgentIdentity(dir);
    assert.equal(identity?.name, 'joiner');
    assert.equal(identity?.controllerCertSha256, null);
    assert.equal((await stat(join(dir, 'agent.json'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'agent-key.pem'))).mode & 0o777, 0o600);

    const row = await hostRow('joiner');
    assert.equal(row.id, identity?.hostId);
    assert.equal(row.address, url);
    assert.ok(row.agent_certificate !== null && row.controller_secret !== null);
    remote = new RemoteAgent({
      hostName: 'joiner',
      url: row.address,
      certificate: row.agent_certificate,
      secret: row.controller_secret,
    });
    const report = await remote.report();
    assert.equal(report.name, 'joiner');
    assert.equal(report.address, url);
    assert.deepEqual(await remote.listVms(), []);

    // A restart runs from agent.json, on a new port: its hello tells the controller.
    assert.equal(await agent.stop('SIGTERM'), 0, agent.output);
    agent = new AgentProcess(args(dir, []));
    const moved = await agent.start();
    assert.notEqual(moved, url);
    await waitFor('the hello to update the host’s address', async () =>
      (await hostRow('joiner')).address === moved ? true : undefined,
    );
  });

  it('a spent token and a wrong name are refused: the controller’s message, exit 2, no agent.json', async () => {
    const added = await addHost('other');
    const wrongName = join(temp.path, 'wrong-name');
    const claimed = await runToEnd(
      args(wrongName, ['--join', controllerUrl, '--token', added.joinToken, '--name', 'someone']),
    );
    assert.equal(claimed.code, 2, claimed.stderr);
    assert.equal(claimed.stderr.trim().split('\n').length, 1, claimed.stderr);
    assert.match(claimed.stderr, /^labvirt: error: .*host/);
    await assert.rejects(access(join(wrongName, 'agent.json')));

    const first = join(temp.path, 'first');
    const once = new AgentProcess(
      args(first, ['--join', controllerUrl, '--token', added.joinToken, '--name', 'other']),
    );
    await once.start();
    assert.equal(await once.stop('SIGTERM'), 0);
    const spent = join(temp.path, 'spent');
    const again = await runToEnd(
      args(spent, ['--join', controllerUrl, '--token', added.joinToken, '--name', 'other']),
    );
    assert.equal(again.code, 2, again.stderr);
    assert.match(again.stderr, /^labvirt: error: the join token is not valid/);
    await assert.rejects(access(join(spent, 'agent.json')));
  });
});
