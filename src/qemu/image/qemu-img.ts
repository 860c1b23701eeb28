// Image operations through qemu-img. Every call names the format of every image it opens
// (-f, -F, -O): qemu-img never probes. `info` opens only the top image (no --backing-chain),
// so a hostile backing file is never opened here: backing-chain.ts walks chains itself,
// checking each path before it asks for the next layer's info.
import { rm, lstat } from 'node:fs/promises';
import { basename, isAbsolute } from 'node:path';
import { LabvirtError, phrase } from '../../domain/errors.js';
import {
  CommandNotFoundError,
  nodeCommandRunner,
  type CommandResult,
  type CommandRunner,
  type RunOptions,
} from '../../system/command-runner.js';
import type { ImageFormat } from './image-format.js';
import { ProgressParser } from './progress.js';

/** What `qemu-img info` says about one image (not its backing chain). */
export interface ImageInfo {
  readonly filename: string;
  /** The format qemu-img opened it as (always the one we asked for). */
  readonly format: string;
  readonly virtualSize: number;
  /** Bytes allocated on the host; absent when qemu-img cannot tell. */
  readonly actualSize?: number;
  readonly dirty: boolean;
  /** The backing file name exactly as recorded in the image (may be relative). */
  readonly backingFilename?: string;
  /** The backing file format recorded in the image; absent means it would be probed. */
  readonly backingFormat?: string;
  /** qcow2 external data file, as recorded. */
  readonly dataFile?: string;
  /** vmdk extent files (a vmdk descriptor can name any file as an extent). */
  readonly extents?: readonly string[];
}

export interface ImageCheckResult {
  /** No corruptions (leaked clusters only waste space, so they do not count). */
  readonly ok: boolean;
  /** False when the format has no consistency check (raw): nothing was checked. */
  readonly supported: boolean;
  readonly corruptions: number;
  readonly leaks: number;
  readonly checkErrors: number;
  readonly imageEndOffset?: number;
}

export interface ConvertOptions {
  readonly onProgress?: (percent: number) => void;
}

