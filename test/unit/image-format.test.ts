import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  detectFormatFromHeader,
  detectImageFormat,
  imageFormats,
  parseImageFormat,
} from '../../src/qemu/image/image-format.js';
import { fails } from '../helpers/assertions.js';

function header(bytes: number[] | string, length = 512): Buffer {
  const buffer = Buffer.alloc(length);
  (typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes)).copy(buffer);
  return buffer;
}

describe('parseImageFormat', () => {
  it('accepts each supported format, case-insensitively', () => {
    assert.deepEqual([...imageFormats], ['qcow2', 'raw', 'vmdk', 'vdi', 'vhdx']);
    for (const format of imageFormats) assert.equal(parseImageFormat(format), format);
    assert.equal(parseImageFormat(' QCOW2 '), 'qcow2');
  });

  it('refuses formats QEMU knows but LabVirt does not allow', () => {
    for (const format of ['vvfat', 'qed', 'luks', 'host_device', 'json', '']) {
      assert.throws(
        () => parseImageFormat(format),
        fails('IMAGE_FORMAT_UNKNOWN', { format, allowed: 'qcow2, raw, vmdk, vdi, vhdx' }),
      );
    }
  });
});

describe('detectFormatFromHeader', () => {
  it('recognises the magic of qcow2, vmdk and vhdx at offset 0', () => {
    assert.equal(detectFormatFromHeader(header([0x51, 0x46, 0x49, 0xfb]), 7), 'qcow2');
    assert.equal(detectFormatFromHeader(header('KDMV'), 7), 'vmdk');
    assert.equal(detectFormatFromHeader(header('vhdxfile'), 7), 'vhdx');
  });

  it('recognises the vdi signature at 0x40, little-endian', () => {
    const vdi = header('<<< Oracle VM VirtualBox Disk Image >>>\n');
    vdi.writeUInt32LE(0xbeda107f, 0x40);
    assert.equal(detectFormatFromHeader(vdi, 1000), 'vdi');
    const bigEndian = header([]);
    bigEndian.writeUInt32BE(0xbeda107f, 0x40);
    assert.equal(detectFormatFromHeader(bigEndian, 1000 * 512), 'raw');
  });

  it('does not take a near miss or a magic at another offset for a format', () => {
    assert.equal(detectFormatFromHeader(header([0x51, 0x46, 0x49, 0xfa]), 512), 'raw');
    assert.equal(detectFormatFromHeader(header('xKDMV'), 512), 'raw');
    assert.equal(detectFormatFromHeader(header('vhdxfil'), 512), 'raw');
  });

  it('takes anything else as raw only when it is whole 512-byte sectors', () => {
    assert.equal(detectFormatFromHeader(header('hello'), 512), 'raw');
    assert.equal(detectFormatFromHeader(header('hello'), 64 * 1024 * 1024), 'raw');
    assert.throws(
      () => detectFormatFromHeader(Buffer.from('hello\n'), 6, '/x/notes.txt'),
      fails('IMAGE_NOT_AN_IMAGE', {
        path: '/x/notes.txt',
        reason: 'its size 6 bytes is not a whole number of 512-byte sectors',
      }),
    );
    assert.throws(
      () => detectFormatFromHeader(Buffer.alloc(0), 0, '/x/empty'),
      fails('IMAGE_NOT_AN_IMAGE', { path: '/x/empty', reason: 'it is empty' }),
    );
    assert.throws(() => detectFormatFromHeader(header([]), 513), fails('IMAGE_NOT_AN_IMAGE'));
  });

  it('copes with a header shorter than the signatures', () => {
    assert.throws(() => detectFormatFromHeader(Buffer.from('QF'), 2), fails('IMAGE_NOT_AN_IMAGE'));
    assert.equal(detectFormatFromHeader(Buffer.from([0x51, 0x46, 0x49, 0xfb]), 4), 'qcow2');
  });
});

describe('detectImageFormat (files)', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'labvirt-detect-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the header and the size of a file', async () => {
    const raw = path.join(dir, 'disk.img');
    await writeFile(raw, Buffer.alloc(4096, 0x41));
    assert.equal(await detectImageFormat(raw), 'raw');
    const qcow2 = path.join(dir, 'disk.qcow2');
    await writeFile(qcow2, header([0x51, 0x46, 0x49, 0xfb], 1000));
    assert.equal(await detectImageFormat(qcow2), 'qcow2');
    const text = path.join(dir, 'notes.txt');
    await writeFile(text, 'not a disk\n');
    await assert.rejects(
      detectImageFormat(text),
      fails('IMAGE_NOT_AN_IMAGE', {
        path: text,
        reason: 'its size 11 bytes is not a whole number of 512-byte sectors',
      }),
    );
  });

  it('maps a missing file, a directory and a FIFO to file errors', async () => {
    const missing = path.join(dir, 'missing.img');
    await assert.rejects(
      detectImageFormat(missing),
      fails('FILE_NOT_FOUND', { what: 'disk image', path: missing }),
    );
    const sub = path.join(dir, 'sub');
    await mkdir(sub);
    await assert.rejects(detectImageFormat(sub), fails('FILE_NOT_REGULAR', { path: sub }));
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // Must not hang waiting for a writer.
    await assert.rejects(detectImageFormat(fifo), fails('FILE_NOT_REGULAR', { path: fifo }));
  });

  it('maps a file it may not read to FILE_UNREADABLE', async () => {
    const secret = path.join(dir, 'secret.img');
    await writeFile(secret, Buffer.alloc(512));
    await chmod(secret, 0o000);
    if (process.getuid?.() !== 0) {
      await assert.rejects(
        detectImageFormat(secret),
        fails('FILE_UNREADABLE', { path: secret, reason: 'permission denied' }),
      );
      return;
    }
    // Root reads any file: ask as the unprivileged "nobody" (glibc switches every thread).
    await chmod(dir, 0o755);
    process.seteuid?.(65534);
    try {
      await assert.rejects(
        detectImageFormat(secret),
        fails('FILE_UNREADABLE', { path: secret, reason: 'permission denied' }),
      );
    } finally {
      process.seteuid?.(0);
    }
  });
});
