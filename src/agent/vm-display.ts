// One running VM's display as the agent handles it: its gateway listener in the gateway
// daemon (when the VM has a display for terminals), its one-time tickets, and who is
// connected (the gateway's connections plus the clients QEMU reports that did not come
// through it, e.g. the console's). QEMU's connect and disconnect events make its client
// list be asked afresh, so a display client shows (and goes) at once.
import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { QmpConnection, QmpEventMessage } from '../qemu/process/qmp-connection.js';
import {
  burnCalls,
  gatewayTarget,
  mergeConnections,
  portCandidates,
  ticketCalls,
  ticketFromBytes,
  trackSince,
  unaccounted,
  TICKET_LENGTH,
  type GatewayRecord,
  type GatewayView,
  type PortRange,
  type QemuClients,
  type QmpCall,
} from './display-plan.js';
import type { GatewayControl } from './gateway-client.js';
import type { DisplayConnection, DisplayProtocol } from './host-agent.js';

/** QEMU's client counts are asked for at most this often per VM (the controller polls). */
const CLIENTS_CACHE_MS = 1_000;
/**
 * A SPICE client opens its other channels (display, inputs, cursor...) after the main one,
 * each authenticating with the same ticket: it is burnt this long after the main channel.
 */
export const SPICE_CHANNELS_GRACE_MS = 5_000;
/** The SPICE main channel's type in SPICE_INITIALIZED. */
const SPICE_MAIN_CHANNEL = 1;
/** QEMU's events that change its display client list. */
const CLIENT_EVENTS = new Set([
  'VNC_CONNECTED',
  'VNC_DISCONNECTED',
  'SPICE_CONNECTED',
  'SPICE_DISCONNECTED',
]);

export interface VmDisplayOptions {
  /** The VM's name: its listener's in the gateway daemon. */
  readonly name: string;
  readonly qmp: QmpConnection;
  /** The gateway to open; undefined: the VM has only the console's VNC socket. */
  readonly gateway?:
    | {
        readonly record: GatewayRecord;
        readonly sockets: { readonly vnc: string; readonly spice: string };
        readonly bind: string;
        readonly range?: PortRange | undefined;
        readonly control: GatewayControl;
      }
    | undefined;
  readonly now?: () => Date;
  readonly random?: (size: number) => Uint8Array;
}

export class VmDisplay {
  readonly name: string;
  /** The gateway as noted in the run directory (with the port it got). */
  record: GatewayRecord | undefined;
  #plan: VmDisplayOptions['gateway'];
  #qmp: QmpConnection;
  #now: () => Date;
  #random: (size: number) => Uint8Array;
  /** When the outstanding ticket was set; undefined when none is (never set, or burnt). */
  #ticketSetAt: number | undefined;
  #timers = new Set<NodeJS.Timeout>();
  #clients: { at: number; value: Promise<QemuClients> } | undefined;
  #since: { vnc: string[]; spice: string[] } = { vnc: [], spice: [] };
  #closed = false;
  /** Kept to be taken off the VM's QMP connection (which outlives this) on detach. */
  #listener = (event: QmpEventMessage) => this.#onEvent(event);

  private constructor(options: VmDisplayOptions) {
    this.name = options.name;
    this.#plan = options.gateway;
    this.record = options.gateway?.record;
    this.#qmp = options.qmp;
    this.#now = options.now ?? (() => new Date());
    this.#random = options.random ?? randomBytes;
    this.#qmp.on('event', this.#listener);
  }

  /** Watches the VM's display, opening (or keeping) its gateway listener. */
  static async open(options: VmDisplayOptions): Promise<VmDisplay> {
    const display = new VmDisplay(options);
    await display.reopen();
    return display;
  }

  /**
   * Opens the gateway listener on the port it had (first in the candidates); the daemon
   * keeps one already open as it is, connections and all. Returns whether the port changed.
   */
  async reopen(): Promise<boolean> {
    const plan = this.#plan;
    const record = this.record;
    if (plan === undefined || record === undefined) return false;
    const { display, port, hostPort } = record;
    const got = await plan.control.open({
      vm: this.name,
      protocol: display.protocol,
      bind: plan.bind,
      ports: portCandidates(plan.range, port),
      target: gatewayTarget(
        display.protocol,
        plan.sockets,
        hostPort,
        record.guestAddress,
        display.guestPort,
      ),
    });
    this.record = { ...record, port: got };
    return got !== port;
  }

  get summary(): { readonly protocol: DisplayProtocol; readonly port: number } | null {
    if (this.record === undefined) return null;
    return { protocol: this.record.display.protocol, port: this.record.port };
  }

