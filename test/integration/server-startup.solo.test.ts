// How soon a fresh `labvirt server` answers. A timing check, so it runs alone (the test
// runner keeps *.solo.test.js files for after the others, one at a time): on 2 shared
// cores a QEMU boot in a neighbouring test file would measure the neighbour, not us.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../helpers/env.js';
import { cliEnv, spawnServer, type SpawnedServer } from '../helpers/cli-server.js';

describe('labvirt server on a fresh data directory', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let server: SpawnedServer;

  before(async () => {
    ({ path: dir, cleanup } = await tempDir('lv-start-'));
    server = await spawnServer(['--data', join(dir, 'data')], {
      env: cliEnv({ XDG_CONFIG_HOME: join(dir, 'config') }),
      cwd: dir,
    });
  });
  after(async () => {
    await server?.stop();
    await cleanup();
  });

  it('serves within 2 s of being started, with its SQLite file created', async () => {
    assert.ok(server.readyMs < 2000, `first answer after ${Math.round(server.readyMs)} ms`);
    assert.ok(existsSync(join(dir, 'data', 'labvirt.sqlite')));
    const response = await fetch(`${server.url}/api/v1/labs`);
    assert.equal(response.status, 401);
  });
});
