// The image store's import on real qemu-img: raw, qcow2 and vmdk in, one sealed qcow2 out,
// with progress; and hostile or broken sources refused before anything reaches the store.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { open, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ImageFormat } from '../../src/qemu/image/image-format.js';
import { fails } from '../helpers/assertions.js';
import { qcow2BackedBy, rawDiskWithQcow2Header } from '../helpers/hostile-images.js';
import { sha256File } from '../helpers/env.js';
import {
  assertIncreasingTo100,
  newRef,
  qemuImgCli,
  storeFiles,
  storeFixture,
  type StoreFixture,
} from '../helpers/image-store.js';

const MIB = 1024 * 1024;

/** A raw image with scattered data and a sparse rest. */
async function writeRawImage(path: string, size: number): Promise<void> {
  const file = await open(path, 'w');
  await file.truncate(size);
  for (const offset of [0, 3 * MIB + 17, size - 4096]) {
    await file.write(createHash('sha256').update(String(offset)).digest(), 0, 32, offset);
  }
  await file.write(Buffer.alloc(MIB, 0xa5), 0, MIB, 5 * MIB);
  await file.close();
}

describe('image store: import', () => {
  let fx: StoreFixture;
  let raw = '';
  const at = (name: string): string => join(fx.importDir, name);

  before(async () => {
    fx = await storeFixture();
    raw = at('disk.img');
    await writeRawImage(raw, 16 * MIB);
  });
  after(async () => fx.cleanup());

  const cases: [string, ImageFormat, boolean][] = [
    ['raw, format given', 'raw', true],
    ['raw, format detected', 'raw', false],
    ['qcow2, format detected', 'qcow2', false],
    ['vmdk, format given', 'vmdk', true],
  ];
  for (const [title, format, given] of cases) {
    it(`imports ${title} into a sealed qcow2 with progress`, async () => {
      const source = format === 'raw' ? raw : at(`disk.${format}`);
      if (format !== 'raw') qemuImgCli('convert', '-f', 'raw', '-O', format, raw, source);
      const ref = newRef();
      const seen: number[] = [];
      const version = await fx.store.import(source, ref, {
        ...(given ? { format } : {}),
        onProgress: (percent) => seen.push(percent),
      });
      assertIncreasingTo100(seen);
      assert.equal(version.file, `versions/${ref.profileId}/${ref.versionId}.qcow2`);
      assert.equal(version.path, join(fx.storeRoot, version.file));
      assert.equal(version.chainDepth, 1);
      assert.equal(version.virtualSize, 16 * MIB);
      const stats = await stat(version.path);
      assert.equal(stats.mode & 0o777, 0o444);
      assert.equal(version.sizeBytes, stats.size);
      assert.equal(version.sha256, await sha256File(version.path));
      assert.deepEqual(await fx.store.verify(ref, version.sha256), {
        ok: true,
        sha256: version.sha256,
      });
      // Same guest-visible content, and a real qcow2 with no backing file.
      qemuImgCli('compare', '-f', 'raw', '-F', 'qcow2', raw, version.path);
      const info = JSON.parse(qemuImgCli('info', '--output=json', '-f', 'qcow2', version.path));
      assert.equal(info['backing-filename'], undefined);
      assert.deepEqual(await storeFiles(fx.storeRoot), [version.file]);
      assert.equal(await fx.store.remove(ref), true);
    });
  }

  it('imports a qcow2 layered on a base inside the import directory as one flat image', async () => {
    const layered = at('layered.qcow2');
    qemuImgCli('create', '-f', 'qcow2', '-F', 'raw', '-b', raw, layered);
    const version = await fx.store.import(layered, newRef());
    assert.equal(version.chainDepth, 1);
    const info = JSON.parse(qemuImgCli('info', '--output=json', '-f', 'qcow2', version.path));
    assert.equal(info['backing-filename'], undefined);
    qemuImgCli('compare', '-f', 'raw', '-F', 'qcow2', raw, version.path);
    await fx.store.remove(version.ref);
  });

  it('refuses to overwrite an existing version', async () => {
    const ref = newRef();
    await fx.store.import(raw, ref, { format: 'raw' });
    await assert.rejects(
      fx.store.import(raw, ref, { format: 'raw' }),
      fails('IMAGE_VERSION_EXISTS', { version: ref.versionId }),
    );
    await fx.store.remove(ref);
    assert.deepEqual(await storeFiles(fx.storeRoot), []);
  });

  describe('hostile and broken sources: a clear error, nothing in the store', () => {
    const refuses = async (
      source: string,
      code: Parameters<typeof fails>[0],
      format?: ImageFormat,
    ): Promise<void> => {
      const ref = newRef();
      const seen: number[] = [];
      await assert.rejects(
        fx.store.import(source, ref, { format, onProgress: (p) => seen.push(p) }),
        fails(code),
      );
      assert.deepEqual(await storeFiles(fx.storeRoot), [], 'no file, partial or whole');
      assert.ok(!seen.includes(100), 'never reported done');
    };

    it('a text file', async () => {
      await writeFile(at('notes.txt'), 'This is not a disk image.\n');
      await refuses(at('notes.txt'), 'IMAGE_NOT_AN_IMAGE');
    });

    it('a raw file given as qcow2', async () => {
      await refuses(raw, 'IMAGE_NOT_AN_IMAGE', 'qcow2');
    });

    it('a truncated qcow2 (which qemu-img would convert without complaint)', async () => {
      qemuImgCli('convert', '-f', 'raw', '-O', 'qcow2', raw, at('whole.qcow2'));
      const whole = await readFile(at('whole.qcow2'));
      await writeFile(at('cut.qcow2'), whole.subarray(0, Math.floor(whole.length / 2)));
      await refuses(at('cut.qcow2'), 'IMAGE_CORRUPT');
    });

    it('a qcow2 whose backing file is /etc/passwd', async () => {
      const evil = at('evil.qcow2');
      qcow2BackedBy(evil);
      await refuses(evil, 'IMAGE_BACKING_OUTSIDE');
      await refuses(evil, 'IMAGE_BACKING_OUTSIDE', 'qcow2');
    });

    it('a qcow2 with an external data file', async () => {
      const file = at('datafile.qcow2');
      qemuImgCli('create', '-f', 'qcow2', '-o', `data_file=${at('data.raw')}`, file, '1M');
      await refuses(file, 'IMAGE_DATA_FILE');
    });

    it('a vmdk whose extent is a host file', async () => {
      const descriptor = [
        '# Disk DescriptorFile',
        'version=1',
        'CID=fffffffe',
        'parentCID=ffffffff',
        'createType="monolithicFlat"',
        'RW 1 FLAT "/etc/hostname" 0',
        '',
      ].join('\n');
      await writeFile(at('evil.vmdk'), descriptor);
      await refuses(at('evil.vmdk'), 'IMAGE_BACKING_OUTSIDE', 'vmdk');
    });

    it('a raw disk carrying a qcow2 header: refused as detected, inert when given as raw', async () => {
      const disk = await rawDiskWithQcow2Header(at('guest-disk.img'), at('h.qcow2'));
      await refuses(disk, 'IMAGE_BACKING_OUTSIDE');
      const ref = newRef();
      const version = await fx.store.import(disk, ref, { format: 'raw' });
      qemuImgCli('compare', '-f', 'raw', '-F', 'qcow2', disk, version.path);
      const info = JSON.parse(qemuImgCli('info', '--output=json', '-f', 'qcow2', version.path));
      assert.equal(info['backing-filename'], undefined);
      await fx.store.remove(ref);
    });

    it('"../" games and symlinks out of the import directory', async () => {
      await refuses(`${fx.importDir}/../../../etc/passwd`, 'IMPORT_SOURCE_OUTSIDE', 'raw');
      await refuses('../../../../etc/passwd', 'IMPORT_SOURCE_OUTSIDE', 'raw');
      await refuses('/etc/passwd', 'IMPORT_SOURCE_OUTSIDE', 'raw');
      await refuses(`${fx.importDir}/../store`, 'IMPORT_SOURCE_OUTSIDE');
      await symlink('/etc/passwd', at('link.img'));
      await refuses(at('link.img'), 'IMPORT_SOURCE_OUTSIDE', 'raw');
      await refuses(at('no-such.img'), 'FILE_NOT_FOUND', 'raw');
      // What exists outside is not told apart from what does not.
      await refuses('/etc/no-such-file', 'IMPORT_SOURCE_OUTSIDE', 'raw');
    });

    it('ids that are not UUIDs, so no name reaches a path', async () => {
      for (const profileId of ['../../etc', 'a/b', '', 'x'.repeat(36)]) {
        await assert.rejects(
          fx.store.import(raw, { profileId, versionId: newRef().versionId }),
          fails('UUID_MALFORMED', { uuid: profileId }),
        );
      }
      assert.deepEqual(await storeFiles(fx.storeRoot), []);
    });
  });
});
