// `labvirt vm ...` and `labvirt profile admin ...` end to end: the real server (SQLite)
// with an overlay directory, the CLI logged in as an admin, a profile imported from the
// boot-counting test guest. Bad input: one line on stderr and exit code 2.
import assert from 'node:assert/strict';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GuestMode, writeGuestDisk } from '../../scripts/guest.js';
import { localSupervisor } from '../../src/agent/local-host.js';
import { tempDir, waitFor } from '../helpers/env.js';
import {
  addAdminAndLogin,
  cliEnv,
  runCliWith,
  spawnServer,
  type SpawnedServer,
} from '../helpers/cli-server.js';
import { killAll } from '../helpers/vm-fixture.js';

const PASSWORD = 'correct horse battery';

describe('labvirt vm and profile admin over the API (SQLite)', () => {
  let dir = '';
  let cleanup: () => Promise<void> = async () => undefined;
  let server: SpawnedServer | undefined;
  let data = '';
  let overlays = '';
  const env = () => cliEnv({ XDG_CONFIG_HOME: join(dir, 'config') });
  const cli = (...args: string[]) => runCliWith(args, { env: env(), cwd: dir });
  const ok = async (...args: string[]) => {
    const result = await cli(...args);
    assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };
  const refused = async (pattern: RegExp, ...args: string[]) => {
    const result = await cli(...args);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stdout}${result.stderr}`);
    const lines = result.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0] ?? '', pattern);
  };

  before(async () => {
    ({ path: dir, cleanup } = await tempDir('lv-vcli-'));
    data = join(dir, 'data');
    overlays = join(dir, 'overlays');
    const importDir = join(dir, 'import');
    await mkdir(overlays);
    await mkdir(importDir);
    await writeGuestDisk(join(importDir, 'guest.img'), GuestMode.waitForPowerButton);
    server = await spawnServer(
      ['--data', data, '--import-dir', importDir, '--overlay-dir', overlays],
      { env: env(), cwd: dir },
    );
    await addAdminAndLogin(server, data, { env: env(), cwd: dir, user: 'ana', password: PASSWORD });
    await ok('profile', 'create', 'guest', '--memory', '32', '--cpus', '1', '--disk-bus', 'ide');
    await ok('profile', 'import', 'guest', join(importDir, 'guest.img'), '--format', 'raw');
  });
  after(async () => {
    await server?.stop();
    await killAll(localSupervisor(join(data, 'run')).runDir);
    await cleanup();
  });

  it('vm start, list, show, serial, stop', async () => {
    const started = JSON.parse(await ok('vm', 'start', '--profile', 'guest', '--json')) as {
      name: string;
      state: string;
    };
    assert.equal(started.state, 'running');
    // Generous, as in the VM fixture: a boot on two cores shared with other suites' VMs.
    const serial = await waitFor(
      'the boot line',
      async () => {
        const text = await ok('vm', 'serial', started.name);
        return /LABVIRT-GUEST boot=1/.test(text) ? text : undefined;
      },
      60_000,
    );
    assert.ok(!serial.includes('\u001b'), 'no escape sequence reaches the terminal');
    assert.match(
      await ok('vm', 'list'),
      new RegExp(`${started.name}\\s+client\\s+guest\\s+running`),
    );
    assert.match(await ok('vm', 'show', started.name), /State:\s+running/);
    assert.equal((await readdir(overlays)).length, 1, 'its overlay');
    const stopped = JSON.parse(await ok('vm', 'stop', started.name, '--json')) as {
      state: string;
    };
    assert.equal(stopped.state, 'stopped');
    assert.deepEqual(await readdir(overlays), []);
    assert.match(await ok('vm', 'list'), /There are no VMs/);
    assert.match(await ok('vm', 'list', '--all'), new RegExp(`${started.name}.*stopped`));
    await refused(/no profile "nope"/, 'vm', 'start', '--profile', 'nope');
    await refused(/no VM "nope"/, 'vm', 'stop', 'nope');
  });

  it('profile admin open, status, publish refused while running, discard --force', async () => {
    const opened = JSON.parse(await ok('profile', 'admin', 'guest', 'open', '--json')) as {
      vm: { name: string; state: string };
    };
    assert.equal(opened.vm.state, 'running');
    assert.match(await ok('profile', 'admin', 'guest', 'status'), /Policy:\s+shared/);
    await refused(/still running/, 'profile', 'admin', 'guest', 'publish');
    await refused(/already has an admin session/, 'profile', 'admin', 'guest', 'open');
    await refused(/unknown command "frobnicate"/, 'profile', 'admin', 'guest', 'frobnicate');
    await waitFor('the admin VM to boot', async () =>
      /boot=1/.test(await ok('vm', 'serial', opened.vm.name)) ? true : undefined,
    );
    assert.match(await ok('profile', 'admin', 'guest', 'discard', '--force'), /discarded/);
    await refused(/no admin session open/, 'profile', 'admin', 'guest', 'status');
  });
});
