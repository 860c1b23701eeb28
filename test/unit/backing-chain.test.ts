import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fails } from '../helpers/assertions.js';
import { isInsideDirs, verifyImageChain } from '../../src/qemu/image/backing-chain.js';
import type { ImageFormat } from '../../src/qemu/image/image-format.js';
import type { ImageInfo } from '../../src/qemu/image/qemu-img.js';

type Layer = Omit<ImageInfo, 'filename' | 'format' | 'virtualSize' | 'dirty'> & {
  readonly format: ImageFormat;
};

/** A fake `info` over a table of images; it records every call and fails on unknown paths. */
function fakeImages(images: Record<string, Layer>) {
  const calls: string[] = [];
  const info = (file: string, format: ImageFormat): Promise<ImageInfo> => {
    calls.push(`${file} ${format}`);
    const image = images[file];
    if (image === undefined) return Promise.reject(new Error(`fake: no image ${file}`));
    assert.equal(format, image.format, `opened ${file} as ${format}`);
    return Promise.resolve({ ...image, filename: file, virtualSize: 1 << 20, dirty: false });
  };
  return { info, calls };
}

// Pure tests: paths resolve lexically, no file system involved.
const lexical = (p: string): Promise<string> => Promise.resolve(path.resolve(p));

describe('verifyImageChain (fake info)', () => {
  const options = { allowedDirs: ['/images', '/versions/'], realpath: lexical };

  it('returns every layer, top first, opening each with its recorded format', async () => {
    const { info, calls } = fakeImages({
      '/images/vm.qcow2': { format: 'qcow2', backingFilename: 'v2.qcow2', backingFormat: 'qcow2' },
      '/images/v2.qcow2': {
        format: 'qcow2',
        backingFilename: '/versions/base.vmdk',
        backingFormat: 'vmdk',
        actualSize: 4096,
      },
      '/versions/base.vmdk': { format: 'vmdk', extents: ['/versions/base.vmdk'] },
    });
    const chain = await verifyImageChain('/images/vm.qcow2', 'qcow2', { ...options, info });
    assert.deepEqual(
      chain.map((layer) => [layer.path, layer.realPath, layer.format, layer.actualSize]),
      [
        ['/images/vm.qcow2', '/images/vm.qcow2', 'qcow2', undefined],
        ['/images/v2.qcow2', '/images/v2.qcow2', 'qcow2', 4096],
        ['/versions/base.vmdk', '/versions/base.vmdk', 'vmdk', undefined],
      ],
    );
    assert.equal(chain[0]?.virtualSize, 1 << 20);
    assert.deepEqual(calls, [
      '/images/vm.qcow2 qcow2',
      '/images/v2.qcow2 qcow2',
      '/versions/base.vmdk vmdk',
    ]);
  });

  it('refuses a backing file outside the dirs without opening it', async () => {
    for (const backing of ['/etc/passwd', '../etc/shadow', 'sub/../../../etc/shadow']) {
      const { info, calls } = fakeImages({
        '/images/vm.qcow2': { format: 'qcow2', backingFilename: backing, backingFormat: 'raw' },
      });
      await assert.rejects(
        verifyImageChain('/images/vm.qcow2', 'qcow2', { ...options, info }),
        fails('IMAGE_BACKING_OUTSIDE', { path: '/images/vm.qcow2', backing }),
      );
      assert.deepEqual(calls, ['/images/vm.qcow2 qcow2'], backing);
    }
  });

  it('checks the directory prefix with a separator, not as a bare string', async () => {
    assert.equal(isInsideDirs('/images-evil/x', ['/images']), false);
    assert.equal(isInsideDirs('/images', ['/images']), false);
    assert.equal(isInsideDirs('/images/x', ['/images']), true);
    assert.equal(isInsideDirs('/x', ['/']), true);
    const { info, calls } = fakeImages({
      '/images/vm.qcow2': {
        format: 'qcow2',
        backingFilename: '/images-evil/base.raw',
        backingFormat: 'raw',
      },
    });
    await assert.rejects(
      verifyImageChain('/images/vm.qcow2', 'qcow2', { ...options, info }),
      fails('IMAGE_BACKING_OUTSIDE', { backing: '/images-evil/base.raw' }),
    );
    assert.equal(calls.length, 1);
  });

  it('refuses a top image outside the dirs before opening it', async () => {
    const { info, calls } = fakeImages({ '/tmp/vm.qcow2': { format: 'qcow2' } });
    await assert.rejects(
      verifyImageChain('/tmp/vm.qcow2', 'qcow2', { ...options, info }),
      fails('PATH_INVALID', { path: '/tmp/vm.qcow2' }),
    );
    assert.deepEqual(calls, []);
  });

  it('refuses protocol backings (nbd:, json:) even though they look relative', async () => {
    for (const backing of ['nbd:localhost:10809', 'json:{"file.filename":"/etc/passwd"}']) {
      const { info, calls } = fakeImages({
        '/images/vm.qcow2': { format: 'qcow2', backingFilename: backing, backingFormat: 'raw' },
      });
      await assert.rejects(
        verifyImageChain('/images/vm.qcow2', 'qcow2', { ...options, info }),
        fails('IMAGE_BACKING_OUTSIDE', { backing }),
      );
      assert.equal(calls.length, 1);
    }
  });

  it('refuses a backing file whose format is not recorded, or not allowed', async () => {
    const missing = fakeImages({
      '/images/vm.qcow2': { format: 'qcow2', backingFilename: 'base.img' },
      '/images/base.img': { format: 'raw' },
    });
    await assert.rejects(
      verifyImageChain('/images/vm.qcow2', 'qcow2', { ...options, info: missing.info }),
      fails('IMAGE_BACKING_FORMAT_MISSING', { path: '/images/vm.qcow2', backing: 'base.img' }),
    );
    assert.equal(missing.calls.length, 1);
    const vvfat = fakeImages({
      '/images/vm.qcow2': { format: 'qcow2', backingFilename: 'dir', backingFormat: 'vvfat' },
    });
    await assert.rejects(
      verifyImageChain('/images/vm.qcow2', 'qcow2', { ...options, info: vvfat.info }),
      fails('IMAGE_FORMAT_UNKNOWN', { format: 'vvfat' }),
    );
    assert.equal(vvfat.calls.length, 1);
  });

  it('refuses an external data file, even inside the dirs', async () => {
    const { info } = fakeImages({
      '/images/vm.qcow2': { format: 'qcow2', backingFilename: 'b.qcow2', backingFormat: 'qcow2' },
      '/images/b.qcow2': { format: 'qcow2', dataFile: '/images/b.data' },
    });
    await assert.rejects(
      verifyImageChain('/images/vm.qcow2', 'qcow2', { ...options, info }),
      fails('IMAGE_DATA_FILE', { path: '/images/b.qcow2' }),
    );
  });

  it('refuses a vmdk extent outside the dirs', async () => {
    const { info } = fakeImages({
      '/images/evil.vmdk': { format: 'vmdk', extents: ['/images/evil-s001.vmdk', '/etc/shadow'] },
    });
    await assert.rejects(
      verifyImageChain('/images/evil.vmdk', 'vmdk', { ...options, info }),
      fails('IMAGE_BACKING_OUTSIDE', { path: '/images/evil.vmdk', backing: '/etc/shadow' }),
    );
  });

  it('caps the depth, which also stops a backing loop', async () => {
    const images: Record<string, Layer> = {};
    for (let i = 0; i < 40; i++) {
      images[`/images/l${i}.qcow2`] = {
        format: 'qcow2',
        ...(i < 39 ? { backingFilename: `l${i + 1}.qcow2`, backingFormat: 'qcow2' } : {}),
      };
    }
    const deep = fakeImages(images);
    await assert.rejects(
      verifyImageChain('/images/l0.qcow2', 'qcow2', { ...options, info: deep.info }),
      fails('IMAGE_CHAIN_TOO_DEEP', { path: '/images/l0.qcow2', max: 32 }),
    );
    assert.equal(deep.calls.length, 32);
    const ok = await verifyImageChain('/images/l37.qcow2', 'qcow2', {
      ...options,
      info: deep.info,
      maxDepth: 3,
    });
    assert.equal(ok.length, 3);
    await assert.rejects(
      verifyImageChain('/images/l36.qcow2', 'qcow2', { ...options, info: deep.info, maxDepth: 3 }),
      fails('IMAGE_CHAIN_TOO_DEEP', { max: 3 }),
    );
    const loop = fakeImages({
      '/images/a.qcow2': { format: 'qcow2', backingFilename: 'b.qcow2', backingFormat: 'qcow2' },
      '/images/b.qcow2': { format: 'qcow2', backingFilename: 'a.qcow2', backingFormat: 'qcow2' },
    });
    await assert.rejects(
      verifyImageChain('/images/a.qcow2', 'qcow2', { ...options, info: loop.info }),
      fails('IMAGE_CHAIN_TOO_DEEP'),
    );
  });
});

