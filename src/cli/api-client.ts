// The CLI's client of the REST API: JSON over fetch, the user's language in
// Accept-Language, and every failure as one line in that language. A problem+json answer
// is shown by its (server-translated) detail; 4xx exits 2 (the request was wrong), the
// rest exits 1.
import { LabvirtError } from '../domain/errors.js';
import type { Translator } from '../i18n/translator.js';
import { CliMessageError, EXIT_FAILURE, EXIT_USAGE } from './cli-error.js';
import { sanitize } from './table.js';

export interface ApiClientOptions {
  /** Normalized server URL (see normalizeServerUrl). */
  readonly url: string;
  readonly token?: string | undefined;
  readonly tr: Translator;
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
}

/** Why a connection failed, in words, from undici's error cause. */
export function connectionReason(error: unknown, tr: Translator): string {
  let cause = error as { code?: string; message?: string; cause?: unknown } | undefined;
  while (cause?.cause !== undefined && cause.code === undefined)
    cause = cause.cause as typeof cause;
  switch (cause?.code) {
    case 'ECONNREFUSED':
      return tr.t('connection refused');
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return tr.t('unknown host name');
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ABORT_ERR':
    case 'TimeoutError':
      return tr.t('timed out');
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return tr.t('no route to the host');
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return tr.t('the connection was closed');
  }
  if ((error as Error | undefined)?.name === 'TimeoutError') return tr.t('timed out');
  return sanitize(cause?.message ?? cause?.code ?? String(error));
}

/**
 * How long a request that starts or stops VMs may take: a start may first copy the
 * profile's image to its host, and a lab's many VMs start a few at a time.
 */
export const LONG_REQUEST = { timeoutMs: 15 * 60_000 } as const;

export class ApiClient {
  readonly url: string;
  #token: string | undefined;
  #tr: Translator;
  #timeoutMs: number;
  #fetch: typeof fetch;

  constructor(options: ApiClientOptions) {
    this.url = options.url;
    this.#token = options.token;
    this.#tr = options.tr;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#fetch = options.fetch ?? fetch;
  }

  /** A GET answered with text (a VM's serial console): the body as it came. */
  async requestText(path: string): Promise<string> {
    return this.request<string>('GET', path, undefined, { text: true });
  }

  /** `path` is under /api/v1 and already encoded. Resolves to the JSON body (undefined on 204). */
  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    options: { readonly text?: boolean; readonly timeoutMs?: number } = {},
  ): Promise<T> {
    const headers: Record<string, string> = {
      accept: options.text
        ? 'text/plain, application/problem+json'
        : 'application/json, application/problem+json',
      'accept-language': this.#tr.locale,
    };
    if (this.#token !== undefined) headers['authorization'] = `Bearer ${this.#token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await this.#fetch(`${this.url}/api/v1${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        redirect: 'error',
        signal: AbortSignal.timeout(options.timeoutMs ?? this.#timeoutMs),
      });
    } catch (error) {
      throw new LabvirtError(
        'SERVER_UNREACHABLE',
        { url: this.url, reason: connectionReason(error, this.#tr) },
        { cause: error },
      );
    }
    const text = await response.text().catch(() => '');
    if (response.ok) {
      if (options.text === true) return text as T;
      if (response.status === 204 || text === '') return undefined as T;
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new LabvirtError('SERVER_ANSWER_INVALID', { url: this.url, status: response.status });
      }
    }
    const problem = parseProblem(text);
    if (problem === undefined) {
      throw new LabvirtError('SERVER_ANSWER_INVALID', { url: this.url, status: response.status });
    }
    const exitCode = response.status >= 400 && response.status < 500 ? EXIT_USAGE : EXIT_FAILURE;
    throw new CliMessageError(sanitize(problem.detail), exitCode);
  }
}

interface ProblemBody {
  readonly detail: string;
  readonly code: string;
}

function parseProblem(text: string): ProblemBody | undefined {
  try {
    const body = JSON.parse(text) as Partial<ProblemBody>;
    if (typeof body.detail === 'string' && typeof body.code === 'string')
      return { detail: body.detail, code: body.code };
  } catch {
    // not JSON: not one of ours
  }
  return undefined;
}
