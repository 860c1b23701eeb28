// Importing a profile's golden image through the API, on both dialects: by path (inside an
// import directory) and by upload, as a job with progress; version 1 is published, its
// file sealed (0444) with the recorded sha256. Hostile or broken sources: a clear problem,
// nothing in the database, no file left in the store.
import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { problem } from '../helpers/api.js';
import { dialects } from '../helpers/databases.js';
import { sha256File } from '../helpers/env.js';
import { qemuImgCli } from '../helpers/image-store.js';
import {
  filesIn,
  imagesFixture,
  MIB,
  runJob,
  waitJob,
  versionRows,
  writeRawImage,
  type ImagesFixture,
} from '../helpers/profile-images.js';

for (const dialect of dialects) {
  describe(`profile import on ${dialect.name}`, () => {
    let f: ImagesFixture;
    let raw = '';
    const at = (name: string) => join(f.importDir, name);
    const createProfile = async (name: string): Promise<string> => {
      const response = await f.request({
        method: 'POST',
        url: '/api/v1/profiles',
        payload: { name },
        as: f.users.admin,
      });
      assert.equal(response.statusCode, 201, response.body);
      return response.json<{ id: string }>().id;
    };
    const importPath = (profile: string, payload: object) =>
      runJob(f, {
        method: 'POST',
        url: `/api/v1/profiles/${profile}/import`,
        payload,
        as: f.users.admin,
      });

    before(async () => {
      f = await imagesFixture(dialect, { uploadLimit: 12 * MIB });
      raw = at('disk.img');
      await writeRawImage(raw, 8 * MIB);
    });
    after(() => f?.close());

    const assertVersion1 = async (profileId: string, result: unknown) => {
      const rows = await versionRows(f, profileId);
      assert.equal(rows.length, 1);
      const row = rows[0]!;
      assert.equal(row.number, 1);
      const profile = await f.database.db
        .selectFrom('profiles')
        .selectAll()
        .where('id', '=', profileId)
        .executeTakeFirstOrThrow();
      assert.equal(profile.published_version_id, row.id, 'version 1 is published');
      const path = join(f.storeRoot, row.file);
      const stats = await stat(path);
      assert.equal(stats.mode & 0o777, 0o444);
      assert.equal(Number(row.size_bytes), stats.size);
      assert.equal(row.sha256, await sha256File(path), 'the recorded sha256 is the file’s');
      assert.equal(row.created_by, f.users.admin.id);
      qemuImgCli('compare', '-f', 'raw', '-F', 'qcow2', raw, path);
      const version = result as { number: number; published: boolean; sha256: string };
      assert.equal(version.number, 1);
      assert.equal(version.published, true);
      assert.equal(version.sha256, row.sha256);
    };

    it('imports a path inside an import directory as a job with progress', async () => {
      const id = await createProfile('by-path');
      const { job, seen } = await importPath('by-path', { path: raw, format: 'raw' });
      assert.equal(job.state, 'succeeded', JSON.stringify(job));
      assert.equal(job.progress, 100);
      assert.ok(seen.length >= 2, `progress seen: ${seen.join(', ')}`);
      await assertVersion1(id, job.result);
      const audit = await f.request({
        method: 'GET',
        url: '/api/v1/audit?action=profile.import',
        as: f.users.admin,
      });
      assert.match(audit.body, /profile\.import/);
      // A second import is version 2, not published (version 1 still is).
      const second = await importPath('by-path', { path: 'disk.img', format: 'raw' });
      assert.equal(second.job.state, 'succeeded');
      assert.deepEqual((second.job.result as { number: number; published: boolean }).number, 2);
      assert.equal((second.job.result as { published: boolean }).published, false);
    });

    it('imports an upload (application/octet-stream), leaving nothing in the import area', async () => {
      const id = await createProfile('by-upload');
      const response = await f.request({
        method: 'PUT',
        url: '/api/v1/profiles/by-upload/upload?format=raw',
        headers: { 'content-type': 'application/octet-stream' },
        payload: await readFile(raw),
        as: f.users.admin,
      });
      assert.equal(response.statusCode, 202, response.body);
      const { job } = await waitJob(f, response.json<{ id: string }>().id);
      assert.equal(job.state, 'succeeded', JSON.stringify(job));
      await assertVersion1(id, job.result);
      const uploads = await readdir(join(f.importDir, '.uploads'));
      assert.deepEqual(uploads, [], 'the uploaded file is removed once imported');
    });

    it('names a refused upload by the name it was sent with, never by the file it was kept in', async () => {
      await createProfile('upload-named');
      const response = await f.request({
        method: 'PUT',
        url: '/api/v1/profiles/upload-named/upload?name=notes.txt',
        headers: { 'content-type': 'application/octet-stream' },
        payload: Buffer.from('This is not a disk image.\n'),
        as: f.users.admin,
      });
      assert.equal(response.statusCode, 202, response.body);
      const { job } = await waitJob(f, response.json<{ id: string }>().id);
      assert.equal(job.error?.code, 'IMAGE_NOT_AN_IMAGE', JSON.stringify(job));
      assert.match(job.error.detail, /^"notes\.txt" is not a disk image/);
      assert.doesNotMatch(job.error.detail, /\.upload/);
    });

    it('refuses uploads too large, of the wrong type, or from a non-admin', async () => {
      await createProfile('upload-refused');
      const url = '/api/v1/profiles/upload-refused/upload?format=raw';
      const headers = { 'content-type': 'application/octet-stream' };
      problem(
        await f.request({
          method: 'PUT',
          url,
          headers,
          payload: Buffer.alloc(10),
          as: f.users.viewer,
        }),
        403,
        'FORBIDDEN',
      );
      problem(
        await f.request({ method: 'PUT', url, payload: { path: raw }, as: f.users.admin }),
        415,
      );
      // Bigger than the limit: refused, whether declared or streamed.
      problem(
        await f.request({
          method: 'PUT',
          url,
          headers,
          payload: Buffer.alloc(13 * MIB),
          as: f.users.admin,
        }),
        413,
        'UPLOAD_TOO_LARGE',
      );
      const { PassThrough } = await import('node:stream');
      const stream = new PassThrough();
      stream.end(Buffer.alloc(13 * MIB));
      problem(
        await f.request({ method: 'PUT', url, headers, payload: stream, as: f.users.admin }),
        413,
        'UPLOAD_TOO_LARGE',
      );
      assert.deepEqual(await readdir(join(f.importDir, '.uploads')).catch(() => []), []);
      // JSON routes keep their 1 MiB limit.
      problem(
        await f.request({
          method: 'POST',
          url: '/api/v1/profiles/upload-refused/import',
          payload: { path: 'x'.repeat(2 * MIB) },
          as: f.users.admin,
        }),
        413,
      );
      const refused = await f.database.db
        .selectFrom('profiles')
        .select('published_version_id')
        .where('name', '=', 'upload-refused')
        .executeTakeFirstOrThrow();
      assert.equal(refused.published_version_id, null);
    });

    describe('bad input: a clear problem, nothing registered, no file left', () => {
      let profileId = '';
      let filesBefore: string[] = [];
      before(async () => {
        profileId = await createProfile('victim');
        filesBefore = await filesIn(f);
      });
      const nothingLeft = async () => {
        assert.deepEqual(await versionRows(f, profileId), [], 'no version registered');
        assert.deepEqual(await filesIn(f), filesBefore, 'no file, partial or whole, in the store');
      };
      const jobFails = async (payload: object, code: string) => {
        const { job, seen } = await importPath('victim', payload);
        assert.equal(job.state, 'failed');
        assert.equal(job.error?.code, code, JSON.stringify(job.error));
        assert.ok(job.error.status >= 400 && job.error.status < 500);
        assert.ok(job.error.detail.length > 0);
        assert.ok(!seen.includes(100));
        await nothingLeft();
      };

      it('a text file', async () => {
        await writeFile(at('notes.txt'), 'This is not a disk image.\n');
        await jobFails({ path: at('notes.txt') }, 'IMAGE_NOT_AN_IMAGE');
      });

      it('a truncated qcow2', async () => {
        qemuImgCli('convert', '-f', 'raw', '-O', 'qcow2', raw, at('whole.qcow2'));
        const whole = await readFile(at('whole.qcow2'));
        await writeFile(at('cut.qcow2'), whole.subarray(0, Math.floor(whole.length / 2)));
        await jobFails({ path: at('cut.qcow2') }, 'IMAGE_CORRUPT');
      });

      it('a qcow2 whose backing file is /etc/passwd', async () => {
        const evil = at('evil.qcow2');
        qemuImgCli('create', '-f', 'qcow2', '-u', '-F', 'raw', '-b', '/etc/passwd', evil, '1M');
        await jobFails({ path: evil, format: 'qcow2' }, 'IMAGE_BACKING_OUTSIDE');
      });

      it('a qcow2 with an external data file', async () => {
        const file = at('datafile.qcow2');
        qemuImgCli('create', '-f', 'qcow2', '-o', `data_file=${at('data.raw')}`, file, '1M');
        await jobFails({ path: file }, 'IMAGE_DATA_FILE');
      });

      it('paths with "../" or outside the import directories: refused before any job', async () => {
        for (const path of [
          '../../../../etc/passwd',
          `${f.importDir}/../images`,
          '/etc/passwd',
          '/etc/no-such-file',
        ]) {
          problem(
            await f.request({
              method: 'POST',
              url: '/api/v1/profiles/victim/import',
              payload: { path, format: 'raw' },
              as: f.users.admin,
            }),
            400,
            'IMPORT_SOURCE_OUTSIDE',
            path,
          );
        }
        problem(
          await f.request({
            method: 'POST',
            url: '/api/v1/profiles/victim/import',
            payload: { path: 'no-such.img' },
            as: f.users.admin,
          }),
          400,
          'FILE_NOT_FOUND',
        );
        // A profile name with "../" is only a name: no such profile.
        problem(
          await f.request({
            method: 'POST',
            url: `/api/v1/profiles/${encodeURIComponent('../victim')}/import`,
            payload: { path: raw },
            as: f.users.admin,
          }),
          404,
          'PROFILE_NOT_FOUND',
        );
        problem(
          await f.request({
            method: 'POST',
            url: '/api/v1/profiles',
            payload: { name: '../evil' },
            as: f.users.admin,
          }),
          400,
        );
        await nothingLeft();
      });

      it('only admins import', async () => {
        for (const user of [f.users.viewer, f.users.operator]) {
          problem(
            await f.request({
              method: 'POST',
              url: '/api/v1/profiles/victim/import',
              payload: { path: raw },
              as: user,
            }),
            403,
            'FORBIDDEN',
          );
        }
        await nothingLeft();
      });
    });
  });
}
