// The image store: the golden images of all profiles, on disk under one root (see
// store-layout.ts). It imports images (any supported format in, one checked qcow2 out),
// makes layers (linked clones, admin drafts) in constant time, seals drafts into read-only
// versions, flattens chains, and removes versions nothing depends on. Every file appears
// under its final name only when whole, read-only and hashed; a failure at any step
// leaves nothing behind. Which versions exist, who made them and which is published is
// the database's business: the store only knows files, named by ids.
import { chmod, mkdir, readdir, rm, rmdir } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { LabvirtError } from '../domain/errors.js';
import {
  DEFAULT_MAX_CHAIN_DEPTH,
  verifyImageChain,
  type ChainLayer,
} from '../qemu/image/backing-chain.js';
import { ChainCache } from './chain-cache.js';
import { detectImageFormat, parseImageFormat } from '../qemu/image/image-format.js';
import { QemuImg } from '../qemu/image/qemu-img.js';
import {
  checkImportSource,
  checkDetail,
  realImportDirs,
  resolveImportSource,
} from './import-source.js';
import { PhasedProgress } from './phased-progress.js';
import { sha256File } from './sha256-file.js';
import { layeredOn, listStore } from './store-listing.js';
import { storeFailure } from './store-errors.js';
import {
  DRAFT_MODE,
  exists,
  flushDir,
  flushFile,
  isSealed,
  makeSealed,
  moveIntoPlace,
  removeQuietly,
} from './store-files.js';
import { StoreLayout, parseVersionRef, type VersionRef } from './store-layout.js';
import type {
  FlattenOptions,
  ImportOptions,
  SealedVersion,
  StoredFile,
  VerifyResult,
} from './stored-file.js';

export type { FlattenOptions, ImportOptions, SealedVersion, StoredFile, VerifyResult };

export interface ImageStoreOptions {
  /** The store's directory (under the data directory). */
  readonly root: string;
  /** Where images may be imported from (an upload area, a share). */
  readonly importDirs?: readonly string[];
  readonly qemuImg?: QemuImg;
  /** Most layers a version's chain may have, itself included. */
  readonly maxChainDepth?: number;
  /** The most bytes an upload into the import area may have (the API's upload route). */
  readonly uploadLimit?: number;
}

type Phase = 'convert' | 'check' | 'hash';
// Converting is most of the work; hashing reads the result once more.
const COPY_PHASES: readonly (readonly [Phase, number])[] = [
  ['convert', 80],
  ['check', 5],
  ['hash', 15],
];

export class ImageStore {
  readonly layout: StoreLayout;
  readonly #importDirs: readonly string[];
  readonly #qemuImg: QemuImg;
  readonly #maxDepth: number;
  /** Walks of sealed versions' chains, kept while their files are unchanged. */
  readonly #chains = new ChainCache();
  readonly uploadLimit: number | undefined;

  constructor(options: ImageStoreOptions) {
    this.uploadLimit = options.uploadLimit;
    this.layout = new StoreLayout(options.root);
    this.#importDirs = (options.importDirs ?? []).map((dir) => resolve(dir));
    this.#qemuImg = options.qemuImg ?? new QemuImg();
    this.#maxDepth = options.maxChainDepth ?? DEFAULT_MAX_CHAIN_DEPTH;
  }

  get root(): string {
    return this.layout.root;
  }

  /** The import directories, as configured (absolute). */
  get importDirs(): readonly string[] {
    return this.#importDirs;
  }

  /**
   * The real path of an import source, refused (IMPORT_SOURCE_OUTSIDE) unless it lies
   * inside an import directory: what a request is checked against before a job starts.
   */
  async resolveImportSource(source: string): Promise<string> {
    return resolveImportSource(source, await realImportDirs(this.#importDirs));
  }

  /** Absolute path of a version's file (whether or not it exists). */
  pathOf(ref: VersionRef): string {
    return this.layout.path(ref);
  }

  /**
   * Imports `source` (inside an import directory) as version `target`: checks it (format,
   * backing chain, data file, extents, consistency), converts it to qcow2 with progress,
   * checks the result, seals it (0444) and hashes it. Nothing is left on failure.
   */
  async import(
    source: string,
    target: VersionRef,
    options: ImportOptions = {},
  ): Promise<SealedVersion> {
    const ref = parseVersionRef(target);
    await this.#refuseExisting(ref);
    const importDirs = await realImportDirs(this.#importDirs);
    const real = await resolveImportSource(source, importDirs);
    const format =
      options.format === undefined
        ? await detectImageFormat(real)
        : parseImageFormat(options.format);
    await checkImportSource(real, format, {
      importDirs,
      qemuImg: this.#qemuImg,
      maxDepth: this.#maxDepth,
    });
    const progress = new PhasedProgress(COPY_PHASES, options.onProgress);
    return this.#copyIn('import', ref, progress, (temp) =>
      this.#qemuImg.convert(real, format, temp, 'qcow2', {
        onProgress: (percent) => progress.report('convert', percent),
      }),
    );
  }

