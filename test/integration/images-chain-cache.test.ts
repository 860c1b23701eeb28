// The image store keeps the walk of a sealed version's backing chain (src/images/chain-cache.ts)
// and uses it again only while every file of the chain is the same, unchanged file. On real
// files: a kept walk is used again; a chmod, a rewrite, a replacement or a removal of any
// layer walks again; a walk during which a file changed is not kept; the oldest goes first.
import assert from 'node:assert/strict';
import { appendFile, chmod, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ChainCache } from '../../src/images/chain-cache.js';
import type { ChainLayer } from '../../src/qemu/image/backing-chain.js';
import { delay, tempDir } from '../helpers/env.js';

const layer = (path: string): ChainLayer => ({
  path,
  realPath: path,
  format: 'qcow2',
  virtualSize: 1024,
  actualSize: undefined,
});

describe('ChainCache on real files', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let top = '';
  let base = '';
  let walks = 0;
  const walk = async () => {
    walks++;
    return [layer(top), layer(base)];
  };
  /** Files as the store leaves them: written, sealed, and not touched since. */
  const settle = () => delay(150);

  before(async () => {
    dir = await tempDir('lv-chain-');
    top = join(dir.path, 'top.qcow2');
    base = join(dir.path, 'base.qcow2');
    await writeFile(top, 'top');
    await writeFile(base, 'base');
    await chmod(top, 0o444);
    await chmod(base, 0o444);
    await settle();
  });
  after(() => dir?.cleanup());

  it('walks once while nothing changes', async () => {
    const cache = new ChainCache();
    walks = 0;
    const first = await cache.chain(top, walk);
    const second = await cache.chain(top, walk);
    assert.equal(walks, 1);
    assert.deepEqual(second, first);
  });

  it('walks again after a chmod, a rewrite or a replacement of any layer', async () => {
    const cache = new ChainCache();
    walks = 0;
    await cache.chain(top, walk);
    await chmod(base, 0o644);
    await cache.chain(top, walk);
    assert.equal(walks, 2, 'chmod of the base');

    await settle();
    await cache.chain(top, walk);
    assert.equal(walks, 3, 'the walk after the chmod was not kept (the file had just changed)');
    await cache.chain(top, walk);
    assert.equal(walks, 3, 'kept once the file had settled');

    await appendFile(base, 'more');
    await cache.chain(top, walk);
    assert.equal(walks, 4, 'a write to the base');

    await settle();
    await cache.chain(top, walk);
    const other = join(dir.path, 'other.qcow2');
    await writeFile(other, 'top'); // same size and content, another file
    await rename(other, top);
    await cache.chain(top, walk);
    assert.equal(walks, 6, 'the top replaced by another file');
  });

  it('walks again when a layer reached by a symbolic link is pointed at another file', async () => {
    const a = join(dir.path, 'link-a.qcow2');
    const b = join(dir.path, 'link-b.qcow2');
    const link = join(dir.path, 'link.qcow2');
    await writeFile(a, 'same');
    await writeFile(b, 'same');
    await symlink(a, link);
    await settle();
    const cache = new ChainCache();
    let walked = 0;
    const viaLink = async () => {
      walked++;
      return [layer(top), { ...layer(link), realPath: a }];
    };
    await cache.chain(top, viaLink);
    await cache.chain(top, viaLink);
    assert.equal(walked, 1);
    await rm(link);
    await symlink(b, link);
    await cache.chain(top, viaLink);
    assert.equal(walked, 2);
  });

  it('hands out copies: a caller changing its chain does not change the kept one', async () => {
    const cache = new ChainCache();
    walks = 0;
    const first = await cache.chain(top, walk);
    first.pop();
    assert.equal((await cache.chain(top, walk)).length, 2);
    assert.equal(walks, 1, 'the second came from the cache');
  });

  it('a walk during which a layer changed is not kept', async () => {
    await settle();
    const cache = new ChainCache();
    walks = 0;
    const changing = async () => {
      const chain = await walk();
      await appendFile(base, 'x'); // after the walk read it
      return chain;
    };
    await cache.chain(top, changing);
    await cache.chain(top, walk);
    assert.equal(walks, 2);
  });

  it('a layer gone: walks again (and the walk says what is wrong)', async () => {
    const gone = join(dir.path, 'gone.qcow2');
    await writeFile(gone, 'gone');
    await settle();
    const cache = new ChainCache();
    let walked = 0;
    const chainOf = async () => {
      walked++;
      if (walked > 1) throw new Error('backing file missing');
      return [layer(top), layer(gone)];
    };
    await cache.chain(top, chainOf);
    await rm(gone);
    await assert.rejects(cache.chain(top, chainOf), /backing file missing/);
    assert.equal(walked, 2);
  });

  it('keeps at most its size, the least recently used going first', async () => {
    await settle();
    const cache = new ChainCache(2);
    const counts = new Map<string, number>();
    const walkOf = (path: string) => async () => {
      counts.set(path, (counts.get(path) ?? 0) + 1);
      return [layer(path)];
    };
    const files = ['a', 'b', 'c'].map((name) => join(dir.path, `${name}.qcow2`));
    for (const file of files) await writeFile(file, file);
    await settle();
    const [a, b, c] = files as [string, string, string];
    await cache.chain(a, walkOf(a));
    await cache.chain(b, walkOf(b));
    await cache.chain(a, walkOf(a)); // a is now the most recent
    await cache.chain(c, walkOf(c)); // b goes
    await cache.chain(a, walkOf(a));
    await cache.chain(b, walkOf(b));
    assert.deepEqual(Object.fromEntries(counts), { [a]: 1, [b]: 2, [c]: 1 });
  });
});
