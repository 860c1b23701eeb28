// A host's agent over HTTPS (`labvirt agent`'s API, src/agent/api): the same HostAgent the
// in-process LocalAgent is, so the controller cannot tell them apart. The agent's
// certificate is pinned; its errors come back as the LabvirtErrors they were; one event
// stream (opened on the first subscription, reopened while closed) carries VM ends.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { createWebSocketStream, WebSocket } from 'ws';
import { isLabvirtError } from '../../domain/errors.js';
import type {
  AgentVm,
  AgentVmSpec,
  DhcpHost,
  HostAgent,
  HostReport,
  HostUsage,
  ImageLayer,
  ImageRef,
  StopRequest,
  VmEnded,
} from '../host-agent.js';
import { answerError, transportError } from './agent-errors.js';
import { AgentHttp } from './agent-http.js';
import { AgentEventStream, type EventStreamTiming } from './event-stream.js';

export interface RemoteAgentOptions {
  readonly hostName: string;
  /** The agent API's URL (hosts.address), e.g. https://10.0.0.5:8445. */
  readonly url: string;
  /** The agent's certificate (PEM), pinned: no other is accepted. */
  readonly certificate: string;
  /** The controller secret (hosts.controller_secret). */
  readonly secret: string;
  /** The deadline of ordinary requests (30 s). */
  readonly timeoutMs?: number;
  /** The deadline of starts, stops and image fetches (10 min). */
  readonly longTimeoutMs?: number;
  /** The event stream's retry and silence limits (tests shorten them). */
  readonly events?: EventStreamTiming;
  /** Why the event stream closed or could not open, each time (a debug log). */
  readonly onStreamProblem?: (error: unknown) => void;
}

const seg = encodeURIComponent;

function ended(body: Partial<VmEnded> & { name: string; state: VmEnded['state'] }): VmEnded {
  return {
    name: body.name,
    state: body.state,
    reason: body.reason ?? undefined,
    stopMethod: body.stopMethod ?? undefined,
  };
}

export class RemoteAgent implements HostAgent {
  readonly hostName: string;
  #http: AgentHttp;
  #timeoutMs: number;
  #longTimeoutMs: number;
  #events = new EventEmitter<{ ended: [VmEnded]; reconnect: [] }>();
  #stream: AgentEventStream;

  constructor(options: RemoteAgentOptions) {
    this.hostName = options.hostName;
    this.#http = new AgentHttp(options);
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#longTimeoutMs = options.longTimeoutMs ?? 10 * 60_000;
    this.#events.setMaxListeners(0);
    this.#stream = new AgentEventStream(
      this.#http,
      {
        onEvent: (event) => {
          if (event.event !== 'vm-ended') return;
          this.#events.emit('ended', ended(JSON.parse(event.data) as VmEnded));
        },
        onOpen: () => this.#events.emit('reconnect'),
        ...(options.onStreamProblem === undefined ? {} : { onProblem: options.onStreamProblem }),
      },
      options.events,
    );
  }

  #get<T>(path: string): Promise<T> {
    return this.#http.json<T>('GET', path, undefined, this.#timeoutMs);
  }

  #post<T>(path: string, body: unknown, long = false): Promise<T> {
    return this.#http.json<T>('POST', path, body, long ? this.#longTimeoutMs : this.#timeoutMs);
  }

  report(): Promise<HostReport> {
    return this.#get('/report');
  }

  usage(): Promise<HostUsage> {
    return this.#get('/usage');
  }

  listVms(): Promise<AgentVm[]> {
    return this.#get('/vms');
  }

  async vm(name: string): Promise<AgentVm | undefined> {
    try {
      return await this.#get<AgentVm>(`/vms/${seg(name)}`);
    } catch (error) {
      if (isLabvirtError(error) && error.code === 'VM_NOT_FOUND') return undefined;
      throw error;
    }
  }

  startVm(spec: AgentVmSpec): Promise<AgentVm> {
    return this.#post('/vms', spec, true);
  }

  async stopVm(name: string, request: StopRequest = {}): Promise<VmEnded> {
    return ended(await this.#post(`/vms/${seg(name)}/stop`, request, true));
  }

  async ticket(name: string, ttlSeconds: number): Promise<string | undefined> {
    const body = await this.#post<{ password: string | null }>(`/vms/${seg(name)}/ticket`, {
      ttlSeconds,
    });
    return body.password ?? undefined;
  }

  async resetVm(name: string): Promise<void> {
    await this.#post(`/vms/${seg(name)}/reset`, {});
  }

  async serialLog(name: string, maxBytes?: number): Promise<string | undefined> {
    const query = maxBytes === undefined ? '' : `?maxBytes=${Math.max(0, Math.floor(maxBytes))}`;
    const body = await this.#get<{ text: string | null }>(`/vms/${seg(name)}/serial${query}`);
    return body.text ?? undefined;
  }

  async setDhcpHosts(hosts: readonly DhcpHost[]): Promise<void> {
    await this.#http.json('PUT', '/dhcp-hosts', hosts, this.#timeoutMs);
  }

  listImages(): Promise<ImageRef[]> {
    return this.#get('/images');
  }

  ensureImage(layers: readonly ImageLayer[]): Promise<{ readonly fetched: readonly string[] }> {
    return this.#post('/images/ensure', { layers }, true);
  }

  /** The VM's VNC display through the agent's WebSocket, as a byte stream. */
  openDisplay(name: string): Promise<Duplex> {
    const host = this.hostName;
    if (this.#http.broken !== undefined) return Promise.reject(this.#http.broken);
    const ws = new WebSocket(this.#http.url(`/vms/${seg(name)}/display`, 'wss:'), {
      ...this.#http.tls,
      headers: { authorization: this.#http.authorization },
      handshakeTimeout: this.#timeoutMs,
      maxPayload: 1024 * 1024,
    });
    return new Promise((resolve, reject) => {
      const fail = (error: unknown) => {
        ws.removeAllListeners();
        ws.on('error', () => undefined);
        ws.terminate();
        reject(error);
      };
      ws.once('open', () => {
        ws.removeAllListeners('error');
        ws.removeAllListeners('unexpected-response');
        resolve(createWebSocketStream(ws));
      });
      ws.once('error', (error) => fail(transportError(host, error)));
      ws.once('unexpected-response', (_request, response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.once('end', () =>
          fail(answerError(host, response.statusCode ?? 0, response.headers['content-type'], text)),
        );
        response.once('error', (error) => fail(transportError(host, error)));
      });
    });
  }

  onVmEnded(listener: (ended: VmEnded) => void): () => void {
    this.#events.on('ended', listener);
    this.#stream.start();
    return () => this.#events.off('ended', listener);
  }

  /**
   * Tells `listener` each time the event stream (re)opens after being closed or never
   * open: VM ends may have been missed meanwhile, so the caller reconciles the host.
   */
  onReconnect(listener: () => void): () => void {
    this.#events.on('reconnect', listener);
    this.#stream.start();
    return () => this.#events.off('reconnect', listener);
  }

  async close(): Promise<void> {
    this.#stream.close();
    this.#events.removeAllListeners();
    this.#http.close();
  }
}