type JsonObject = Readonly<Record<string, unknown>>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalString(object: JsonObject, key: string): string | undefined {
  const value = object[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function optionalNumber(object: JsonObject, key: string): number | undefined {
  const value = object[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function parseJsonObject(text: string, operation: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (!isObject(value)) {
    throw new LabvirtError('QEMU_IMG_FAILED', {
      operation,
      detail: `unexpected output: ${text.trim().slice(0, 200) || '(none)'}`,
    });
  }
  return value;
}

/** Parses the output of `qemu-img info --output=json` (one image). */
export function parseImageInfo(text: string): ImageInfo {
  const json = parseJsonObject(text, 'info');
  const filename = optionalString(json, 'filename');
  const format = optionalString(json, 'format');
  const virtualSize = optionalNumber(json, 'virtual-size');
  if (filename === undefined || format === undefined || virtualSize === undefined) {
    throw new LabvirtError('QEMU_IMG_FAILED', {
      operation: 'info',
      detail: 'output lacks filename, format or virtual-size',
    });
  }
  const specific = isObject(json['format-specific']) ? json['format-specific'] : {};
  const data = isObject(specific['data']) ? specific['data'] : {};
  const extents = Array.isArray(data['extents']) ? data['extents'] : undefined;
  const actualSize = optionalNumber(json, 'actual-size');
  const backingFilename = optionalString(json, 'backing-filename');
  const backingFormat = optionalString(json, 'backing-filename-format');
  const dataFile = optionalString(data, 'data-file');
  return {
    filename,
    format,
    virtualSize,
    dirty: json['dirty-flag'] === true,
    ...(actualSize !== undefined ? { actualSize } : {}),
    ...(backingFilename !== undefined ? { backingFilename } : {}),
    ...(backingFormat !== undefined ? { backingFormat } : {}),
    ...(dataFile !== undefined ? { dataFile } : {}),
    ...(extents !== undefined
      ? {
          extents: extents.flatMap((extent) => {
            const name = isObject(extent) ? optionalString(extent, 'filename') : undefined;
            return name === undefined ? [] : [name];
          }),
        }
      : {}),
  };
}

/**
 * A path as a qemu-img argument. A relative one gets "./": otherwise "-x" would be read as
 * an option and "nbd:x" or "json:{...}" as a protocol rather than a file.
 */
function pathArgument(path: string): string {
  if (path === '') throw new LabvirtError('PATH_INVALID', { path, reason: phrase('it is empty') });
  return isAbsolute(path) ? path : `./${path}`;
}

/** qemu-img truncates an existing destination: refuse it rather than lose a file. */
async function refuseExisting(path: string): Promise<void> {
  try {
    await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  throw new LabvirtError('PATH_INVALID', { path, reason: phrase('it already exists') });
}

export class QemuImg {
  readonly #runner: CommandRunner;
  readonly #binary: string;

  constructor(runner: CommandRunner = nodeCommandRunner, binary = 'qemu-img') {
    this.#runner = runner;
    this.#binary = binary;
  }

  async info(
    path: string,
    format: ImageFormat,
    options: { readonly forceShare?: boolean } = {},
  ): Promise<ImageInfo> {
    const share = options.forceShare === true ? ['-U'] : [];
    const args = ['info', '--output=json', '-f', format, ...share, pathArgument(path)];
    const result = await this.#run('info', args);
    if (result.code !== 0) throw this.#failure('info', result);
    const info = parseImageInfo(result.stdout);
    if (info.format !== format) {
      throw new LabvirtError('QEMU_IMG_FAILED', {
        operation: 'info',
        detail: `asked for format ${format}, got ${info.format}`,
      });
    }
    return info;
  }

  /**
   * A new qcow2 overlay at `dest` over `backing`, recorded as is: an absolute path, or with
   * `relativeBacking` a path relative to the directory of `dest` (how qemu-img and QEMU
   * read a relative backing name), so that a tree of images can move as a whole.
   */
  async createOverlay(
    dest: string,
    backing: string,
    backingFormat: ImageFormat,
    options: { readonly relativeBacking?: boolean } = {},
  ): Promise<void> {
    const relative = options.relativeBacking === true;
    if (isAbsolute(backing) === relative || backing === '' || (relative && backing.includes(':'))) {
      const reason = relative ? 'it must be relative, without ":"' : 'it must be absolute';
      throw new LabvirtError('PATH_INVALID', { path: backing, reason });
    }
    const destArg = pathArgument(dest);
    await refuseExisting(dest);
    const args = ['create', '-f', 'qcow2', '-F', backingFormat, '-b', backing, destArg];
    await this.#runCleaningUp('create', args, dest);
  }

  /** A new empty image `dest` of `sizeBytes` (a VM's scratch data disk, say). */
  async createImage(dest: string, format: ImageFormat, sizeBytes: number): Promise<void> {
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) {
      throw new LabvirtError('QEMU_IMG_FAILED', {
        operation: 'create',
        detail: `size ${String(sizeBytes)} is not a positive number of bytes`,
      });
    }
    const destArg = pathArgument(dest);
    await refuseExisting(dest);
    const args = ['create', '-f', format, destArg, String(sizeBytes)];
    await this.#runCleaningUp('create', args, dest);
  }

  /** Copies `src` into a new image `dest`; a failed conversion leaves no `dest` behind. */
  async convert(
    src: string,
    srcFormat: ImageFormat,
    dest: string,
    destFormat: ImageFormat,
    options: ConvertOptions = {},
  ): Promise<void> {
    const args = ['convert', '-p', '-f', srcFormat, '-O', destFormat];
    args.push(pathArgument(src), pathArgument(dest));
    await refuseExisting(dest);
    const parser = new ProgressParser();
    let listenerError: { error: unknown } | undefined;
    const report = (updates: number[]): void => {
      // A throwing listener must not crash the process from inside a stream event.
      try {
        for (const percent of updates) options.onProgress?.(percent);
      } catch (error) {
        listenerError ??= { error };
      }
    };
    await this.#runCleaningUp('convert', args, dest, {
      onStdout: (chunk) => report(parser.push(chunk)),
    });
    report(parser.end());
    if (listenerError !== undefined) throw listenerError.error;
  }

  /** Consistency check. Exit 0: clean, 2: corruptions, 3: leaks only, 63: not checkable. */
  async check(
    path: string,
    format: ImageFormat,
    options: { readonly forceShare?: boolean } = {},
  ): Promise<ImageCheckResult> {
    const share = options.forceShare === true ? ['-U'] : [];
    const args = ['check', '--output=json', '-f', format, ...share, pathArgument(path)];
    const result = await this.#run('check', args);
    if (result.code === 63) {
      return { ok: true, supported: false, corruptions: 0, leaks: 0, checkErrors: 0 };
    }
    if (result.code !== 0 && result.code !== 2 && result.code !== 3) {
      throw this.#failure('check', result);
    }
    const json = parseJsonObject(result.stdout, 'check');
    const corruptions = optionalNumber(json, 'corruptions') ?? 0;
    const imageEndOffset = optionalNumber(json, 'image-end-offset');
    return {
      // Trust the exit code too: 2 means corruptions even if the JSON lacks the count.
      ok: result.code !== 2 && corruptions === 0,
      supported: true,
      corruptions,
      leaks: optionalNumber(json, 'leaks') ?? 0,
      checkErrors: optionalNumber(json, 'check-errors') ?? 0,
      ...(imageEndOffset !== undefined ? { imageEndOffset } : {}),
    };
  }

  async #runCleaningUp(
    operation: string,
    args: string[],
    dest: string,
    options: RunOptions = {},
  ): Promise<void> {
    let result: CommandResult;
    try {
      result = await this.#run(operation, args, options);
    } catch (error) {
      await rm(dest, { force: true });
      throw error;
    }
    if (result.code !== 0) {
      // We checked that dest did not exist, so whatever is there now is a partial output.
      await rm(dest, { force: true });
      throw this.#failure(operation, result);
    }
  }

  async #run(operation: string, args: string[], options: RunOptions = {}): Promise<CommandResult> {
    try {
      return await this.#runner.run([this.#binary, ...args], options);
    } catch (error) {
      if (error instanceof CommandNotFoundError) {
        throw new LabvirtError(
          'QEMU_NOT_INSTALLED',
          { binary: this.#binary, package: 'qemu-utils' },
          { cause: error },
        );
      }
      throw new LabvirtError(
        'QEMU_IMG_FAILED',
        { operation, detail: error instanceof Error ? error.message : String(error) },
        { cause: error },
      );
    }
  }

  #failure(operation: string, result: CommandResult): LabvirtError {
    const line = result.stderr
      .split('\n')
      .map((text) => text.trim())
      .find((text) => text !== '');
    // qemu-img prefixes its messages with its program name.
    const prefixes = ['qemu-img: ', `${basename(this.#binary)}: `];
    const prefix = line === undefined ? undefined : prefixes.find((p) => line.startsWith(p));
    const detail =
      line !== undefined
        ? line.slice(prefix?.length ?? 0)
        : result.signal !== null
          ? `killed by ${result.signal}`
          : `exit code ${String(result.code)}`;
    return new LabvirtError('QEMU_IMG_FAILED', { operation, detail });
  }
}
