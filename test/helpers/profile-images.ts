// Shared set-up of the profile image tests: an API fixture (one dialect) with an image
// store, an import directory and an ISO library in a fresh temporary directory, and helpers
// to import, wait for jobs and look at the store and the versions table.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, open, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageStore } from '../../src/images/image-store.js';
import { createApiFixture, type ApiFixture } from './api.js';
import type { DialectUnderTest } from './databases.js';
import { delay, tempDir } from './env.js';
import { storeFiles } from './image-store.js';

export const MIB = 1024 * 1024;

export interface ImagesFixture extends ApiFixture {
  readonly dir: string;
  readonly importDir: string;
  readonly isoDir: string;
  readonly storeRoot: string;
  readonly store: ImageStore;
}

export async function imagesFixture(
  dialect: DialectUnderTest,
  options: { storeRoot?: string; uploadLimit?: number } = {},
): Promise<ImagesFixture> {
  const temp = await tempDir('lv-prof-');
  const dir = await realpath(temp.path);
  const importDir = join(dir, 'import');
  const isoDir = join(dir, 'iso');
  const storeRoot = options.storeRoot ?? join(dir, 'images');
  await mkdir(importDir);
  await mkdir(isoDir);
  await mkdir(storeRoot, { recursive: true });
  const store = new ImageStore({
    root: storeRoot,
    importDirs: [importDir],
    ...(options.uploadLimit === undefined ? {} : { uploadLimit: options.uploadLimit }),
  });
  const api = await createApiFixture(dialect, { images: store, isoDir });
  return {
    ...api,
    dir,
    importDir,
    isoDir,
    storeRoot,
    store,
    close: async () => {
      await api.close();
      await temp.cleanup();
    },
  };
}

/** A raw image with a few marked blocks and a sparse rest. */
export async function writeRawImage(path: string, size: number, seed = ''): Promise<void> {
  const file = await open(path, 'w');
  await file.truncate(size);
  for (const offset of [0, Math.floor(size / 3), size - 4096]) {
    await file.write(
      createHash('sha256')
        .update(seed + offset)
        .digest(),
      0,
      32,
      offset,
    );
  }
  await file.close();
}

export interface JobBody {
  readonly id: string;
  readonly kind: string;
  readonly state: 'running' | 'succeeded' | 'failed';
  readonly progress: number;
  readonly error: { code: string; status: number; detail: string } | null;
  readonly result: unknown;
}

/** Polls a job until it ends; returns it and every progress value seen on the way. */
export async function waitJob(
  f: ApiFixture,
  id: string,
): Promise<{ job: JobBody; seen: number[] }> {
  const seen: number[] = [];
  for (let i = 0; i < 6000; i++) {
    const response = await f.request({
      method: 'GET',
      url: `/api/v1/jobs/${id}`,
      as: f.users.viewer,
    });
    assert.equal(response.statusCode, 200, response.body);
    const job = response.json<JobBody>();
    if (seen.at(-1) !== job.progress) seen.push(job.progress);
    if (job.state !== 'running') return { job, seen };
    await delay(5);
  }
  throw new Error(`job ${id} did not end`);
}

/** Starts a job with a request answered 202 and waits for it. */
export async function runJob(
  f: ApiFixture,
  request: Parameters<ApiFixture['request']>[0],
): Promise<{ job: JobBody; seen: number[] }> {
  const response = await f.request(request);
  assert.equal(response.statusCode, 202, response.body);
  return waitJob(f, response.json<JobBody>().id);
}

export async function versionRows(f: ApiFixture, profileId?: string) {
  let query = f.database.db.selectFrom('versions').selectAll();
  if (profileId !== undefined) query = query.where('profile_id', '=', profileId);
  return query.orderBy('number').execute();
}

/** The store's files, less empty directories. */
export const filesIn = (f: ImagesFixture) => storeFiles(f.storeRoot);
