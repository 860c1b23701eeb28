// Small pure parts of the image store: overall progress over phases, what a failure
// means (full disk, image lock), and the relative backing argument given to qemu-img.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LabvirtError } from '../../src/domain/errors.js';
import { PhasedProgress } from '../../src/images/phased-progress.js';
import { storeFailure } from '../../src/images/store-errors.js';
import { QemuImg } from '../../src/qemu/image/qemu-img.js';
import type { CommandRunner } from '../../src/system/command-runner.js';
import { fails } from '../helpers/assertions.js';

describe('phased progress', () => {
  it('maps each phase onto its share, only ever goes up, and ends at 100', () => {
    const seen: number[] = [];
    const progress = new PhasedProgress(
      [
        ['convert', 80],
        ['hash', 20],
      ],
      (percent) => seen.push(percent),
    );
    progress.report('convert', 0);
    progress.report('convert', 50);
    progress.report('convert', 25); // qemu-img stepping back between passes
    progress.report('convert', 100);
    progress.report('hash', 50);
    progress.report('hash', 100);
    progress.report('hash', 100);
    progress.finish();
    progress.finish();
    assert.deepEqual(seen, [0, 40, 80, 90, 99.99, 100]);
  });

  it('ignores unknown phases and nonsense percentages', () => {
    const seen: number[] = [];
    const progress = new PhasedProgress([['a', 1]], (percent) => seen.push(percent));
    progress.report('b' as 'a', 50);
    progress.report('a', Number.NaN);
    progress.report('a', 250);
    assert.deepEqual(seen, [0, 99.99]);
  });
});

describe('store failures', () => {
  const context = { root: '/store', operation: 'import', path: 'versions/p/v.qcow2' };

  it('a full file system, from qemu-img or from the kernel', () => {
    const fromQemuImg = new LabvirtError('QEMU_IMG_FAILED', {
      operation: 'convert',
      detail: 'error while writing at byte 8388608: No space left on device',
    });
    assert.ok(
      fails('IMAGE_STORE_FULL', { root: '/store', operation: 'import' })(
        storeFailure(fromQemuImg, context),
      ),
    );
    const errno = Object.assign(new Error('ENOSPC: no space left'), { code: 'ENOSPC' });
    assert.ok(fails('IMAGE_STORE_FULL', { detail: 'ENOSPC' })(storeFailure(errno, context)));
  });

  it("QEMU's image lock", () => {
    const locked = new LabvirtError('QEMU_IMG_FAILED', {
      operation: 'check',
      detail: `Could not open 'x.qcow2': Failed to get shared "write" lock`,
    });
    assert.ok(fails('IMAGE_IN_USE', { path: 'versions/p/v.qcow2' })(storeFailure(locked, context)));
  });

  it('anything else unchanged', () => {
    const other = new LabvirtError('QEMU_IMG_FAILED', { operation: 'convert', detail: 'boom' });
    assert.equal(storeFailure(other, context), other);
    const plain = new Error('x');
    assert.equal(storeFailure(plain, context), plain);
  });
});

describe('qemu-img create with a relative backing file', () => {
  const recording = () => {
    const calls: (readonly string[])[] = [];
    const runner: CommandRunner = {
      run: async (argv) => {
        calls.push(argv);
        return { code: 0, signal: null, stdout: '', stderr: '' };
      },
    };
    return { calls, qemuImg: new QemuImg(runner, 'qemu-img') };
  };

  it('records the name as given, with its format', async () => {
    const { calls, qemuImg } = recording();
    const backing = '../../versions/p/v.qcow2';
    await qemuImg.createOverlay('/nonexistent-dir/l.qcow2', backing, 'qcow2', {
      relativeBacking: true,
    });
    assert.deepEqual(calls, [
      [
        'qemu-img',
        'create',
        '-f',
        'qcow2',
        '-F',
        'qcow2',
        '-b',
        backing,
        '/nonexistent-dir/l.qcow2',
      ],
    ]);
  });

  it('refuses an absolute, empty or protocol name when a relative one is asked for', async () => {
    const { calls, qemuImg } = recording();
    for (const backing of ['/abs.qcow2', '', 'nbd:host:10809', 'json:{}']) {
      await assert.rejects(
        qemuImg.createOverlay('/nonexistent-dir/l.qcow2', backing, 'qcow2', {
          relativeBacking: true,
        }),
        fails('PATH_INVALID', { path: backing }),
      );
    }
    assert.deepEqual(calls, []);
  });
});
