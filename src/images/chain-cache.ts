// Walking a sealed version's backing chain costs one qemu-img run per layer (about 80 ms
// each on a busy host), and every VM start, layer and flatten walks it again. A sealed
// version never changes, so its walk is kept and used again only while every file of the
// chain is still the very same file: same device, inode, size, mode, and modification and
// change times (replacing, rewriting or chmodding a file changes one of them, and a file
// gone fails the check). Each layer is looked at by the path QEMU will open, so a symbolic
// link pointed elsewhere is another file too. A walk is kept only if none of its files
// changed since a little before it began (their change time, which nobody can set back,
// says so), so a kept walk never vouches for a file it did not read.
import type { BigIntStats } from 'node:fs';
import { lstat, stat } from 'node:fs/promises';
import type { ChainLayer } from '../qemu/image/backing-chain.js';

/** Chains kept at most; the least recently used goes beyond. */
export const CHAIN_CACHE_SIZE = 1000;

/** File times may lag the clock by a tick of the kernel's coarse clock: allow this much. */
const CLOCK_SLACK_NS = 50_000_000n;

interface Identity {
  readonly key: string;
  readonly ctimeNs: bigint;
}

/**
 * What makes a file the same file, or undefined when it cannot be read: the file the path
 * leads to and, when the path is a symbolic link, the link itself.
 */
async function identity(path: string): Promise<Identity | undefined> {
  try {
    const [link, file] = await Promise.all([
      lstat(path, { bigint: true }),
      stat(path, { bigint: true }),
    ]);
    const key = (s: BigIntStats) =>
      `${s.dev}:${s.ino}:${s.size}:${s.mode}:${s.mtimeNs}:${s.ctimeNs}`;
    return {
      key: `${key(link)}>${key(file)}`,
      ctimeNs: link.ctimeNs > file.ctimeNs ? link.ctimeNs : file.ctimeNs,
    };
  } catch {
    return undefined;
  }
}

interface Kept {
  readonly chain: ChainLayer[];
  readonly identities: readonly string[];
}

export class ChainCache {
  readonly #kept = new Map<string, Kept>();
  readonly #size: number;

  constructor(size = CHAIN_CACHE_SIZE) {
    this.#size = size;
  }

  /** The chain of `path`: the kept walk if its files are unchanged, else `walk()` (kept). */
  async chain(path: string, walk: () => Promise<ChainLayer[]>): Promise<ChainLayer[]> {
    const kept = this.#kept.get(path);
    if (kept !== undefined) {
      const now = await Promise.all(kept.chain.map((layer) => identity(layer.path)));
      this.#kept.delete(path);
      if (now.every((id, i) => id !== undefined && id.key === kept.identities[i])) {
        this.#kept.set(path, kept); // most recently used last
        return [...kept.chain];
      }
    }
    const began = BigInt(Date.now()) * 1_000_000n - CLOCK_SLACK_NS;
    const chain = await walk();
    const ids = await Promise.all(chain.map((layer) => identity(layer.path)));
    // A file changed since just before the walk may have changed after it was read.
    if (ids.every((id) => id !== undefined && id.ctimeNs < began)) {
      this.#kept.set(path, { chain: [...chain], identities: ids.map((id) => id?.key ?? '') });
      if (this.#kept.size > this.#size) this.#kept.delete(this.#kept.keys().next().value as string);
    }
    return chain;
  }

  /** Forgets the walk of `path` (its version is being removed). */
  forget(path: string): void {
    this.#kept.delete(path);
  }
}
