import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LabvirtError } from '../../src/domain/errors.js';
import { parseImageInfo, QemuImg } from '../../src/qemu/image/qemu-img.js';
import {
  CommandNotFoundError,
  type CommandResult,
  type CommandRunner,
  type RunOptions,
} from '../../src/system/command-runner.js';
import { fails } from '../helpers/assertions.js';

type Reply = Partial<CommandResult> & { readonly chunks?: readonly string[] };

/** Records each argv and answers from a script; `onRun` can act like the program would. */
function recordingRunner(reply: Reply, onRun?: (argv: readonly string[]) => Promise<void>) {
  const calls: (readonly string[])[] = [];
  const runner: CommandRunner = {
    async run(argv: readonly string[], options: RunOptions = {}) {
      calls.push(argv);
      await onRun?.(argv);
      for (const chunk of reply.chunks ?? []) options.onStdout?.(chunk);
      return { code: 0, signal: null, stdout: '', stderr: '', ...reply };
    },
  };
  return { runner, calls };
}

const INFO = JSON.stringify({
  'virtual-size': 1048576,
  filename: '/images/vm.qcow2',
  format: 'qcow2',
  'actual-size': 200704,
  'format-specific': { type: 'qcow2', data: { compat: '1.1', 'data-file': '/d.raw' } },
  'full-backing-filename': '/images/base.img',
  'backing-filename': 'base.img',
  'backing-filename-format': 'raw',
  'dirty-flag': false,
});