  /**
   * A new writable qcow2 layer `target` on the sealed version `parent` (a linked clone's
   * first version, or an admin session's draft). It records its backing file relative to
   * itself, with its format; only headers are read, so it takes the same time whatever
   * the parent's size.
   */
  async createLayer(parent: VersionRef, target: VersionRef): Promise<StoredFile> {
    const parentRef = parseVersionRef(parent);
    const ref = parseVersionRef(target);
    const chain = await this.checkVersion(parentRef);
    if (chain.length + 1 > this.#maxDepth) {
      throw new LabvirtError('IMAGE_CHAIN_TOO_DEEP', {
        path: this.layout.file(parentRef),
        max: this.#maxDepth,
      });
    }
    await this.#refuseExisting(ref);
    const temp = this.#newWorkFile();
    const path = this.layout.path(ref);
    try {
      await this.#makeWorkDir();
      const backing = this.layout.backingName(parentRef);
      await this.#qemuImg.createOverlay(temp, backing, 'qcow2', { relativeBacking: true });
      await chmod(temp, DRAFT_MODE);
      await this.#place(temp, ref);
    } catch (error) {
      await removeQuietly(temp);
      const file = this.layout.file(ref);
      throw storeFailure(error, { root: this.root, operation: 'createLayer', path: file });
    }
    return { ref, file: this.layout.file(ref), path, chainDepth: chain.length + 1 };
  }

  /**
   * Makes the draft `target` a version: checks it (which fails on QEMU's lock while a VM
   * still writes it), flushes it, makes it read-only and records its digest and size.
   * Sealing a sealed version again only reports them.
   */
  async seal(target: VersionRef): Promise<SealedVersion> {
    const ref = parseVersionRef(target);
    const path = await this.#existing(ref);
    try {
      if (!(await isSealed(path))) {
        const result = await this.#qemuImg.check(path, 'qcow2');
        if (!result.ok) {
          throw new LabvirtError('IMAGE_CORRUPT', {
            path: this.layout.file(ref),
            detail: checkDetail(result),
          });
        }
        await flushFile(path);
        await makeSealed(path);
      }
      return await this.#describe(ref);
    } catch (error) {
      throw storeFailure(error, {
        root: this.root,
        operation: 'seal',
        path: this.layout.file(ref),
      });
    }
  }

