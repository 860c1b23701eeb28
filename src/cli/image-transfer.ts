// `labvirt profile import`'s transport: a file inside an import directory of a server on
// this machine is named by its path (nothing is copied); anything else is uploaded as a
// stream. Then the job is followed to its end, its progress shown on stderr.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { LabvirtError } from '../domain/errors.js';
import type { Translator } from '../i18n/translator.js';
import { connectionReason } from './api-client.js';
import { CliMessageError, EXIT_FAILURE, EXIT_USAGE } from './cli-error.js';
import { configPath, readConfig, resolveTarget } from './config.js';
import type { CliContext } from './context.js';
import { progressReporter } from './progress-bar.js';
import { sanitize } from './table.js';
import { fileError } from '../system/file-errors.js';
import { phrase } from '../domain/errors.js';

export interface JobAnswer {
  readonly id: string;
  readonly state: 'running' | 'succeeded' | 'failed';
  readonly progress: number;
  readonly error: { code: string; status: number; detail: string } | null;
  readonly result: unknown;
}

interface Answer {
  readonly status: number;
  readonly body: unknown;
}

class Api {
  readonly #url: string;
  readonly #token: string | undefined;
  readonly #tr: Translator;

  constructor(url: string, token: string | undefined, tr: Translator) {
    this.#url = url;
    this.#token = token;
    this.#tr = tr;
  }

  get url(): string {
    return this.#url;
  }

  async send(method: string, path: string, init: RequestInit = {}): Promise<Answer> {
    const headers: Record<string, string> = {
      accept: 'application/json, application/problem+json',
      'accept-language': this.#tr.locale,
      ...(init.headers as Record<string, string> | undefined),
    };
    if (this.#token !== undefined) headers['authorization'] = `Bearer ${this.#token}`;
    let response: Response;
    try {
      response = await fetch(`${this.#url}/api/v1${path}`, {
        ...init,
        method,
        headers,
        redirect: 'error',
      });
    } catch (error) {
      throw new LabvirtError(
        'SERVER_UNREACHABLE',
        { url: this.#url, reason: connectionReason(error, this.#tr) },
        { cause: error },
      );
    }
    const text = await response.text().catch(() => '');
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new LabvirtError('SERVER_ANSWER_INVALID', { url: this.#url, status: response.status });
    }
    return { status: response.status, body };
  }
}

/** The error a problem answer means for the CLI: its detail, exit 2 for a 4xx. */
function problemError(api: Api, answer: Answer): Error {
  const body = answer.body as { detail?: unknown; code?: unknown } | undefined;
  if (typeof body?.detail !== 'string')
    return new LabvirtError('SERVER_ANSWER_INVALID', { url: api.url, status: answer.status });
  const exit = answer.status >= 400 && answer.status < 500 ? EXIT_USAGE : EXIT_FAILURE;
  return new CliMessageError(sanitize(body.detail), exit);
}

function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

export interface ImportRequest {
  readonly profile: string;
  readonly file: string;
  readonly format?: string | undefined;
  readonly url?: string | undefined;
  readonly token?: string | undefined;
  /** Progress on a terminal (a bar) or as lines; none with --json. */
  readonly show: boolean;
  /** How often the job is asked for its progress. */
  readonly pollMs?: number;
}

async function apiFor(
  ctx: CliContext,
  flags: { url?: string | undefined; token?: string | undefined },
) {
  const saved = await readConfig(configPath(ctx.env));
  const target = resolveTarget(flags, ctx.env, saved);
  return new Api(target.url, target.token, ctx.tr);
}

/** Imports `file` into the profile and follows the job; resolves to the finished job. */
export async function importImage(ctx: CliContext, request: ImportRequest): Promise<JobAnswer> {
  const { tr } = ctx;
  const api = await apiFor(ctx, request);
  const path = resolve(request.file);
  const size = (
    await stat(path).catch((error: unknown) => {
      throw fileError(request.file, phrase('disk image'), error);
    })
  ).size;
  const profile = encodeURIComponent(request.profile);
  const tty = request.show && process.stderr.isTTY === true;
  let started: Answer | undefined;
  if (isLoopbackUrl(api.url)) {
    started = await api.send('POST', `/profiles/${profile}/import`, {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ path, ...(request.format ? { format: request.format } : {}) }),
    });
    const code = (started.body as { code?: unknown } | undefined)?.code;
    // Not in one of its import directories (or not visible to it): upload instead.
    if (code === 'IMPORT_SOURCE_OUTSIDE' || code === 'FILE_NOT_FOUND') started = undefined;
  }
  if (started === undefined) {
    const upload = request.show ? progressReporter(ctx.io, tty, tr.t('Uploading')) : undefined;
    let sent = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        sent += chunk.length;
        upload?.update(size > 0 ? (sent / size) * 100 : 100);
        done(null, chunk);
      },
    });
    const body = createReadStream(path).pipe(counter);
    const query = `?${new URLSearchParams({
      name: basename(path),
      ...(request.format ? { format: request.format } : {}),
    }).toString()}`;
    started = await api.send('PUT', `/profiles/${profile}/upload${query}`, {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      body: Readable.toWeb(body) as ReadableStream,
      duplex: 'half',
    } as RequestInit);
    upload?.done();
  }
  if (started.status !== 202) throw problemError(api, started);
  return followJob(ctx, api, started.body as JobAnswer, request.show, tty, request.pollMs);
}

/** Follows a job started by another command (flatten, full clone). */
export async function followStartedJob(
  ctx: CliContext,
  flags: { url?: string | undefined; token?: string | undefined },
  method: string,
  path: string,
  payload: unknown,
  show: boolean,
): Promise<{ job?: JobAnswer; body: unknown }> {
  const api = await apiFor(ctx, flags);
  const answer = await api.send(method, path, {
    ...(payload === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) }),
  });
  if (answer.status >= 400) throw problemError(api, answer);
  if (answer.status !== 202) return { body: answer.body };
  const tty = show && process.stderr.isTTY === true;
  const job = await followJob(ctx, api, answer.body as JobAnswer, show, tty);
  return { job, body: job };
}

async function followJob(
  ctx: CliContext,
  api: Api,
  first: JobAnswer,
  show: boolean,
  tty: boolean,
  pollMs = 200,
): Promise<JobAnswer> {
  const bar = show ? progressReporter(ctx.io, tty, ctx.tr.t('Working')) : undefined;
  let job = first;
  try {
    for (;;) {
      bar?.update(job.progress);
      if (job.state !== 'running') break;
      await new Promise((done) => setTimeout(done, pollMs));
      const answer = await api.send('GET', `/jobs/${encodeURIComponent(job.id)}`);
      if (answer.status !== 200) throw problemError(api, answer);
      job = answer.body as JobAnswer;
    }
  } finally {
    bar?.done();
  }
  return job;
}

/** A failed job as the CLI's one-line error (exit 2 when the input was at fault). */
export function throwIfFailed(job: JobAnswer): void {
  if (job.state === 'failed' && job.error !== null) {
    const exit = job.error.status >= 400 && job.error.status < 500 ? EXIT_USAGE : EXIT_FAILURE;
    throw new CliMessageError(sanitize(job.error.detail), exit);
  }
}