describe('QemuImg argv', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'labvirt-qemu-img-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('info: explicit -f, JSON, no backing chain; -U only when asked', async () => {
    const { runner, calls } = recordingRunner({ stdout: INFO });
    const qemuImg = new QemuImg(runner);
    const info = await qemuImg.info('/images/vm.qcow2', 'qcow2');
    await qemuImg.info('/images/vm.qcow2', 'qcow2', { forceShare: true });
    await qemuImg.info('vm.qcow2', 'qcow2');
    assert.deepEqual(calls, [
      ['qemu-img', 'info', '--output=json', '-f', 'qcow2', '/images/vm.qcow2'],
      ['qemu-img', 'info', '--output=json', '-f', 'qcow2', '-U', '/images/vm.qcow2'],
      // Relative paths get "./" so "-x" or "nbd:x" cannot be read as an option or protocol.
      ['qemu-img', 'info', '--output=json', '-f', 'qcow2', './vm.qcow2'],
    ]);
    assert.deepEqual(info, {
      filename: '/images/vm.qcow2',
      format: 'qcow2',
      virtualSize: 1048576,
      actualSize: 200704,
      dirty: false,
      backingFilename: 'base.img',
      backingFormat: 'raw',
      dataFile: '/d.raw',
    });
  });

  it('info: parses vmdk extents and refuses output that is not an image info', async () => {
    const vmdk = parseImageInfo(
      JSON.stringify({
        'virtual-size': 1,
        filename: 'a.vmdk',
        format: 'vmdk',
        'format-specific': { type: 'vmdk', data: { extents: [{ filename: '/etc/shadow' }] } },
      }),
    );
    assert.deepEqual(vmdk.extents, ['/etc/shadow']);
    assert.equal(vmdk.backingFilename, undefined);
    assert.throws(() => parseImageInfo('garbage'), fails('QEMU_IMG_FAILED'));
    assert.throws(() => parseImageInfo('{"format":"raw"}'), fails('QEMU_IMG_FAILED'));
    const { runner } = recordingRunner({ stdout: INFO });
    await assert.rejects(new QemuImg(runner).info('/images/vm.qcow2', 'raw'), (error) => {
      assert.ok(error instanceof LabvirtError && error.code === 'QEMU_IMG_FAILED');
      assert.match(String(error.params['detail']), /asked for format raw, got qcow2/);
      return true;
    });
  });

  it('createOverlay: qcow2 with -F for the backing format, backing path absolute', async () => {
    const { runner, calls } = recordingRunner({});
    const qemuImg = new QemuImg(runner, '/usr/bin/qemu-img');
    const dest = path.join(dir, 'overlay.qcow2');
    await qemuImg.createOverlay(dest, '/versions/v3.qcow2', 'qcow2');
    assert.deepEqual(calls, [
      [
        '/usr/bin/qemu-img',
        'create',
        '-f',
        'qcow2',
        '-F',
        'qcow2',
        '-b',
        '/versions/v3.qcow2',
        dest,
      ],
    ]);
    await assert.rejects(
      qemuImg.createOverlay(dest, 'v3.qcow2', 'qcow2'),
      fails('PATH_INVALID', { path: 'v3.qcow2' }),
    );
    assert.equal(calls.length, 1);
  });

  it('createImage: an explicit format and the size in bytes; refuses a bad size or an existing file', async () => {
    const { runner, calls } = recordingRunner({});
    const qemuImg = new QemuImg(runner);
    const dest = path.join(dir, 'data0.scratch.qcow2');
    await qemuImg.createImage(dest, 'qcow2', 64 * 2 ** 20);
    assert.deepEqual(calls, [['qemu-img', 'create', '-f', 'qcow2', dest, '67108864']]);
    await assert.rejects(qemuImg.createImage(dest, 'qcow2', 0), fails('QEMU_IMG_FAILED'));
    await assert.rejects(qemuImg.createImage(dest, 'qcow2', 1.5), fails('QEMU_IMG_FAILED'));
    const existing = path.join(dir, 'existing.qcow2');
    await writeFile(existing, 'keep me');
    await assert.rejects(qemuImg.createImage(existing, 'qcow2', 1024), fails('PATH_INVALID'));
    assert.equal(calls.length, 1);
    assert.equal(await readFile(existing, 'utf8'), 'keep me');
  });

  it('createOverlay and convert refuse an existing destination and leave it alone', async () => {
    const dest = path.join(dir, 'precious.qcow2');
    await writeFile(dest, 'keep me');
    const { runner, calls } = recordingRunner({ code: 1, stderr: 'qemu-img: boom\n' });
    const qemuImg = new QemuImg(runner);
    await assert.rejects(
      qemuImg.createOverlay(dest, '/b.img', 'raw'),
      fails('PATH_INVALID', { path: dest, reason: 'it already exists' }),
    );
    await assert.rejects(qemuImg.convert('/a.img', 'raw', dest, 'qcow2'), fails('PATH_INVALID'));
    assert.deepEqual(calls, []);
    assert.equal(await readFile(dest, 'utf8'), 'keep me');
  });

  it('convert: -p, -f and -O, reports progress up to 100', async () => {
    const { runner, calls } = recordingRunner({
      chunks: ['    (0.00/100%)\r    (33.', '00/100%)\r', '    (100.00/100%)\r\n'],
    });
    const dest = path.join(dir, 'converted.qcow2');
    const seen: number[] = [];
    await new QemuImg(runner).convert('/in.vmdk', 'vmdk', dest, 'qcow2', {
      onProgress: (percent) => seen.push(percent),
    });
    assert.deepEqual(calls, [
      ['qemu-img', 'convert', '-p', '-f', 'vmdk', '-O', 'qcow2', '/in.vmdk', dest],
    ]);
    assert.deepEqual(seen, [0, 33, 100]);
  });

  it('convert: a failure removes the partial destination and reports stderr', async () => {
    const dest = path.join(dir, 'partial.qcow2');
    const { runner } = recordingRunner(
      {
        code: 1,
        stderr: '\nqemu-img: error while writing at byte 0: No space left on device\nmore\n',
      },
      (argv) => writeFile(argv.at(-1) ?? '', 'half'),
    );
    await assert.rejects(
      new QemuImg(runner).convert('/in.img', 'raw', dest, 'qcow2'),
      fails('QEMU_IMG_FAILED', {
        operation: 'convert',
        detail: 'error while writing at byte 0: No space left on device',
      }),
    );
    await assert.rejects(stat(dest), { code: 'ENOENT' });
  });

  it('check: explicit -f; exit 0 and 3 (leaks) are ok, 2 is not, 63 means unsupported', async () => {
    const json = (extra: object): string =>
      JSON.stringify({ filename: 'x', format: 'qcow2', 'check-errors': 0, ...extra });
    const clean = recordingRunner({ stdout: json({ 'image-end-offset': 262144 }) });
    assert.deepEqual(await new QemuImg(clean.runner).check('/i/x.qcow2', 'qcow2'), {
      ok: true,
      supported: true,
      corruptions: 0,
      leaks: 0,
      checkErrors: 0,
      imageEndOffset: 262144,
    });
    assert.deepEqual(clean.calls, [
      ['qemu-img', 'check', '--output=json', '-f', 'qcow2', '/i/x.qcow2'],
    ]);
    const leaks = recordingRunner({ code: 3, stdout: json({ leaks: 5 }) });
    const leaky = await new QemuImg(leaks.runner).check('/i/x.qcow2', 'qcow2');
    assert.equal(leaky.ok, true);
    assert.equal(leaky.leaks, 5);
    const corrupt = recordingRunner({ code: 2, stdout: json({ corruptions: 2, leaks: 1 }) });
    const bad = await new QemuImg(corrupt.runner).check('/i/x.qcow2', 'qcow2');
    assert.equal(bad.ok, false);
    assert.equal(bad.corruptions, 2);
    // The exit code alone is enough to fail the check.
    const terse = recordingRunner({ code: 2, stdout: json({}) });
    assert.equal((await new QemuImg(terse.runner).check('/i/x.qcow2', 'qcow2')).ok, false);
    const raw = recordingRunner({ code: 63, stderr: 'qemu-img: not supported\n' });
    const unchecked = await new QemuImg(raw.runner).check('/i/x.img', 'raw');
    assert.deepEqual([unchecked.ok, unchecked.supported], [true, false]);
    const error = recordingRunner({ code: 1, stderr: 'qemu-img: Check failed\n' });
    await assert.rejects(
      new QemuImg(error.runner).check('/i/x.qcow2', 'qcow2'),
      fails('QEMU_IMG_FAILED', { operation: 'check', detail: 'Check failed' }),
    );
  });

  it('maps a missing binary to QEMU_NOT_INSTALLED and a signal to QEMU_IMG_FAILED', async () => {
    const missing: CommandRunner = {
      run: (argv) => Promise.reject(new CommandNotFoundError(argv[0] ?? '')),
    };
    await assert.rejects(
      new QemuImg(missing).info('/x.img', 'raw'),
      fails('QEMU_NOT_INSTALLED', { binary: 'qemu-img', package: 'qemu-utils' }),
    );
    const killed = recordingRunner({ code: null, signal: 'SIGKILL' });
    await assert.rejects(
      new QemuImg(killed.runner).info('/x.img', 'raw'),
      fails('QEMU_IMG_FAILED', { operation: 'info', detail: 'killed by SIGKILL' }),
    );
  });
});
