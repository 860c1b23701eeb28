// The agent's client of the controller (join, hello, image downloads). The controller's
// identity is the sha256 of its certificate, pinned at join from the token: the TLS socket is
// opened and its certificate checked before a single byte of the request (and its bearer
// secret) is written; the host name is not checked, the pin is the identity. Plain HTTP only
// without a pin (the join code allows it to a loopback controller alone).
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import tls from 'node:tls';
import { LabvirtError } from '../domain/errors.js';
import { problemOfBody } from './remote/agent-errors.js';
import { certificateSha256, fingerprintToHex } from './remote/pinned-tls.js';

export interface ControllerClientOptions {
  /** The controller's origin, like https://controller:8443 (no path). */
  readonly url: string;
  /** sha256 (hex) of the controller certificate's DER, or null: plain http:// to loopback. */
  readonly pinnedSha256: string | null;
  readonly hostId?: string | undefined;
  readonly agentSecret?: string | undefined;
  /** Whole-request limit of request(), and the idle limit of a download's socket. */
  readonly timeoutMs?: number;
}

export interface Download {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Readable;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_ERROR_BODY = 64 * 1024;

export { certificateSha256 };

export class ControllerClient {
  readonly url: string;
  readonly pinnedSha256: string | null;
  readonly hostId: string | undefined;
  #agentSecret: string | undefined;
  #timeoutMs: number;
  #origin: URL;

  constructor(options: ControllerClientOptions) {
    const origin = new URL(options.url);
    if (origin.protocol !== 'https:' && origin.protocol !== 'http:')
      throw new LabvirtError('OPTION_INVALID', {
        option: 'controller URL',
        reason: 'use https:// (or http:// to a controller on this machine)',
      });
    if (origin.protocol === 'http:' && options.pinnedSha256 !== null)
      throw new LabvirtError('OPTION_INVALID', {
        option: 'controller URL',
        reason: 'a pinned certificate needs an https:// URL',
      });
    this.#origin = origin;
    this.url = origin.origin;
    this.pinnedSha256 =
      options.pinnedSha256 === null ? null : fingerprintToHex(options.pinnedSha256);
    this.hostId = options.hostId;
    this.#agentSecret = options.agentSecret;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** A JSON request; `path` starts with / (like /api/v1/agent/join). Problems are rethrown. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const signal = AbortSignal.timeout(this.#timeoutMs);
    const response = await this.#send(method, path, payload, {}, signal);
    const text = await readText(response, signal).catch((error: unknown) => {
      throw this.#unreachable(error);
    });
    const status = response.statusCode ?? 0;
    if (status >= 200 && status < 300) {
      if (status === 204 || text === '') return undefined as T;
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new LabvirtError('SERVER_ANSWER_INVALID', { url: this.url, status });
      }
    }
    throw (
      problemOfBody(text.slice(0, MAX_ERROR_BODY)) ??
      new LabvirtError('SERVER_ANSWER_INVALID', { url: this.url, status })
    );
  }

  /**
   * A GET whose body is streamed (an image layer) from byte `offset` (a Range request when
   * not 0). Any status is returned as it came: the caller tells 200, 206 and failures apart
   * (see problemOf for a failure's body).
   */
  async download(path: string, options: { readonly offset?: number } = {}): Promise<Download> {
    const offset = options.offset ?? 0;
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    const response = await this.#send('GET', path, undefined, headers);
    // Idle limit only: a layer of gigabytes takes as long as it takes.
    response.socket.setTimeout(this.#timeoutMs, () =>
      response.destroy(new Error(`no data for ${this.#timeoutMs} ms`)),
    );
    return { status: response.statusCode ?? 0, headers: response.headers, body: response };
  }

  /** The LabvirtError a failed download's problem+json body carries, if it carries one. */
  async problemOf(download: Download): Promise<LabvirtError> {
    const text = await readText(download.body as IncomingMessage).catch(() => '');
    return (
      problemOfBody(text.slice(0, MAX_ERROR_BODY)) ??
      new LabvirtError('SERVER_ANSWER_INVALID', { url: this.url, status: download.status })
    );
  }

  #send(
    method: string,
    path: string,
    payload: Buffer | undefined,
    extra: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<IncomingMessage> {
    const headers: Record<string, string> = {
      accept: 'application/json, application/problem+json',
      ...extra,
    };
    if (this.#agentSecret !== undefined) headers['authorization'] = `Bearer ${this.#agentSecret}`;
    if (this.hostId !== undefined) headers['x-labvirt-host'] = this.hostId;
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const target = {
      hostname: this.#origin.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: this.#origin.port === '' ? undefined : Number(this.#origin.port),
      path,
      method,
      headers,
      signal,
      timeout: this.#timeoutMs,
    };
    return new Promise<IncomingMessage>((resolve, reject) => {
      const fail = (error: unknown) => reject(this.#unreachable(error));
      const start = (socket?: Socket) => {
        // No agent with a socket of our own (an agent would open its own connection).
        const request =
          socket !== undefined
            ? http.request({ ...target, createConnection: () => socket })
            : this.#origin.protocol === 'http:'
              ? http.request({ ...target, agent: false })
              : https.request({ ...target, agent: false });
        request.on('response', resolve);
        request.on('error', fail);
        request.on('timeout', () => request.destroy(new Error('timed out')));
        request.end(payload);
      };
      if (this.pinnedSha256 === null) start();
      else this.#connectPinned(target.hostname, target.port ?? 443, signal).then(start, reject);
    });
  }

  /** A TLS socket whose peer presented the pinned certificate, nothing written on it yet. */
  #connectPinned(host: string, port: number, signal?: AbortSignal): Promise<Socket> {
    return new Promise<Socket>((resolve, reject) => {
      const socket = tls.connect({
        host,
        port,
        // Self-signed and named anything: the pin below is the whole check.
        rejectUnauthorized: false,
        ...(isIP(host) === 0 ? { servername: host } : {}),
      });
      signal?.addEventListener('abort', () => socket.destroy(signal.reason as Error), {
        once: true,
      });
      const onError = (error: Error) => reject(this.#unreachable(error));
      socket.once('error', onError);
      // A host that takes the SYN and never answers is as gone as one that refuses.
      socket.setTimeout(this.#timeoutMs, () => socket.destroy(new Error('timed out')));
      socket.once('secureConnect', () => {
        socket.off('error', onError);
        socket.setTimeout(0);
        const actual = fingerprintToHex(socket.getPeerCertificate().fingerprint256 ?? '');
        if (actual !== this.pinnedSha256) {
          socket.destroy();
          reject(
            new LabvirtError('CONTROLLER_CERTIFICATE_MISMATCH', {
              url: this.url,
              actual: actual === '' ? 'none' : actual,
            }),
          );
          return;
        }
        resolve(socket);
      });
    });
  }

  #unreachable(error: unknown): LabvirtError {
    if (error instanceof LabvirtError) return error;
    const cause = error as { code?: string; message?: string; name?: string };
    const reason =
      cause.name === 'TimeoutError' || cause.name === 'AbortError'
        ? 'timed out'
        : (cause.code ?? cause.message ?? String(error));
    return new LabvirtError('SERVER_UNREACHABLE', { url: this.url, reason }, { cause: error });
  }
}

const MAX_JSON_BODY = 16 * 1024 * 1024;

async function readText(stream: Readable, signal?: AbortSignal): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    signal?.throwIfAborted();
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_JSON_BODY) {
      stream.destroy();
      throw new Error('the answer is too large');
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
