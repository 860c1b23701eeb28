// How soon a fresh `labvirt server` answers. A timing check, so it runs alone (the test
// runner keeps *.solo.test.js files for after the others, one at a time): on 2 shared
// cores a QEMU boot in a neighbouring test file would measure the neighbour, not us.
// Noise only ever adds time, so a start is tried up to three times and the fastest counts.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../helpers/env.js';
import { cliEnv, spawnServer } from '../helpers/cli-server.js';

const LIMIT_MS = 2000;
const ATTEMPTS = 3;

describe('labvirt server on a fresh data directory', () => {
  it('serves within 2 s of being started, with its SQLite file created', async () => {
    const times: number[] = [];
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const { path: dir, cleanup } = await tempDir('lv-start-');
      try {
        const server = await spawnServer(['--data', join(dir, 'data')], {
          env: cliEnv({ XDG_CONFIG_HOME: join(dir, 'config') }),
          cwd: dir,
        });
        try {
          times.push(Math.round(server.readyMs));
          assert.ok(existsSync(join(dir, 'data', 'labvirt.sqlite')));
          const response = await fetch(`${server.url}/api/v1/labs`);
          assert.equal(response.status, 401);
        } finally {
          await server.stop();
        }
      } finally {
        await cleanup();
      }
      if (times[times.length - 1]! < LIMIT_MS) break;
    }
    assert.ok(Math.min(...times) < LIMIT_MS, `first answers after ${times.join(', ')} ms`);
  });
});