  /** A new independent version `target` with the content of the sealed `source`'s chain. */
  async flatten(
    source: VersionRef,
    target: VersionRef,
    options: FlattenOptions = {},
  ): Promise<SealedVersion> {
    const sourceRef = parseVersionRef(source);
    const ref = parseVersionRef(target);
    await this.checkVersion(sourceRef);
    await this.#refuseExisting(ref);
    const progress = new PhasedProgress(COPY_PHASES, options.onProgress);
    const from = this.layout.path(sourceRef);
    return this.#copyIn('flatten', ref, progress, (temp) =>
      this.#qemuImg.convert(from, 'qcow2', temp, 'qcow2', {
        onProgress: (percent) => progress.report('convert', percent),
      }),
    );
  }

  /**
   * Removes a version or draft that no other file of the store is layered on. Whether a
   * VM still runs on it is the caller's to know (the file would only vanish from the
   * directory: a running QEMU keeps its open file). False when there was nothing to remove.
   */
  async remove(target: VersionRef): Promise<boolean> {
    const ref = parseVersionRef(target);
    const path = this.layout.path(ref);
    if (!(await exists(path))) return false;
    const dependents = await this.dependents(ref);
    if (dependents.length > 0) {
      throw new LabvirtError('IMAGE_HAS_DEPENDENTS', {
        path: this.layout.file(ref),
        dependents: dependents.map((dependent) => this.layout.file(dependent)).join(', '),
      });
    }
    await rm(path, { force: true });
    this.#chains.forget(path);
    const dir = this.layout.profileDir(ref);
    await flushDir(dir);
    await rmdir(dir).catch(() => undefined); // only when it was the profile's last file
    return true;
  }

  /** The files of the store whose backing file is `target`. */
  async dependents(target: VersionRef): Promise<VersionRef[]> {
    return layeredOn(this.layout, this.#qemuImg, parseVersionRef(target));
  }

  /** Every version and draft file in the store (names of any other shape are ignored). */
  list(): Promise<VersionRef[]> {
    return listStore(this.layout);
  }

  async chainDepth(target: VersionRef): Promise<number> {
    return (await this.#chain(parseVersionRef(target))).length;
  }

  /** Whether the version's file still has the digest recorded for it. */
  async verify(target: VersionRef, sha256: string): Promise<VerifyResult> {
    const path = await this.#existing(parseVersionRef(target));
    const digest = await sha256File(path);
    return { ok: digest.sha256 === sha256.toLowerCase(), sha256: digest.sha256 };
  }

  /**
   * The verified chain of a sealed version (top first): every layer a sealed file inside
   * the store, each recording its backing format, no deeper than allowed.
   */
  async checkVersion(target: VersionRef): Promise<ChainLayer[]> {
    const ref = parseVersionRef(target);
    const path = await this.#existing(ref);
    if (!(await isSealed(path))) {
      throw new LabvirtError('IMAGE_NOT_SEALED', { path: this.layout.file(ref) });
    }
    return this.#chain(ref);
  }

  /** Removes what interrupted operations left in the work directory. Only at start-up. */
  async removePartialFiles(): Promise<string[]> {
    const names = await readdir(this.layout.workDir).catch(() => []);
    for (const name of names) await rm(join(this.layout.workDir, name), { force: true });
    return names;
  }

  /** Where the API's uploads are written before they are imported (in the first import directory). */
  get uploadDir(): string | undefined {
    const first = this.#importDirs[0];
    return first === undefined ? undefined : join(first, '.uploads');
  }

  /** Removes what interrupted uploads left. Only at start-up. */
  async removePartialUploads(): Promise<string[]> {
    const dir = this.uploadDir;
    if (dir === undefined) return [];
    const names = await readdir(dir).catch(() => []);
    for (const name of names) await rm(join(dir, name), { force: true });
    return names;
  }

  async #chain(ref: VersionRef): Promise<ChainLayer[]> {
    const path = this.layout.path(ref);
    return this.#chains.chain(path, () =>
      verifyImageChain(path, 'qcow2', {
        allowedDirs: [this.layout.versionsDir],
        // Headers only, and a version may be in use by running VMs: share the image.
        info: (file, format) => this.#qemuImg.info(file, format, { forceShare: true }),
        maxDepth: this.#maxDepth,
      }),
    );
  }

  async #existing(ref: VersionRef): Promise<string> {
    const path = this.layout.path(ref);
    if (!(await exists(path))) {
      throw new LabvirtError('IMAGE_VERSION_MISSING', {
        profile: ref.profileId,
        version: ref.versionId,
      });
    }
    return path;
  }

  async #refuseExisting(ref: VersionRef): Promise<void> {
    if (await exists(this.layout.path(ref))) {
      throw new LabvirtError('IMAGE_VERSION_EXISTS', {
        profile: ref.profileId,
        version: ref.versionId,
      });
    }
  }

  /** Makes a new sealed version from whatever `write` puts into a fresh work file. */
  async #copyIn(
    operation: string,
    ref: VersionRef,
    progress: PhasedProgress<Phase>,
    write: (temp: string) => Promise<void>,
  ): Promise<SealedVersion> {
    const temp = this.#newWorkFile();
    const file = this.layout.file(ref);
    try {
      await this.#makeWorkDir();
      await write(temp);
      const result = await this.#qemuImg.check(temp, 'qcow2');
      if (!result.ok) {
        throw new LabvirtError('IMAGE_CORRUPT', { path: file, detail: checkDetail(result) });
      }
      progress.report('check', 100);
      await flushFile(temp);
      await makeSealed(temp);
      const info = await this.#qemuImg.info(temp, 'qcow2');
      const digest = await sha256File(temp, (percent) => progress.report('hash', percent));
      await this.#place(temp, ref);
      progress.finish();
      return {
        ref,
        file,
        path: this.layout.path(ref),
        chainDepth: 1,
        sha256: digest.sha256,
        sizeBytes: digest.size,
        virtualSize: info.virtualSize,
      };
    } catch (error) {
      await removeQuietly(temp);
      throw storeFailure(error, { root: this.root, operation, path: file });
    }
  }

  async #describe(ref: VersionRef): Promise<SealedVersion> {
    const chain = await this.#chain(ref);
    const path = this.layout.path(ref);
    const digest = await sha256File(path);
    return {
      ref,
      file: this.layout.file(ref),
      path,
      chainDepth: chain.length,
      sha256: digest.sha256,
      sizeBytes: digest.size,
      virtualSize: chain[0]?.virtualSize ?? 0,
    };
  }

  /** A fresh name in the work directory (nothing is made there yet). */
  #newWorkFile(): string {
    return this.layout.workPath(randomUUID());
  }

  async #makeWorkDir(): Promise<void> {
    await mkdir(this.layout.workDir, { recursive: true, mode: 0o700 });
  }

  /** Moves a finished work file to its final name, durably. */
  async #place(temp: string, ref: VersionRef): Promise<void> {
    const dir = this.layout.profileDir(ref);
    await mkdir(dir, { recursive: true, mode: 0o755 });
    await moveIntoPlace(temp, this.layout.path(ref), ref);
    await flushDir(dir);
  }
}
