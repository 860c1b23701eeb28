// `labvirt host add|show|drain|undrain|set|remove` and `labvirt lab create|set --placement`
// end to end: the real server (SQLite), the CLI logged in as an admin. The join command
// `host add` prints enrols an agent against that server (its token works once); refusals
// are one line on stderr with exit code 2.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generate } from 'selfsigned';
import { tempDir } from '../helpers/env.js';
import {
  addAdminAndLogin,
  cliEnv,
  runCliWith,
  spawnServer,
  type SpawnedServer,
} from '../helpers/cli-server.js';

const PASSWORD = 'correct horse battery';

interface HostJson {
  id: string;
  name: string;
  state: string;
  local: boolean;
  maintenance: boolean;
  cpuRatio: number;
  sharedStore: boolean;
  monitoringUrl: string | null;
  pending: boolean;
  joinExpiresAt: string | null;
}

function oneErrorLine(stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line: ${stderr}`);
  assert.match(lines[0]!, /^labvirt: error: /);
  return lines[0]!;
}

describe('labvirt host and lab placement commands over the API (SQLite)', () => {
  let dir = '';
  let cleanup: () => Promise<void> = async () => undefined;
  let server: SpawnedServer;
  const env = () => cliEnv({ XDG_CONFIG_HOME: join(dir, 'config') });
  const cli = (...args: string[]) => runCliWith(args, { env: env(), cwd: dir });
  const ok = async (...args: string[]) => {
    const result = await cli(...args);
    assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
    assert.equal(result.stderr, '');
    return result.stdout;
  };
  const json = async <T>(...args: string[]) => JSON.parse(await ok(...args, '--json')) as T;
  const refused = async (...args: string[]) => {
    const result = await cli(...args);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stdout} ${result.stderr}`);
    assert.equal(result.stdout, '');
    return oneErrorLine(result.stderr);
  };

  before(async () => {
    ({ path: dir, cleanup } = await tempDir('lv-hcli-'));
    const data = join(dir, 'data');
    server = await spawnServer(['--data', data], { env: env(), cwd: dir });
    await addAdminAndLogin(server, data, { env: env(), cwd: dir, user: 'ana', password: PASSWORD });
  });
  after(async () => {
    await server?.stop();
    await cleanup();
  });

  it('add prints the join command; the agent joins once with it', async () => {
    const text = await ok('host', 'add', 'node-1');
    const command = /^ {2}(labvirt agent --join \S+ --token (\S+) --name node-1)$/m.exec(text);
    assert.ok(command, text);
    assert.match(text, /before \d{4}-\d\d-\d\dT/);
    assert.ok(command[1]!.startsWith(`labvirt agent --join ${server.url} --token lvj1.`));
    const token = command[2]!;
    assert.match(token, /^lvj1\.[A-Za-z0-9_-]{43}\.none$/, 'plain HTTP: no certificate to pin');

    const added = await json<{ host: HostJson; joinToken: string; expiresAt: string }>(
      'host',
      'add',
      'node-2',
      '--cpu-ratio',
      '2.5',
      '--shared-store',
    );
    assert.equal(added.host.pending, true);
    assert.equal(added.host.cpuRatio, 2.5);
    assert.equal(added.host.sharedStore, true);

    const { cert } = await generate([{ name: 'commonName', value: 'node-1' }], { keySize: 2048 });
    const joinOnce = () =>
      fetch(`${server.url}/api/v1/agent/join`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          token,
          name: 'node-1',
          url: 'https://127.0.0.1:8445',
          certificate: cert,
        }),
      });
    const joined = await joinOnce();
    assert.equal(joined.status, 200);
    const { hostId, agentSecret } = (await joined.json()) as {
      hostId: string;
      agentSecret: string;
    };
    assert.equal((await joinOnce()).status, 401, 'the token works once');
    const hello = await fetch(`${server.url}/api/v1/agent/hello`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${agentSecret}`,
        'x-labvirt-host': hostId,
      },
      body: JSON.stringify({ url: 'https://127.0.0.1:9445' }),
    });
    assert.equal(hello.status, 200);
    const shown = await json<HostJson & { address: string }>('host', 'show', 'node-1');
    assert.equal(shown.address, 'https://127.0.0.1:9445');
    assert.equal(shown.pending, false);
  });

  it('list shows the ratio and who is drained; drain and undrain', async () => {
    const drained = await json<HostJson>('host', 'drain', 'node-1');
    assert.equal(drained.maintenance, true);
    assert.match(await ok('host', 'drain', 'node-2'), /^Host node-2 drained: /);
    const table = await ok('host', 'list');
    assert.match(table, /^NAME +ADDRESS +STATE +CPUS +MEMORY MIB +VCPU RATIO +MAINTENANCE/);
    assert.match(table, /^node-2 .* 2\.5 +drained/m);
    const undrained = await json<HostJson>('host', 'undrain', 'node-1');
    assert.equal(undrained.maintenance, false);
    const hosts = await json<HostJson[]>('host', 'list');
    assert.deepEqual(
      hosts.filter((h) => !h.local).map((h) => [h.name, h.maintenance]),
      [
        ['node-1', false],
        ['node-2', true],
      ],
    );
  });

  it('set: ratio, monitoring link, shared store; bad values are one line and change nothing', async () => {
    const set = await json<HostJson>(
      'host',
      'set',
      'node-1',
      '--cpu-ratio',
      '3',
      '--monitoring-url',
      'https://munin.example/node-1.html',
      '--shared-store',
    );
    assert.deepEqual(
      [set.cpuRatio, set.monitoringUrl, set.sharedStore],
      [3, 'https://munin.example/node-1.html', true],
    );
    const unset = await json<HostJson>(
      'host',
      'set',
      'node-1',
      '--no-monitoring-url',
      '--no-shared-store',
    );
    assert.deepEqual([unset.cpuRatio, unset.monitoringUrl, unset.sharedStore], [3, null, false]);
    assert.match(await ok('host', 'set', 'node-1', '--cpu-ratio', '1'), /^vCPU ratio: +1$/m);

    assert.match(await refused('host', 'set', 'node-1', '--cpu-ratio', '100'), /cpuRatio/);
    assert.match(await refused('host', 'set', 'node-1', '--cpu-ratio', 'lots'), /cpuRatio/);
    assert.match(
      await refused('host', 'set', 'node-1', '--monitoring-url', 'file:///etc/passwd'),
      /monitoringUrl: use an http/,
    );
    assert.match(await refused('host', 'set', 'node-1'), /--cpu-ratio/);
    assert.match(await refused('host', 'add', 'bad name!'), /host name "bad name!" is not valid/);
    assert.match(await refused('host', 'add', 'node-1'), /already exists/);
    const after = await json<HostJson>('host', 'show', 'node-1');
    assert.deepEqual([after.cpuRatio, after.monitoringUrl], [1, null]);
  });

  it('remove: a host goes; the local host stays', async () => {
    assert.deepEqual(await json('host', 'remove', 'node-2'), { removed: 'node-2' });
    assert.match(await ok('host', 'remove', 'node-1'), /^Host node-1 removed\.$/m);
    assert.match(await refused('host', 'remove', 'node-1'), /node-1/);
    const [local] = await json<HostJson[]>('host', 'list');
    assert.equal(local?.local, true);
    assert.match(await refused('host', 'remove', local.name), /cannot be removed/);
  });

  it('lab create and set --placement', async () => {
    const created = await json<{ placement: string }>(
      'lab',
      'create',
      'Sala P',
      '--placement',
      'pack',
    );
    assert.equal(created.placement, 'pack');
    assert.match(await ok('lab', 'show', 'Sala P'), /^Placement: +pack/m);
    const changed = await json<{ placement: string }>(
      'lab',
      'set',
      'Sala P',
      '--placement',
      'spread',
    );
    assert.equal(changed.placement, 'spread');
    assert.match(await refused('lab', 'set', 'Sala P', '--placement', 'random'), /random/);
    assert.match(await refused('lab', 'set', 'Sala P'), /--placement/);
    assert.equal((await json<{ placement: string }>('lab', 'show', 'Sala P')).placement, 'spread');
  });
});
