// A full disk under the image store during an import through the API, on both dialects:
// the store on a small tmpfs made by the test, an image bigger than it. The job fails with
// IMAGE_STORE_FULL, nothing is registered, no partial file is left, and the next import
// that fits works.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { dialects } from '../helpers/databases.js';
import {
  filesIn,
  imagesFixture,
  MIB,
  runJob,
  versionRows,
  type ImagesFixture,
} from '../helpers/profile-images.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;

for (const dialect of dialects) {
  describe(
    `profile import onto a full disk on ${dialect.name}`,
    { skip: isRoot ? false : 'mounting a tmpfs needs root' },
    () => {
      let f: ImagesFixture;
      let mountPoint = '';
      let mounted = false;

      before(async () => {
        mountPoint = await mkdtemp(join(tmpdir(), 'lv-full-'));
        await run('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mountPoint]);
        mounted = true;
        f = await imagesFixture(dialect, { storeRoot: mountPoint });
      });
      after(async () => {
        await f?.close();
        if (mounted) await run('umount', [mountPoint]);
        await rm(mountPoint, { recursive: true, force: true });
      });

      it('fails the job with IMAGE_STORE_FULL, registers nothing, leaves no file', async () => {
        const created = await f.request({
          method: 'POST',
          url: '/api/v1/profiles',
          payload: { name: 'big' },
          as: f.users.admin,
        });
        assert.equal(created.statusCode, 201);
        const id = created.json<{ id: string }>().id;
        // Incompressible data, twice the store's size.
        await writeFile(join(f.importDir, 'big.img'), randomBytes(16 * MIB));
        const { job, seen } = await runJob(f, {
          method: 'POST',
          url: '/api/v1/profiles/big/import',
          payload: { path: 'big.img', format: 'raw' },
          as: f.users.admin,
        });
        assert.equal(job.state, 'failed');
        assert.equal(job.error?.code, 'IMAGE_STORE_FULL');
        assert.equal(job.error.status, 507);
        assert.match(job.error.detail, /ran out of space/);
        assert.ok(!seen.includes(100));
        assert.deepEqual(await versionRows(f, id), []);
        assert.deepEqual(await filesIn(f), [], 'no partial file');

        await writeFile(join(f.importDir, 'small.img'), randomBytes(2 * MIB));
        const second = await runJob(f, {
          method: 'POST',
          url: '/api/v1/profiles/big/import',
          payload: { path: 'small.img', format: 'raw' },
          as: f.users.admin,
        });
        assert.equal(second.job.state, 'succeeded', JSON.stringify(second.job));
        assert.equal((await versionRows(f, id)).length, 1);
      });
    },
  );
}
