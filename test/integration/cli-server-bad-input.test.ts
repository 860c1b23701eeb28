// Bad input to `labvirt server`, `user add` and `login`: one line on stderr naming the
// problem, exit 2 (or 1 when the fault is elsewhere), nothing started or written.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LabvirtError } from '../../src/domain/errors.js';
import { translateError, translator } from '../../src/i18n/translator.js';
import { tempDir, type CliResult } from '../helpers/env.js';
import { cliEnv, freePort, runCliWith } from '../helpers/cli-server.js';

function refused(result: CliResult, code: number, pattern: RegExp): void {
  assert.equal(result.code, code, `exit ${code}: ${result.stderr}`);
  assert.equal(result.stdout, '');
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line: ${result.stderr}`);
  assert.match(lines[0]!, /^labvirt: error: /);
  assert.match(lines[0]!, pattern);
}

describe('labvirt server, user add and login with bad input', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  const cli = (args: string[], input = '', extra: Record<string, string> = {}) =>
    runCliWith(args, {
      env: cliEnv({ XDG_CONFIG_HOME: join(dir, 'config'), ...extra }),
      cwd: dir,
      input,
    });
  before(async () => ({ path: dir, cleanup } = await tempDir('lv-bad-')));
  after(() => cleanup());

  it('refuses a bad --listen, half a TLS pair and "trust every proxy" before starting', async () => {
    const data = join(dir, 'never');
    refused(
      await cli(['server', '--data', data, '--listen', '8080']),
      2,
      /--listen "8080" is not valid/,
    );
    refused(
      await cli(['server', '--data', data, '--tls-cert', 'c.pem']),
      2,
      /--tls-cert and --tls-key must be given together/,
    );
    refused(
      await cli(['server', '--data', data, '--listen', '127.0.0.1:0', '--trust-proxy', 'true']),
      2,
      /--trust-proxy "true" is not valid/,
    );
    refused(
      await cli(['server', '--data', data, '--tls-cert', 'no.pem', '--tls-key', 'no.key']),
      2,
      /TLS certificate "no\.pem" does not exist/,
    );
    assert.equal(existsSync(data), false, 'no data directory was made');
  });

  it('refuses bad terminal-facing options (gateway, rate limit) before starting', async () => {
    const data = join(dir, 'never-gateway');
    for (const [flag, value] of [
      ['--gateway-bind', 'everywhere'],
      ['--gateway-address', 'bad host;name'],
      ['--gateway-ports', '80-90'],
      ['--gateway-ports', '30000-20000'],
      ['--terminal-rate-limit', '0'],
      ['--terminal-rate-limit', 'lots'],
    ] as const) {
      refused(await cli(['server', '--data', data, flag, value]), 2, new RegExp(`${flag}: `));
    }
    assert.equal(existsSync(data), false, 'no data directory was made');
  });

  it('refuses bad network options and a bridge that does not exist before starting', async () => {
    const data = join(dir, 'never-network');
    for (const [args, pattern] of [
      [['--vm-network', 'nat'], /--vm-network: use user or bridge/],
      [['--vm-network', 'bridge'], /--bridge: name the bridge/],
      [['--bridge', 'bad/name'], /--bridge: give an interface name/],
      [['--bridge', 'br0', '--taps', 'magic'], /--taps: use helper/],
      [['--vm-network', 'user', '--dhcp'], /--dhcp: only for bridged networking/],
      [['--vm-network', 'user', '--bridge', 'br0'], /--bridge: only for bridged networking/],
      [
        ['--bridge', 'lvtnone0', '--dhcp'],
        /bridge "lvtnone0" does not exist on this host: `labvirt host network-setup` makes one/,
      ],
      // An interface that is not a bridge is not one either.
      [['--vm-network', 'bridge', '--bridge', 'lo'], /bridge "lo" does not exist/],
    ] as const) {
      refused(await cli(['server', '--data', data, ...args]), 2, pattern);
    }
    assert.equal(existsSync(data), false, 'no data directory was made');
  });

  it('refuses a bad role, user name or password, and a password not on stdin', async () => {
    const data = join(dir, 'users');
    const add = (args: string[], input = '') =>
      cli(['user', 'add', ...args, '--data', data], input);
    refused(
      await add(['ana', '--role', 'root', '--password-stdin'], 'long password 1\n'),
      2,
      /unknown role "root"/,
    );
    refused(
      await add(['ana maria', '--role', 'admin', '--password-stdin'], 'long password 1\n'),
      2,
      /user name "ana maria" is not valid/,
    );
    refused(await add(['ana', '--role', 'admin']), 2, /--password-stdin/);
    refused(await add(['ana', '--role', 'admin', '--password-stdin'], ''), 2, /no password/);
    refused(
      await add(['ana', '--role', 'admin', '--password-stdin'], 'short\n'),
      2,
      /at least 10 characters/,
    );
    refused(
      await add(['ana', '--password-stdin'], 'long password 1\n'),
      2,
      /option --role <ROLE> is required/,
    );
  });

  it('says what is wrong with the data directory or the database', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, '');
    refused(
      await cli(
        ['user', 'add', 'ana', '--role', 'admin', '--password-stdin', '--data', join(file, 'data')],
        'long password 1\n',
      ),
      2,
      /data directory ".*a-file\/data" does not exist/,
    );
    const port = await freePort();
    refused(
      await cli(
        ['user', 'add', 'ana', '--role', 'admin', '--password-stdin'],
        'long password 1\n',
        {
          LABVIRT_DATABASE_URL: `postgres://labvirt@127.0.0.1:${port}/labvirt`,
        },
      ),
      1,
      /the database cannot be reached: .*ECONNREFUSED/,
    );
  });

  it('refuses a login URL that is not one, and writes no config', async () => {
    refused(
      await cli(['login', 'lab-server:8080', '--user', 'ana', '--password-stdin'], 'x\n'),
      2,
      /URL "lab-server:8080" is not valid/,
    );
    assert.equal(existsSync(join(dir, 'config')), false);
  });

  it('gives usage errors through the catalogue, in the user’s language', async () => {
    refused(await cli(['lab', 'list', '--jsn']), 2, /^labvirt: error: unknown option "--jsn"$/);
    refused(await cli(['lab', 'lsit']), 2, /^labvirt: error: unknown command "lsit"$/);
    const es = translator('es');
    const result = await cli(['terminal', 'add', '52:54:00:00:00:01'], '', {
      LC_ALL: 'es_MX.UTF-8',
    });
    const expected = translateError(
      new LabvirtError('USAGE_OPTION_REQUIRED', { option: '--lab <LAB>' }),
      es,
    );
    refused(result, 2, new RegExp(`^labvirt: ${es.t('error: {message}', { message: '' })}`));
    assert.equal(result.stderr, `labvirt: ${es.t('error: {message}', { message: expected })}\n`);
  });
});
