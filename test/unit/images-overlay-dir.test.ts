// Client overlays in a directory of their own (say, a tmpfs): the run directory makes the
// VM's overlay directory with its other files and removes it with them.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { RunDir } from '../../src/qemu/process/run-dir.js';
import { tempDir } from '../helpers/env.js';

describe('run directory with an overlay root', () => {
  it('puts overlays under the overlay root and removes them with the VM', async () => {
    const { path: dir, cleanup } = await tempDir();
    try {
      const runDir = new RunDir(join(dir, 'run'), { overlayRoot: join(dir, 'tmpfs') });
      const paths = await runDir.prepare('client-1');
      assert.equal(paths.overlayDir, join(dir, 'tmpfs', 'client-1'));
      assert.equal(paths.overlay(0), join(dir, 'tmpfs', 'client-1', 'disk0.overlay.qcow2'));
      await writeFile(paths.overlay(0), 'overlay');
      assert.deepEqual(await runDir.names(), ['client-1']);
      await runDir.remove('client-1');
      assert.equal(existsSync(paths.overlayDir), false);
      assert.equal(existsSync(paths.dir), false);
      // Without one, overlays stay in the VM's own directory, as before.
      const plain = new RunDir(join(dir, 'run')).vmPaths('x');
      assert.equal(plain.overlayDir, plain.dir);
      assert.equal(plain.overlay(1), join(plain.dir, 'disk1.overlay.qcow2'));
    } finally {
      await cleanup();
    }
  });
});
