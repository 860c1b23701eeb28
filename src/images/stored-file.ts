// What the image store hands back about its files: the shapes the database records.
import type { ImageFormat } from '../qemu/image/image-format.js';
import type { ProgressListener } from './phased-progress.js';
import type { VersionRef } from './store-layout.js';

/** A file of the store: where it is, and what the database records about it. */
export interface StoredFile {
  readonly ref: VersionRef;
  /** Store-relative name ("versions/P/V.qcow2"): what the database records. */
  readonly file: string;
  /** Absolute path (what QEMU is given). */
  readonly path: string;
  /** Layers in its chain, itself included (1: an independent image). */
  readonly chainDepth: number;
}

/** A sealed version: read-only, with its digest and size recorded. */
export interface SealedVersion extends StoredFile {
  readonly sha256: string;
  /** Bytes of this file (its own layer only). */
  readonly sizeBytes: number;
  /** The disk size the guest sees. */
  readonly virtualSize: number;
}

export interface ImportOptions {
  /** The source's format; detected from its header when not given. */
  readonly format?: ImageFormat | undefined;
  /** Overall progress, 0-100, increasing; 100 only once the version is in place. */
  readonly onProgress?: ProgressListener | undefined;
}

export interface FlattenOptions {
  readonly onProgress?: ProgressListener | undefined;
}

export interface VerifyResult {
  readonly ok: boolean;
  readonly sha256: string;
}
