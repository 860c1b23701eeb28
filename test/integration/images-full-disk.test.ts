// A full disk during an import: the store on a small tmpfs made by the test, an image
// bigger than it. The import fails with a clear error, leaves no partial file, and gives
// the space back, so the store keeps working.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { fails } from '../helpers/assertions.js';
import { newRef, storeFiles, storeFixture, type StoreFixture } from '../helpers/image-store.js';

const run = promisify(execFile);
const MIB = 1024 * 1024;
const isRoot = process.getuid?.() === 0;

async function freeBytes(path: string): Promise<number> {
  const stats = await statfs(path);
  return stats.bavail * stats.bsize;
}

describe(
  'image store on a full disk',
  { skip: isRoot ? false : 'mounting a tmpfs needs root' },
  () => {
    let fx: StoreFixture;
    let mounted = false;

    before(async () => {
      fx = await storeFixture();
      await mkdir(fx.storeRoot);
      await run('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', fx.storeRoot]);
      mounted = true;
    });
    after(async () => {
      if (mounted) await run('umount', [fx.storeRoot]);
      await fx.cleanup();
    });

    it('refuses an image bigger than the store cleanly, then imports one that fits', async () => {
      const free = await freeBytes(fx.storeRoot);
      // Incompressible data (qcow2 does not compress by default), twice the store's size.
      const big = join(fx.importDir, 'big.img');
      await writeFile(big, randomBytes(16 * MIB));
      const seen: number[] = [];
      await assert.rejects(
        fx.store.import(big, newRef(), { format: 'raw', onProgress: (p) => seen.push(p) }),
        (error: Error) => {
          assert.ok(fails('IMAGE_STORE_FULL', { root: fx.storeRoot, operation: 'import' })(error));
          assert.match(error.message, /No space left on device/);
          return true;
        },
      );
      assert.ok(!seen.includes(100));
      assert.deepEqual(await storeFiles(fx.storeRoot), [], 'no partial file');
      const after = await freeBytes(fx.storeRoot);
      assert.ok(free - after < 256 * 1024, `space given back: ${free} then ${after} bytes free`);

      const small = join(fx.importDir, 'small.img');
      await writeFile(small, randomBytes(2 * MIB));
      const version = await fx.store.import(small, newRef(), { format: 'raw' });
      assert.deepEqual(await storeFiles(fx.storeRoot), [version.file]);
    });
  },
);
