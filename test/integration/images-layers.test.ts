// Layers, seals, flattening and removal in the image store, on real qemu-img.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ImageStore, type SealedVersion } from '../../src/images/image-store.js';
import { StoreOverlayMaker } from '../../src/images/store-overlays.js';
import type { VersionRef } from '../../src/images/store-layout.js';
import { QemuImg } from '../../src/qemu/image/qemu-img.js';
import { fails } from '../helpers/assertions.js';
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

function info(path: string): Record<string, unknown> {
  return JSON.parse(qemuImgCli('info', '-U', '--output=json', '-f', 'qcow2', path)) as Record<
    string,
    unknown
  >;
}

/** Writes `byte` over one MiB at `offset` MiB of a writable qcow2 (as a guest would). */
function guestWrite(path: string, offsetMiB: number, byte: number): void {
  const command = `write -P ${byte} ${offsetMiB * MIB} ${MIB}`;
  execFileSync('qemu-io', ['-f', 'qcow2', '-c', command, path], { stdio: 'ignore' });
}

/** The byte the guest sees at `offset` MiB of the image's chain. */
function guestRead(path: string, offsetMiB: number, byte: number): boolean {
  try {
    execFileSync(
      'qemu-io',
      ['-r', '-U', '-f', 'qcow2', '-c', `read -P ${byte} ${offsetMiB * MIB} ${MIB}`, path],
      {
        stdio: 'pipe',
        encoding: 'utf8',
      },
    );
    return true;
  } catch {
    return false;
  }
}