  /** A new password valid for ttlSeconds and one client; undefined without a ticketed display. */
  async ticket(ttlSeconds: number): Promise<string | undefined> {
    const protocol = this.#ticketProtocol;
    if (protocol === undefined) return undefined;
    const password = ticketFromBytes(this.#random(TICKET_LENGTH[protocol]));
    // Set before QEMU has it: an authentication QEMU reports from now on may be this one.
    this.#ticketSetAt = this.#now().getTime();
    await this.#run(ticketCalls(protocol, password, ttlSeconds));
    return password;
  }

  async connections(): Promise<DisplayConnection[]> {
    const [qemu, view] = await Promise.all([this.#qemuClients(), this.#gatewayView()]);
    const extra = unaccounted(view, qemu);
    const now = this.#now().toISOString();
    this.#since = {
      vnc: trackSince(this.#since.vnc, extra.vnc, now),
      spice: trackSince(this.#since.spice, extra.spice, now),
    };
    return mergeConnections(view, this.#since);
  }

  /** Stops watching; the gateway listener stays in the daemon (an agent's close). */
  detach(): void {
    this.#closed = true;
    this.#qmp.off('event', this.#listener);
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  /** The VM ended: its gateway listener closes too, cutting its connections. */
  async close(): Promise<void> {
    this.detach();
    if (this.#plan !== undefined) await this.#plan.control.close(this.name);
  }

  /** The daemon's listener of this VM; none while the daemon cannot be reached. */
  async #gatewayView(): Promise<GatewayView | undefined> {
    if (this.#plan === undefined) return undefined;
    const listed = await this.#plan.control.list(this.name).catch(() => []);
    const listener = listed.find((l) => l.vm === this.name);
    if (listener === undefined) return undefined;
    return { protocol: listener.protocol, connections: listener.connections };
  }

  get #ticketProtocol(): 'vnc' | 'spice' | undefined {
    const display = this.record?.display;
    if (display === undefined || !display.ticketed || display.protocol === 'rdp') return undefined;
    return display.protocol;
  }

  #onEvent(event: QmpEventMessage): void {
    if (this.#closed) return;
    // Someone came or went: the next look asks QEMU (the cache would hide it for a while).
    if (CLIENT_EVENTS.has(event.event)) this.#clients = undefined;
    const protocol = this.#ticketProtocol;
    if (this.#ticketSetAt === undefined || protocol === undefined) return;
    const at =
      event.timestamp === undefined
        ? this.#now().getTime()
        : event.timestamp.seconds * 1000 + event.timestamp.microseconds / 1000;
    // An authentication from before the ticket was set used an older password.
    if (at < this.#ticketSetAt) return;
    if (protocol === 'vnc' && event.event === 'VNC_INITIALIZED') {
      // The web console's own server (no password: DisplaySpec.consoleSocket) used no ticket.
      const server = event.data?.['server'] as Record<string, unknown> | undefined;
      if (server?.['auth'] === 'none') return;
      void this.#burn(protocol);
    } else if (protocol === 'spice' && event.event === 'SPICE_INITIALIZED') {
      const client = event.data?.['client'] as Record<string, unknown> | undefined;
      if (client?.['channel-type'] !== SPICE_MAIN_CHANNEL) return;
      const setAt = this.#ticketSetAt;
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        // A ticket set since then is a new one: it is not this client's to burn.
        if (this.#ticketSetAt === setAt) void this.#burn(protocol);
      }, SPICE_CHANNELS_GRACE_MS);
      timer.unref();
      this.#timers.add(timer);
    }
  }

  async #burn(protocol: 'vnc' | 'spice'): Promise<void> {
    this.#ticketSetAt = undefined;
    if (this.#closed) return;
    const unknown = ticketFromBytes(this.#random(TICKET_LENGTH[protocol]));
    // The VM may be going away: then nobody can use the ticket anyway.
    await this.#run(burnCalls(protocol, unknown)).catch(() => undefined);
  }

  async #run(calls: readonly QmpCall[]): Promise<void> {
    for (const call of calls) await this.#qmp.execute(call.command, call.args);
  }

  #qemuClients(): Promise<QemuClients> {
    const now = Date.now();
    if (this.#clients === undefined || now - this.#clients.at > CLIENTS_CACHE_MS) {
      this.#clients = { at: now, value: this.#askQemu() };
    }
    return this.#clients.value;
  }

  async #askQemu(): Promise<QemuClients> {
    const spice = this.record?.display.protocol === 'spice';
    const [vnc, channels] = await Promise.all([
      this.#qmp
        .execute<{ clients?: unknown[] }>('query-vnc')
        .then((info) => info.clients?.length ?? 0)
        .catch(() => 0),
      spice
        ? this.#qmp
            .execute<{ channels?: { 'connection-id'?: number }[] }>('query-spice')
            .then((info) => new Set((info.channels ?? []).map((c) => c['connection-id'])).size)
            .catch(() => 0)
        : 0,
    ]);
    return { vnc, spice: channels };
  }
}

export async function writeGatewayRecord(path: string, record: GatewayRecord): Promise<void> {
  const temporary = `${path}.tmp`;
  await writeFile(temporary, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  await rename(temporary, path);
}

export async function readGatewayRecord(path: string): Promise<GatewayRecord | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as GatewayRecord;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
}