describe('verifyImageChain (real files, symlinks)', () => {
  let root = '';
  let allowed = '';
  let outside = '';
  before(async () => {
    root = await realpath(await mkdtemp(path.join(os.tmpdir(), 'labvirt-chain-')));
    allowed = path.join(root, 'images');
    outside = path.join(root, 'outside');
    await mkdir(allowed);
    await mkdir(path.join(outside, 'deep'), { recursive: true });
    for (const file of ['images/vm.qcow2', 'images/secret.img', 'outside/secret.img']) {
      await writeFile(path.join(root, file), '');
    }
    await symlink(path.join(outside, 'secret.img'), path.join(allowed, 'link.img'));
    await symlink(path.join(outside, 'deep'), path.join(allowed, 'sub'));
    await symlink(allowed, path.join(root, 'images-link'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  function topWithBacking(backing: string) {
    return fakeImages({
      [path.join(allowed, 'vm.qcow2')]: {
        format: 'qcow2',
        backingFilename: backing,
        backingFormat: 'raw',
      },
      [path.join(allowed, 'secret.img')]: { format: 'raw' },
    });
  }

  it('refuses a symlink inside the dir that leads outside', async () => {
    const { info, calls } = topWithBacking('link.img');
    await assert.rejects(
      verifyImageChain(path.join(allowed, 'vm.qcow2'), 'qcow2', { allowedDirs: [allowed], info }),
      fails('IMAGE_BACKING_OUTSIDE', { backing: 'link.img' }),
    );
    assert.equal(calls.length, 1);
  });

  it('resolves ".." after a symlinked dir the way the kernel does, not lexically', async () => {
    // Lexically images/sub/../secret.img is images/secret.img (which exists); in fact
    // sub is outside/deep, so QEMU would open outside/secret.img.
    const { info, calls } = topWithBacking('sub/../secret.img');
    await assert.rejects(
      verifyImageChain(path.join(allowed, 'vm.qcow2'), 'qcow2', { allowedDirs: [allowed], info }),
      fails('IMAGE_BACKING_OUTSIDE', { backing: 'sub/../secret.img' }),
    );
    assert.equal(calls.length, 1);
  });

  it('accepts images reached through a symlinked allowed dir', async () => {
    const linkDir = path.join(root, 'images-link');
    const { info } = fakeImages({
      [path.join(linkDir, 'vm.qcow2')]: {
        format: 'qcow2',
        backingFilename: 'secret.img',
        backingFormat: 'raw',
      },
      [path.join(linkDir, 'secret.img')]: { format: 'raw' },
    });
    const chain = await verifyImageChain(path.join(linkDir, 'vm.qcow2'), 'qcow2', {
      allowedDirs: [linkDir],
      info,
    });
    assert.deepEqual(
      chain.map((layer) => layer.realPath),
      [path.join(allowed, 'vm.qcow2'), path.join(allowed, 'secret.img')],
    );
  });

  it('says "not found" for a missing backing inside, "outside" for one outside', async () => {
    const inside = topWithBacking('gone.img');
    await assert.rejects(
      verifyImageChain(path.join(allowed, 'vm.qcow2'), 'qcow2', {
        allowedDirs: [allowed],
        info: inside.info,
      }),
      fails('FILE_NOT_FOUND', { what: 'backing file', path: path.join(allowed, 'gone.img') }),
    );
    const far = topWithBacking('/nonexistent/secret.img');
    await assert.rejects(
      verifyImageChain(path.join(allowed, 'vm.qcow2'), 'qcow2', {
        allowedDirs: [allowed],
        info: far.info,
      }),
      fails('IMAGE_BACKING_OUTSIDE', { backing: '/nonexistent/secret.img' }),
    );
  });
});