describe('image store: layers, seal, flatten, remove', () => {
  let fx: StoreFixture;
  let base: SealedVersion;
  const profile = newRef().profileId;

  before(async () => {
    fx = await storeFixture();
    const raw = join(fx.importDir, 'base.img');
    qemuImgCli('create', '-f', 'raw', raw, '8M');
    execFileSync('qemu-io', ['-f', 'raw', '-c', `write -P 1 0 ${MIB}`, raw], { stdio: 'ignore' });
    base = await fx.store.import(raw, newRef(profile), { format: 'raw' });
  });
  after(async () => fx.cleanup());

  it('makes a writable layer with a relative backing path and an explicit format', async () => {
    const ref = newRef(profile);
    const draft = await fx.store.createLayer(base.ref, ref);
    assert.equal(draft.chainDepth, 2);
    assert.equal((await stat(draft.path)).mode & 0o777, 0o644);
    const layer = info(draft.path);
    assert.equal(layer['backing-filename'], `../../${base.file}`);
    assert.equal(layer['backing-filename-format'], 'qcow2');
    assert.equal(layer['virtual-size'], 8 * MIB);
    assert.equal(await fx.store.chainDepth(ref), 2);
    assert.equal(guestRead(draft.path, 0, 1), true, 'the layer shows its parent');
    assert.deepEqual(
      (await fx.store.dependents(base.ref)).map((d) => d.versionId),
      [ref.versionId],
    );
    await assert.rejects(fx.store.remove(base.ref), fails('IMAGE_HAS_DEPENDENTS'));
    assert.equal(await fx.store.remove(ref), true);
    assert.equal(await fx.store.remove(ref), false);
  });

  it('a linked clone in another profile still reads through to its parent', async () => {
    const clone = await fx.store.createLayer(base.ref, newRef());
    assert.equal(info(clone.path)['backing-filename'], `../../${base.file}`);
    assert.equal(guestRead(clone.path, 0, 1), true);
    await fx.store.remove(clone.ref);
  });

  it('seals a draft: 0444, digest and size recorded; a layer only over sealed versions', async () => {
    const draftRef = newRef(profile);
    const draft = await fx.store.createLayer(base.ref, draftRef);
    await assert.rejects(
      fx.store.createLayer(draftRef, newRef(profile)),
      fails('IMAGE_NOT_SEALED'),
    );
    guestWrite(draft.path, 2, 7);
    const sealed = await fx.store.seal(draftRef);
    assert.equal((await stat(draft.path)).mode & 0o777, 0o444);
    assert.equal(sealed.sha256, await sha256File(draft.path));
    assert.equal(sealed.sizeBytes, (await stat(draft.path)).size);
    assert.equal(sealed.chainDepth, 2);
    assert.equal(sealed.virtualSize, 8 * MIB);
    assert.deepEqual(await fx.store.seal(draftRef), sealed, 'sealing again changes nothing');
    assert.equal((await fx.store.verify(draftRef, sealed.sha256)).ok, true);
    assert.equal((await fx.store.verify(draftRef, base.sha256)).ok, false);
    // A layer on the new version, flattened: an independent file with the whole content.
    const seen: number[] = [];
    const flat = await fx.store.flatten(draftRef, newRef(), { onProgress: (p) => seen.push(p) });
    assertIncreasingTo100(seen);
    assert.equal(flat.chainDepth, 1);
    assert.equal(info(flat.path)['backing-filename'], undefined);
    assert.equal((await stat(flat.path)).mode & 0o777, 0o444);
    assert.equal(guestRead(flat.path, 0, 1) && guestRead(flat.path, 2, 7), true);
    qemuImgCli('compare', '-U', '-f', 'qcow2', '-F', 'qcow2', draft.path, flat.path);
    await fx.store.remove(flat.ref);
    await fx.store.remove(draftRef);
  });

  it('refuses chains deeper than allowed', async () => {
    const shallow = new ImageStore({ root: fx.storeRoot, maxChainDepth: 3 });
    const refs: VersionRef[] = [base.ref];
    for (let depth = 2; depth <= 3; depth++) {
      const ref = newRef(profile);
      await shallow.createLayer(refs.at(-1)!, ref);
      await shallow.seal(ref);
      refs.push(ref);
    }
    await assert.rejects(
      shallow.createLayer(refs.at(-1)!, newRef(profile)),
      fails('IMAGE_CHAIN_TOO_DEEP'),
    );
    for (const ref of refs.slice(1).reverse()) await shallow.remove(ref);
  });

  it('names missing versions, and refuses store names that lead elsewhere', async () => {
    const missing = newRef(profile);
    await assert.rejects(fx.store.seal(missing), fails('IMAGE_VERSION_MISSING'));
    await assert.rejects(fx.store.createLayer(missing, newRef()), fails('IMAGE_VERSION_MISSING'));
    for (const name of [
      '/etc/passwd',
      `versions/${profile}/../../../etc/passwd`,
      `versions/${profile}/${base.ref.versionId}.qcow2/..`,
      `${fx.storeRoot}/../import/base.img`,
      'tmp/work/x.qcow2',
    ]) {
      assert.throws(() => fx.store.layout.resolve(name), fails('IMAGE_OUTSIDE_STORE'), name);
    }
    assert.equal(fx.store.layout.resolve(base.file), base.path);
  });

  it('a version whose profile directory is a symlink out of the store is refused', async () => {
    const outsideProfile = newRef().profileId;
    const elsewhere = join(fx.dir, 'elsewhere');
    await mkdir(elsewhere);
    const ref = { profileId: outsideProfile, versionId: newRef().versionId };
    qemuImgCli('create', '-f', 'qcow2', join(elsewhere, `${ref.versionId}.qcow2`), '1M');
    await chmod(join(elsewhere, `${ref.versionId}.qcow2`), 0o444);
    await symlink(elsewhere, join(fx.storeRoot, 'versions', outsideProfile));
    await assert.rejects(fx.store.createLayer(ref, newRef()), fails('PATH_INVALID'));
    const maker = new StoreOverlayMaker(fx.store, new QemuImg());
    await assert.rejects(
      maker.createOverlay(join(fx.dir, 'o.qcow2'), fx.store.pathOf(ref), 'qcow2'),
      fails('PATH_INVALID'),
    );
  });

  it('the overlay maker only layers client overlays on sealed versions of the store', async () => {
    const maker = new StoreOverlayMaker(fx.store, new QemuImg());
    const overlay = join(fx.dir, 'client.qcow2');
    await maker.createOverlay(overlay, base.path, 'qcow2');
    assert.equal(info(overlay)['backing-filename'], base.path);
    const draft = await fx.store.createLayer(base.ref, newRef(profile));
    await assert.rejects(
      maker.createOverlay(join(fx.dir, 'x.qcow2'), draft.path, 'qcow2'),
      fails('IMAGE_NOT_SEALED'),
    );
    await writeFile(join(fx.dir, 'plain.img'), Buffer.alloc(MIB));
    await assert.rejects(
      maker.createOverlay(join(fx.dir, 'y.qcow2'), join(fx.dir, 'plain.img'), 'qcow2'),
      fails('IMAGE_OUTSIDE_STORE'),
    );
    await assert.rejects(
      maker.createOverlay(join(fx.dir, 'z.qcow2'), base.path, 'raw'),
      fails('IMAGE_FORMAT_UNKNOWN'),
    );
    await fx.store.remove(draft.ref);
    assert.equal(await readFile(base.path).then(() => true), true);
  });

  it('leaves only whole versions behind, and clears interrupted work at start-up', async () => {
    const leftover = fx.store.layout.workPath(newRef().versionId);
    await writeFile(leftover, 'half a conversion');
    assert.equal((await fx.store.removePartialFiles()).length, 1);
    const files = await storeFiles(fx.storeRoot);
    assert.ok(
      files.every((file) => file.startsWith('versions/')),
      files.join(', '),
    );
  });
});
