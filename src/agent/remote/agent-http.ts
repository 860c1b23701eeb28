// HTTPS requests to one agent's API: its pinned certificate, the controller secret as a
// bearer token, a deadline per request, and every failure as one of LabvirtError's codes.
import { Agent, request as httpsRequest } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { AGENT_API_PREFIX } from '../api/agent-app.js';
import { answerError, transportError } from './agent-errors.js';
import { pinnedTls, type PinnedTlsOptions } from './pinned-tls.js';

export interface AgentHttpOptions {
  /** The host's name, for error messages. */
  readonly hostName: string;
  /** The agent API's origin, e.g. https://10.0.0.5:8445. */
  readonly url: string;
  /** The agent's certificate (PEM): the only one accepted. */
  readonly certificate: string;
  /** The controller secret the agent knows the hash of. */
  readonly secret: string;
}

function timedOut(ms: number): Error {
  return Object.assign(new Error(`no answer within ${Math.round(ms / 1000)} s`), {
    code: 'ETIMEDOUT',
  });
}

export class AgentHttp {
  readonly hostName: string;
  readonly tls: PinnedTlsOptions;
  #base: URL;
  #secret: string;
  #pool: Agent;
  #broken: Error | undefined;

  constructor(options: AgentHttpOptions) {
    this.hostName = options.hostName;
    this.#secret = options.secret;
    // A row with no usable URL or certificate makes an agent that fails every request
    // (the pool reports it offline with the reason), not a constructor that throws.
    let base: URL | undefined;
    let tls: PinnedTlsOptions | undefined;
    try {
      base = new URL(options.url);
      if (base.protocol !== 'https:') throw new Error(`not an https:// URL: ${options.url}`);
      tls = pinnedTls(options.certificate);
    } catch (error) {
      this.#broken = transportError(
        this.hostName,
        new Error(
          tls === undefined && base !== undefined && base.protocol === 'https:'
            ? 'its enrolled certificate is not a valid PEM certificate'
            : `its address is not an agent URL: ${options.url || '(none)'}`,
          { cause: error },
        ),
      );
    }
    this.#base = base ?? new URL('https://invalid.invalid');
    this.tls = tls ?? { rejectUnauthorized: true, checkServerIdentity: () => new Error('no pin') };
    this.#pool = new Agent({ keepAlive: true, maxSockets: 16, ...this.tls });
  }

  /** The URL of an API path ('/vms' → https://…/agent/v1/vms), with ws: or http(s). */
  url(path: string, protocol?: 'wss:'): URL {
    const url = new URL(AGENT_API_PREFIX + path, this.#base);
    if (protocol !== undefined) url.protocol = protocol;
    return url;
  }

  /** Why every request fails (an unusable URL or certificate); undefined when usable. */
  get broken(): Error | undefined {
    return this.#broken;
  }

  get authorization(): string {
    return `Bearer ${this.#secret}`;
  }

  /** A JSON request; resolves with the parsed answer (undefined for 204), else throws. */
  async json<T>(method: string, path: string, body: unknown, timeoutMs: number): Promise<T> {
    const response = await this.#send(method, path, body, timeoutMs, 'application/json');
    const text = await readText(response, this.hostName);
    const status = response.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      throw answerError(this.hostName, status, response.headers['content-type'], text);
    }
    if (status === 204 || text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw transportError(this.hostName, error);
    }
  }

  /**
   * A long-lived answer (the event stream): resolves once its headers are in with a 2xx
   * (the deadline covers only that), else throws like json().
   */
  async stream(path: string, timeoutMs: number): Promise<IncomingMessage> {
    const response = await this.#send('GET', path, undefined, timeoutMs, 'text/event-stream');
    const status = response.statusCode ?? 0;
    if (status >= 200 && status < 300) return response;
    const text = await readText(response, this.hostName);
    throw answerError(this.hostName, status, response.headers['content-type'], text);
  }

  #send(
    method: string,
    path: string,
    body: unknown,
    timeoutMs: number,
    accept: string,
  ): Promise<IncomingMessage> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    if (this.#broken !== undefined) return Promise.reject(this.#broken);
    return new Promise((resolve, reject) => {
      const request = httpsRequest(this.url(path), {
        method,
        agent: this.#pool,
        ...this.tls,
        headers: {
          authorization: this.authorization,
          accept,
          ...(payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': payload.length }),
        },
      });
      const timer = setTimeout(() => request.destroy(timedOut(timeoutMs)), timeoutMs);
      request.once('response', (response) => {
        clearTimeout(timer);
        resolve(response);
      });
      request.once('error', (error) => {
        clearTimeout(timer);
        reject(transportError(this.hostName, error));
      });
      request.end(payload);
    });
  }

  close(): void {
    this.#pool.destroy();
  }
}

function readText(response: IncomingMessage, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => (text += chunk));
    let ended = false;
    response.once('end', () => {
      ended = true;
      resolve(text);
    });
    response.once('error', (error) => reject(transportError(host, error)));
    response.once('close', () => {
      if (!ended) reject(transportError(host, new Error('the answer was cut short')));
    });
  });
}
