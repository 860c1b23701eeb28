// `labvirt user add` and `labvirt server` on PostgreSQL (LABVIRT_DATABASE_URL): the same
// commands, the same schema, made by the first of them to start.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dialects, type TestDatabase } from '../helpers/databases.js';
import { tempDir } from '../helpers/env.js';
import { cliEnv, runCliWith, spawnServer, type SpawnedServer } from '../helpers/cli-server.js';

describe('labvirt user add and server on PostgreSQL', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let database: TestDatabase;
  let server: SpawnedServer | undefined;
  let env: NodeJS.ProcessEnv;
  const cli = (args: string[], input?: string) =>
    runCliWith(args, { env, cwd: dir, ...(input !== undefined ? { input } : {}) });

  before(async () => {
    ({ path: dir, cleanup } = await tempDir('lv-pg-'));
    const postgres = dialects.find((dialect) => dialect.name === 'postgres')!;
    database = await postgres.create({ migrate: false });
    env = cliEnv({
      XDG_CONFIG_HOME: join(dir, 'config'),
      LABVIRT_DATABASE_URL: database.options.url!,
    });
  });
  after(async () => {
    await server?.stop();
    await database?.drop();
    await cleanup();
  });

  it('user add migrates an empty database and creates the user, audited as from the CLI', async () => {
    const added = await cli(
      ['user', 'add', 'root-admin', '--role', 'admin', '--password-stdin'],
      'a long enough password\n',
    );
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /created in PostgreSQL /);
    const audit = await database.db
      .selectFrom('audit_events')
      .select(['action', 'source_ip'])
      .where('action', '=', 'user.create')
      .execute();
    assert.deepEqual(audit, [{ action: 'user.create', source_ip: 'cli' }]);
    assert.equal(existsSync(join(dir, 'data', 'labvirt.sqlite')), false, 'no SQLite file');
  });

  it('refuses a second user of the same name: one line, exit 2', async () => {
    const again = await cli(
      ['user', 'add', 'root-admin', '--role', 'viewer', '--password-stdin'],
      'another password 1\n',
    );
    assert.equal(again.code, 2);
    assert.match(again.stderr, /^labvirt: error: a user named "root-admin" already exists\n$/);
  });

  it('the server runs on it: login, lab create and lab list --json', async () => {
    server = await spawnServer(['--data', join(dir, 'data')], { env, cwd: dir });
    assert.match(server.output(), /PostgreSQL /);
    assert.doesNotMatch(server.output(), /no user yet/);
    const login = await cli(
      ['login', server.url, '--user', 'root-admin', '--password-stdin'],
      'a long enough password\n',
    );
    assert.equal(login.code, 0, login.stderr);
    assert.equal((await cli(['lab', 'create', 'Sala A'])).code, 0);
    const labs = JSON.parse((await cli(['lab', 'list', '--json'])).stdout) as { name: string }[];
    assert.deepEqual(
      labs.map((lab) => lab.name),
      ['Sala A'],
    );
    // user add works with the server running, and the server sees the user at once.
    const added = await cli(
      ['user', 'add', 'viewer1', '--role', 'viewer', '--password-stdin'],
      'viewer password 1\n',
    );
    assert.equal(added.code, 0, added.stderr);
    const users = JSON.parse((await cli(['user', 'list', '--json'])).stdout) as {
      username: string;
    }[];
    assert.deepEqual(users.map((user) => user.username).sort(), ['root-admin', 'viewer1']);
    assert.equal(existsSync(join(dir, 'data', 'labvirt.sqlite')), false, 'no SQLite file');
    assert.equal(await server.stop(), 0);
    server = undefined;
  });
});
