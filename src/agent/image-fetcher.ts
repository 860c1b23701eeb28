// An agent's copies of image layers from the controller's store. A layer is downloaded into
// the store's work area as VERSION.part, which outlives failures so the next try resumes
// where the last stopped (Range); only when the whole file hashes to the version's sha256
// is it sealed (0444) and linked under versions/, so nothing partial or wrong ever appears
// there. A wrong digest discards the part: resuming on bad bytes would never heal.
import { mkdir, stat } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { isLabvirtError, LabvirtError } from '../domain/errors.js';
import type { ImageStore } from '../images/image-store.js';
import { sha256File } from '../images/sha256-file.js';
import {
  exists,
  flushDir,
  flushFile,
  makeSealed,
  moveIntoPlace,
  removeQuietly,
} from '../images/store-files.js';
import { parseVersionRef } from '../images/store-layout.js';
import type { ControllerClient } from './controller-client.js';
import type { ImageLayer, LayerFetcher } from './host-agent.js';

/** What the fetcher tells (pino's logger fits). */
export interface FetcherLog {
  info(facts: object, message: string): void;
  warn(facts: object, message: string): void;
}

export interface ImageFetcherOptions {
  readonly store: ImageStore;
  readonly controller: ControllerClient;
  readonly log?: FetcherLog | undefined;
  /** Tries per fetch when the connection fails (each resumes); default 3. */
  readonly attempts?: number;
  /** Wait between tries; default 2 s. */
  readonly retryDelayMs?: number;
}

const quiet: FetcherLog = { info: () => undefined, warn: () => undefined };

export class ImageFetcher implements LayerFetcher {
  #store: ImageStore;
  #controller: ControllerClient;
  #log: FetcherLog;
  #attempts: number;
  #retryDelayMs: number;
  /** Fetches under way by version id: a second caller waits for the first. */
  #inFlight = new Map<string, Promise<void>>();

  constructor(options: ImageFetcherOptions) {
    this.#store = options.store;
    this.#controller = options.controller;
    this.#log = options.log ?? quiet;
    this.#attempts = Math.max(1, options.attempts ?? 3);
    this.#retryDelayMs = options.retryDelayMs ?? 2_000;
  }

  /** Where a version's download is kept until it is whole. */
  partPath(layer: ImageLayer): string {
    return join(this.#store.layout.workDir, `${parseVersionRef(layer).versionId}.part`);
  }

  fetch(layer: ImageLayer): Promise<void> {
    const versionId = parseVersionRef(layer).versionId;
    let running = this.#inFlight.get(versionId);
    if (running === undefined) {
      running = this.#fetch(layer).finally(() => this.#inFlight.delete(versionId));
      this.#inFlight.set(versionId, running);
    }
    return running;
  }

  async #fetch(layer: ImageLayer): Promise<void> {
    const ref = parseVersionRef(layer);
    const dest = this.#store.pathOf(ref);
    if (await exists(dest)) return;
    const part = this.partPath(layer);
    await mkdir(this.#store.layout.workDir, { recursive: true, mode: 0o700 });
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#download(layer, part);
        break;
      } catch (error) {
        if (attempt >= this.#attempts || !transient(error)) throw error;
        this.#log.warn(
          { version: ref.versionId, attempt, err: error },
          'image layer download interrupted; resuming',
        );
        await new Promise((resolve) => setTimeout(resolve, this.#retryDelayMs));
      }
    }
    await flushFile(part);
    const digest = await sha256File(part);
    const expected = layer.sha256.toLowerCase();
    if (digest.sha256 !== expected) {
      await removeQuietly(part);
      const facts = { version: ref.versionId, expected, actual: digest.sha256 };
      this.#log.warn(facts, 'image layer arrived corrupt; discarded');
      throw new LabvirtError('IMAGE_TRANSFER_CORRUPT', facts);
    }
    await makeSealed(part);
    const dir = this.#store.layout.profileDir(ref);
    await mkdir(dir, { recursive: true, mode: 0o755 });
    try {
      await moveIntoPlace(part, dest, ref);
    } catch (error) {
      // Placed meanwhile by another process sharing this store: theirs is as good.
      if (!(isLabvirtError(error) && error.code === 'IMAGE_VERSION_EXISTS')) throw error;
      await removeQuietly(part);
    }
    await flushDir(dir);
    this.#log.info({ version: ref.versionId, bytes: digest.size }, 'image layer fetched');
  }

  /** Appends the rest of the file to `part` (all of it when the server sends it whole). */
  async #download(layer: ImageLayer, part: string): Promise<void> {
    let offset = await stat(part).then(
      (info) => info.size,
      () => 0,
    );
    if (offset > layer.sizeBytes) {
      await removeQuietly(part);
      offset = 0;
    }
    if (offset === layer.sizeBytes && offset > 0) return; // whole already: hash it
    const path = `/api/v1/agent/images/${encodeURIComponent(layer.versionId)}`;
    const answer = await this.#controller.download(path, { offset });
    if (answer.status === 416) {
      // The server's file is shorter than our part: start over on the next try.
      answer.body.resume();
      await removeQuietly(part);
      throw new LabvirtError('SERVER_UNREACHABLE', {
        url: this.#controller.url,
        reason: 'the download could not be resumed',
      });
    }
    if (answer.status !== 200 && answer.status !== 206)
      throw await this.#controller.problemOf(answer);
    const resumed = answer.status === 206 && offset > 0;
    if (resumed && !String(answer.headers['content-range']).startsWith(`bytes ${offset}-`)) {
      answer.body.destroy();
      await removeQuietly(part);
      throw new LabvirtError('SERVER_ANSWER_INVALID', {
        url: this.#controller.url,
        status: answer.status,
      });
    }
    this.#log.info(
      { version: layer.versionId, offset: resumed ? offset : 0, size: layer.sizeBytes },
      resumed ? 'resuming image layer download' : 'downloading image layer',
    );
    try {
      await pipeline(answer.body, createWriteStream(part, { flags: resumed ? 'a' : 'w' }));
    } catch (error) {
      throw isLabvirtError(error)
        ? error
        : new LabvirtError(
            'SERVER_UNREACHABLE',
            { url: this.#controller.url, reason: reasonOf(error) },
            { cause: error },
          );
    }
  }
}

function reasonOf(error: unknown): string {
  const cause = error as { code?: string; message?: string };
  return cause.code ?? cause.message ?? String(error);
}

/** A failure worth another try (the connection), not an answer (refused, not found, corrupt). */
function transient(error: unknown): boolean {
  return isLabvirtError(error) && error.code === 'SERVER_UNREACHABLE';
}
