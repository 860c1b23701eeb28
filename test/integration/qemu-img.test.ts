// The real qemu-img on temporary files: what the unit tests' fakes assume about its
// arguments, JSON and progress output has to hold for the installed version too.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, open, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LabvirtError } from '../../src/domain/errors.js';
import { verifyImageChain } from '../../src/qemu/image/backing-chain.js';
import { detectImageFormat, type ImageFormat } from '../../src/qemu/image/image-format.js';
import { QemuImg } from '../../src/qemu/image/qemu-img.js';
import { fails } from '../helpers/assertions.js';
import { qcow2BackedBy, qemuImgCli, rawDiskWithQcow2Header } from '../helpers/hostile-images.js';

async function sha256(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
}

const MIB = 1024 * 1024;

describe('qemu-img (real)', () => {
  const qemuImg = new QemuImg();
  let dir = '';
  const at = (name: string): string => path.join(dir, name);
  const chainOptions = () => ({
    allowedDirs: [dir],
    info: (file: string, format: ImageFormat) => qemuImg.info(file, format),
  });

  before(async () => {
    dir = await realpath(await mkdtemp(path.join(os.tmpdir(), 'labvirt-qemu-img-')));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the info of a raw and a qcow2 image', async () => {
    qemuImgCli('create', '-f', 'raw', at('disk.img'), '2M');
    qemuImgCli('create', '-f', 'qcow2', at('disk.qcow2'), '3M');
    const raw = await qemuImg.info(at('disk.img'), 'raw');
    assert.equal(raw.format, 'raw');
    assert.equal(raw.virtualSize, 2 * MIB);
    assert.equal(raw.backingFilename, undefined);
    const qcow2 = await qemuImg.info(at('disk.qcow2'), 'qcow2', { forceShare: true });
    assert.equal(qcow2.format, 'qcow2');
    assert.equal(qcow2.virtualSize, 3 * MIB);
    assert.equal(qcow2.dirty, false);
    assert.ok((qcow2.actualSize ?? 0) > 0);
    await assert.rejects(
      qemuImg.info(at('disk.img'), 'qcow2'),
      fails('QEMU_IMG_FAILED', { operation: 'info' }),
    );
  });

  it('creates an overlay that records its backing file and format', async () => {
    qemuImgCli('create', '-f', 'qcow2', at('base.qcow2'), '4M');
    await qemuImg.createOverlay(at('overlay.qcow2'), at('base.qcow2'), 'qcow2');
    const info = await qemuImg.info(at('overlay.qcow2'), 'qcow2');
    assert.equal(info.backingFilename, at('base.qcow2'));
    assert.equal(info.backingFormat, 'qcow2');
    assert.equal(info.virtualSize, 4 * MIB);
    const chain = await verifyImageChain(at('overlay.qcow2'), 'qcow2', chainOptions());
    assert.deepEqual(
      chain.map((layer) => [layer.path, layer.format]),
      [
        [at('overlay.qcow2'), 'qcow2'],
        [at('base.qcow2'), 'qcow2'],
      ],
    );
  });

  it('fails cleanly when the backing file cannot be opened, leaving no overlay', async () => {
    await assert.rejects(
      qemuImg.createOverlay(at('orphan.qcow2'), at('no-such-base.img'), 'raw'),
      fails('QEMU_IMG_FAILED', { operation: 'create' }),
    );
    await assert.rejects(stat(at('orphan.qcow2')), { code: 'ENOENT' });
  });

  it('converts 64 MiB raw to qcow2 with progress, preserving the data', async () => {
    const source = at('big.img');
    const file = await open(source, 'w');
    await file.truncate(64 * MIB);
    // Scattered non-zero data, and a sparse rest.
    for (const offset of [0, 5 * MIB + 123, 31 * MIB, 64 * MIB - 4096]) {
      await file.write(createHash('sha256').update(String(offset)).digest(), 0, 32, offset);
    }
    await file.write(Buffer.alloc(MIB, 0x5a), 0, MIB, 40 * MIB);
    await file.close();
    const seen: number[] = [];
    await qemuImg.convert(source, 'raw', at('big.qcow2'), 'qcow2', {
      onProgress: (percent) => seen.push(percent),
    });
    assert.ok(seen.length >= 1);
    assert.equal(seen.at(-1), 100);
    assert.deepEqual(
      seen,
      [...seen].sort((a, b) => a - b),
    );
    const info = await qemuImg.info(at('big.qcow2'), 'qcow2');
    assert.equal(info.virtualSize, 64 * MIB);
    // Same content, checked two ways: qemu-img compare, and back to raw byte for byte.
    qemuImgCli('compare', '-f', 'raw', '-F', 'qcow2', source, at('big.qcow2'));
    await qemuImg.convert(at('big.qcow2'), 'qcow2', at('back.img'), 'raw');
    assert.equal(await sha256(at('back.img')), await sha256(source));
  });

  it("fails a conversion from a missing source with qemu-img's message", async () => {
    await assert.rejects(
      qemuImg.convert(at('nothing.img'), 'raw', at('out.qcow2'), 'qcow2'),
      (error) => {
        assert.ok(error instanceof LabvirtError && error.code === 'QEMU_IMG_FAILED');
        assert.match(String(error.params['detail']), /^Could not open .*nothing\.img/);
        return true;
      },
    );
    await assert.rejects(stat(at('out.qcow2')), { code: 'ENOENT' });
  });

  it('checks a fresh qcow2 as ok, and a raw image as not checkable', async () => {
    qemuImgCli('create', '-f', 'qcow2', at('fresh.qcow2'), '1M');
    const result = await qemuImg.check(at('fresh.qcow2'), 'qcow2');
    assert.deepEqual(
      [result.ok, result.supported, result.corruptions, result.leaks],
      [true, true, 0, 0],
    );
    qemuImgCli('create', '-f', 'raw', at('plain.img'), '1M');
    assert.equal((await qemuImg.check(at('plain.img'), 'raw')).supported, false);
  });

  it('refuses a qcow2 whose backing file is /etc/passwd', async () => {
    qcow2BackedBy(at('evil.qcow2'));
    await assert.rejects(
      verifyImageChain(at('evil.qcow2'), 'qcow2', chainOptions()),
      fails('IMAGE_BACKING_OUTSIDE', { path: at('evil.qcow2'), backing: '/etc/passwd' }),
    );
  });

  it('refuses a qcow2 with an external data file', async () => {
    const options = `data_file=${at('evil.data')}`;
    qemuImgCli('create', '-f', 'qcow2', '-o', options, at('datafile.qcow2'), '1M');
    await assert.rejects(
      verifyImageChain(at('datafile.qcow2'), 'qcow2', chainOptions()),
      fails('IMAGE_DATA_FILE', { path: at('datafile.qcow2') }),
    );
  });

  it('refuses a vmdk descriptor whose extent is a host file', async () => {
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
    await assert.rejects(
      verifyImageChain(at('evil.vmdk'), 'vmdk', chainOptions()),
      fails('IMAGE_BACKING_OUTSIDE', { path: at('evil.vmdk'), backing: '/etc/hostname' }),
    );
  });

  it('detects formats by header for manual use, and refuses a text file', async () => {
    for (const format of ['qcow2', 'vmdk', 'vdi', 'vhdx', 'raw'] as const) {
      qemuImgCli('create', '-f', format, at(`detect.${format}`), '1M');
      assert.equal(await detectImageFormat(at(`detect.${format}`)), format);
    }
    await writeFile(at('readme.txt'), 'This is not a disk.\n');
    await assert.rejects(
      detectImageFormat(at('readme.txt')),
      fails('IMAGE_NOT_AN_IMAGE', { path: at('readme.txt') }),
    );
  });

  it('why recorded formats matter: a raw disk holding a qcow2 header', async () => {
    // A guest can write anything to its raw disk, including the header of a qcow2 whose
    // backing file is /etc/passwd. Detection (manual CLI use only) then says qcow2; the
    // image store's recorded format, raw, is what keeps the header inert.
    const disk = await rawDiskWithQcow2Header(at('guest-disk.img'), at('h.qcow2'));
    assert.equal(await detectImageFormat(disk), 'qcow2');
    const asRecorded = await qemuImg.info(disk, 'raw');
    assert.equal(asRecorded.backingFilename, undefined);
    assert.equal((await verifyImageChain(disk, 'raw', chainOptions())).length, 1);
  });

  it('reports a missing qemu-img as QEMU_NOT_INSTALLED', async () => {
    await assert.rejects(
      new QemuImg(undefined, 'qemu-img-labvirt-missing').info(at('disk.img'), 'raw'),
      fails('QEMU_NOT_INSTALLED', { binary: 'qemu-img-labvirt-missing', package: 'qemu-utils' }),
    );
  });
});
