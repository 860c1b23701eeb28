// `labvirt server` and the CLI over its API, end to end: the real binary on a fresh data
// directory, users made with `user add`, a token from `login`, the admin commands.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LabvirtError } from '../../src/domain/errors.js';
import { translateError, translator } from '../../src/i18n/translator.js';
import { tempDir } from '../helpers/env.js';
import {
  cliEnv,
  freePort,
  runCliWith,
  spawnServer,
  type SpawnedServer,
} from '../helpers/cli-server.js';

const ADMIN_PASSWORD = 'correct horse battery';

/** One line on stderr, starting "labvirt: error: ". */
function oneErrorLine(stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line: ${stderr}`);
  assert.match(lines[0]!, /^labvirt: error: /);
  return lines[0]!;
}

describe('labvirt server and the CLI over its API (SQLite)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let server: SpawnedServer;
  let data: string;
  const env = (extra: Record<string, string> = {}) =>
    cliEnv({ XDG_CONFIG_HOME: join(dir, 'admin-config'), ...extra });
  const cli = (args: string[], input?: string, extra: Record<string, string> = {}) =>
    runCliWith(args, { env: env(extra), cwd: dir, ...(input !== undefined ? { input } : {}) });

  before(async () => {
    ({ path: dir, cleanup } = await tempDir('lv-srv-'));
    data = join(dir, 'data');
    server = await spawnServer(['--data', data], { env: env(), cwd: dir });
  });
  after(async () => {
    await server?.stop();
    await cleanup();
  });

  it('answers 401 to an unauthenticated GET /api/v1/labs', async () => {
    const response = await fetch(`${server.url}/api/v1/labs`);
    assert.equal(response.status, 401);
    assert.match(response.headers.get('content-type') ?? '', /application\/problem\+json/);
    assert.equal(((await response.json()) as { code: string }).code, 'AUTH_REQUIRED');
  });

  it('logs the exact command that makes the first administrator', () => {
    const hint = server
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { command?: string; url?: string })
      .find((entry) => entry.command !== undefined);
    assert.equal(
      hint?.command,
      `labvirt user add NAME --role admin --password-stdin --data ${data}`,
    );
    assert.match(server.output(), new RegExp(`"url":"${server.url}"`));
  });

  it('user add + login + lab create, and the lab shows in lab list --json', async () => {
    const added = await cli(
      ['user', 'add', 'alice', '--role', 'admin', '--password-stdin', '--data', data],
      `${ADMIN_PASSWORD}\n`,
    );
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /User alice \(admin\) created/);

    const login = await cli(
      ['login', server.url, '--user', 'alice', '--password-stdin'],
      `${ADMIN_PASSWORD}\n`,
    );
    assert.equal(login.code, 0, login.stderr);
    const configFile = join(dir, 'admin-config', 'labvirt', 'config.json');
    assert.equal((await stat(configFile)).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'admin-config', 'labvirt'))).mode & 0o777, 0o700);
    const config = JSON.parse(await readFile(configFile, 'utf8')) as Record<string, string>;
    assert.equal(config['url'], server.url);
    assert.match(config['token'] ?? '', /\S{20,}/);

    const created = await cli(['lab', 'create', 'X', '--description', 'Room 101']);
    assert.equal(created.code, 0, created.stderr);
    const listed = await cli(['lab', 'list', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const labs = JSON.parse(listed.stdout) as { name: string; description: string }[];
    assert.deepEqual(
      labs.map((lab) => [lab.name, lab.description]),
      [['X', 'Room 101']],
    );
    const table = await cli(['lab', 'list']);
    assert.match(
      table.stdout,
      /^NAME +TERMINALS +DEFAULT PROFILE +ADDRESS POOL +TIMEZONE +DESCRIPTION\nX +0 +- +- +\S+ +Room 101\n$/,
    );
    const shown = await cli(['lab', 'show', 'X']);
    assert.match(shown.stdout, /^Name: +X$/m);
  });

  it('adds, lists, moves and removes a terminal', async () => {
    assert.equal((await cli(['lab', 'create', 'Y'])).code, 0);
    const mac = '52:54:00:12:34:56';
    const add = await cli(['terminal', 'add', mac, '--lab', 'X', '--name', 'pc-1']);
    assert.equal(add.code, 0, add.stderr);
    let list = JSON.parse((await cli(['terminal', 'list', '--lab', 'X', '--json'])).stdout) as {
      mac: string;
      lab: string;
      name: string;
    }[];
    assert.deepEqual(
      list.map((t) => [t.mac, t.lab, t.name]),
      [[mac, 'X', 'pc-1']],
    );
    const moved = await cli(['terminal', 'move', mac, '--lab', 'Y']);
    assert.equal(moved.code, 0, moved.stderr);
    list = JSON.parse((await cli(['terminal', 'list', '--json'])).stdout) as typeof list;
    assert.deepEqual(
      list.map((t) => [t.mac, t.lab]),
      [[mac, 'Y']],
    );
    const removed = await cli(['terminal', 'remove', mac]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal((await cli(['terminal', 'list'])).stdout, 'There are no terminals.\n');
    const gone = await cli(['terminal', 'remove', mac]);
    assert.equal(gone.code, 2);
    assert.match(oneErrorLine(gone.stderr), /no terminal/);
  });

  it('lists the local host', async () => {
    const result = await cli(['host', 'list', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const hosts = JSON.parse(result.stdout) as { address: string; local: boolean }[];
    assert.equal(hosts.length, 1);
    assert.equal(hosts[0]!.address, 'local');
    assert.equal(hosts[0]!.local, true);
    assert.match((await cli(['host', 'list'])).stdout, /^NAME +ADDRESS +STATE/);
  });

  it('user passwd ends the user’s old token; the new password logs in', async () => {
    const bobPassword = 'bob password 1';
    const bob = { XDG_CONFIG_HOME: join(dir, 'bob-config') };
    const add = await cli(
      ['user', 'add', 'bob', '--role', 'viewer', '--password-stdin', '--data', data],
      `${bobPassword}\n`,
    );
    assert.equal(add.code, 0, add.stderr);
    const login = await cli(
      ['login', server.url, '--user', 'bob', '--password-stdin'],
      `${bobPassword}\n`,
      bob,
    );
    assert.equal(login.code, 0, login.stderr);
    assert.equal((await cli(['lab', 'list'], undefined, bob)).code, 0);

    const users = JSON.parse((await cli(['user', 'list', '--json'])).stdout) as {
      username: string;
    }[];
    assert.deepEqual(users.map((u) => u.username).sort(), ['alice', 'bob']);

    const passwd = await cli(['user', 'passwd', 'bob', '--password-stdin'], 'bob password 2\n');
    assert.equal(passwd.code, 0, passwd.stderr);
    const stale = await cli(['lab', 'list'], undefined, bob);
    assert.equal(stale.code, 2);
    assert.match(oneErrorLine(stale.stderr), /authentication required/);

    const again = await cli(
      ['login', server.url, '--user', 'bob', '--password-stdin'],
      'bob password 2\n',
      bob,
    );
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await cli(['lab', 'list'], undefined, bob)).code, 0);
    // A viewer may not change someone else's password: the API's 403, one line, exit 2.
    const denied = await cli(['user', 'passwd', 'alice', '--password-stdin'], 'x'.repeat(12), bob);
    assert.equal(denied.code, 2);
    oneErrorLine(denied.stderr);
  });

  it('changes one’s own password with the current one first', async () => {
    const self = await cli(
      ['user', 'passwd', 'alice', '--password-stdin'],
      `${ADMIN_PASSWORD}\nanother good password\n`,
    );
    assert.equal(self.code, 0, self.stderr);
    assert.match(self.stdout, /log in again/);
    const relogin = await cli(
      ['login', server.url, '--user', 'alice', '--password-stdin'],
      'another good password\n',
    );
    assert.equal(relogin.code, 0, relogin.stderr);
  });

  it('refuses a wrong password at login: one line, exit 2, no config written', async () => {
    const config = join(dir, 'wrong-config');
    const result = await cli(
      ['login', server.url, '--user', 'alice', '--password-stdin'],
      'not the password\n',
      { XDG_CONFIG_HOME: config },
    );
    assert.equal(result.code, 2);
    assert.match(oneErrorLine(result.stderr), /wrong user name or password/);
    assert.equal(result.stdout, '');
    assert.equal(existsSync(config), false);
  });

  it('says "cannot reach" an unreachable server: one line, exit 1', async () => {
    const port = await freePort();
    const result = await cli(
      ['login', `http://127.0.0.1:${port}`, '--user', 'alice', '--password-stdin'],
      'whatever\n',
      { XDG_CONFIG_HOME: join(dir, 'unreachable-config') },
    );
    assert.equal(result.code, 1);
    assert.equal(
      oneErrorLine(result.stderr),
      `labvirt: error: cannot reach http://127.0.0.1:${port}: connection refused`,
    );
    assert.equal(existsSync(join(dir, 'unreachable-config')), false);
  });

  it('says how to log in when there is no server to talk to', async () => {
    const result = await cli(['lab', 'list'], undefined, { XDG_CONFIG_HOME: join(dir, 'none') });
    assert.equal(result.code, 2);
    assert.match(oneErrorLine(result.stderr), /labvirt login URL/);
  });

  it('takes the server and token from LABVIRT_URL and LABVIRT_TOKEN', async () => {
    const config = JSON.parse(
      await readFile(join(dir, 'admin-config', 'labvirt', 'config.json'), 'utf8'),
    ) as { token: string };
    const result = await cli(['lab', 'list', '--json'], undefined, {
      XDG_CONFIG_HOME: join(dir, 'none'),
      LABVIRT_URL: server.url,
      LABVIRT_TOKEN: config.token,
    });
    assert.equal(result.code, 0, result.stderr);
    // The saved token is never sent to another server than its own.
    const other = await cli(['lab', 'list'], undefined, { LABVIRT_URL: `${server.url}/elsewhere` });
    assert.equal(other.code, 2);
    assert.match(oneErrorLine(other.stderr), /no such API route/);
  });

  it('speaks Spanish with LANG=es_ES.UTF-8: the API’s errors and its own', async () => {
    const es = translator('es');
    const spanish = { LANG: 'es_ES.UTF-8' };
    const notFound = await cli(['lab', 'show', 'nosuch'], undefined, spanish);
    assert.equal(notFound.code, 2);
    const expected = translateError(new LabvirtError('LAB_NOT_FOUND', { lab: 'nosuch' }), es);
    assert.notEqual(expected, 'no lab "nosuch"', 'po/es.po translates LAB_NOT_FOUND');
    assert.equal(oneErrorLine(notFound.stderr), `labvirt: error: ${expected}`);

    const local = await cli(['terminal', 'add', 'zz:zz', '--lab', 'X'], undefined, spanish);
    assert.equal(local.code, 2);
    const macError = translateError(new LabvirtError('MAC_MALFORMED', { mac: 'zz:zz' }), es);
    assert.notEqual(macError, new LabvirtError('MAC_MALFORMED', { mac: 'zz:zz' }).message);
    assert.equal(oneErrorLine(local.stderr), `labvirt: error: ${macError}`);

    const usage = await cli(['lab', 'show'], undefined, spanish);
    assert.equal(usage.code, 2);
    const missing = translateError(
      new LabvirtError('USAGE_MISSING_ARGUMENT', { argument: 'LAB' }),
      es,
    );
    assert.equal(oneErrorLine(usage.stderr), `labvirt: error: ${missing}`);
  });

  it('stops cleanly on SIGTERM, and a restart neither hints nor duplicates the host', async () => {
    assert.equal(await server.stop(), 0);
    const port = Number(new URL(server.url).port);
    server = await spawnServer(['--data', data], { env: env(), cwd: dir, port });
    const listed = await cli(['host', 'list', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const hosts = JSON.parse(listed.stdout) as unknown[];
    assert.equal(hosts.length, 1);
    assert.doesNotMatch(server.output(), /no user yet/);
  });
});
