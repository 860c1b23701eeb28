// The DHCP host entries of terminals' VMs (every terminal with an address of its lab's
// pool: its stable VM MAC, the address, a host name), exported as a file for a DHCP
// server and pushed to the agents, whose managed dnsmasq serves exactly these.
import type { Kysely } from 'kysely';
import type { DhcpHost, HostAgent } from '../../agent/host-agent.js';
import {
  dhcpHostEntries,
  formatDhcpd,
  formatDnsmasq,
  type DhcpFormat,
  type DhcpHostEntry,
} from '../../domain/dhcp-hosts.js';
import { terminalVmMac } from '../../domain/terminal-mac.js';
import type { Database } from '../../db/schema.js';
import { findLab } from './labs.js';

/** The entries of one lab (by id or name), or of every lab. */
export async function listDhcpHosts(
  db: Kysely<Database>,
  filter: { readonly lab?: string | undefined } = {},
): Promise<DhcpHostEntry[]> {
  let query = db
    .selectFrom('terminal_addresses')
    .innerJoin('terminals', 'terminals.id', 'terminal_addresses.terminal_id')
    .innerJoin('labs', 'labs.id', 'terminals.lab_id')
    .select([
      'terminals.id',
      'terminals.mac',
      'terminals.name',
      'labs.name as lab',
      'terminal_addresses.ip',
    ]);
  if (filter.lab !== undefined)
    query = query.where('labs.id', '=', (await findLab(db, filter.lab, 'query.lab')).id);
  const rows = await query.execute();
  return dhcpHostEntries(
    rows.map((row) => ({
      lab: row.lab,
      terminal: row.mac,
      terminalName: row.name,
      mac: terminalVmMac(row.id),
      ip: row.ip,
    })),
  );
}

/** The entries as the file of a DHCP server (text), or as they are (json). */
export function formatDhcpHosts(
  entries: readonly DhcpHostEntry[],
  format: DhcpFormat,
): string | readonly DhcpHostEntry[] {
  if (format === 'dnsmasq') return formatDnsmasq(entries);
  if (format === 'dhcpd') return formatDhcpd(entries);
  return entries;
}

interface AgentSlot {
  readonly agent: HostAgent;
  busy: boolean;
  next: DhcpHost[] | undefined;
}

/** How long a push waits for one agent before it goes on without it. */
export const DHCP_PUSH_TIMEOUT_MS = 5000;

/** The agents to give the entries to: a list, or asked each time (the pool's online hosts). */
export type DhcpAgents = readonly HostAgent[] | (() => Iterable<{ readonly agent: HostAgent }>);

/**
 * Gives every agent the current entries, after each change of addresses and at start.
 * Pushes run one after another (each reads the entries when its turn comes, so the last
 * one carries the last change); a failing agent is logged, never the caller's failure.
 * An agent that does not answer in time is logged and left behind, so one stuck agent
 * does not hang every admin change; it keeps its own order: while a call to it is
 * unanswered it gets nothing new, and once that call settles it gets the latest entries.
 */
export class DhcpHostsPusher {
  readonly #db: Kysely<Database>;
  readonly #agents: DhcpAgents;
  readonly #log: (error: unknown, message: string) => void;
  readonly #timeoutMs: number;
  /** Per agent: a call to it is unanswered, and the entries to give it once it settles. */
  readonly #slots = new Map<HostAgent, AgentSlot>();
  #queue: Promise<void> = Promise.resolve();

  constructor(
    db: Kysely<Database>,
    agents: DhcpAgents,
    log: (error: unknown, message: string) => void,
    options: { readonly timeoutMs?: number } = {},
  ) {
    this.#db = db;
    this.#agents = agents;
    this.#log = log;
    this.#timeoutMs = options.timeoutMs ?? DHCP_PUSH_TIMEOUT_MS;
  }

  /** The slots of the agents there now (a host that went away loses its slot). */
  #current(): AgentSlot[] {
    const agents =
      typeof this.#agents === 'function'
        ? [...this.#agents()].map((entry) => entry.agent)
        : this.#agents;
    const present = new Set(agents);
    for (const agent of this.#slots.keys()) if (!present.has(agent)) this.#slots.delete(agent);
    return agents.map((agent) => {
      let slot = this.#slots.get(agent);
      if (slot === undefined)
        this.#slots.set(agent, (slot = { agent, busy: false, next: undefined }));
      return slot;
    });
  }

  /** Resolves once this push (and those before it) is done; never rejects. */
  push(): Promise<void> {
    this.#queue = this.#queue.then(() => this.#pushNow());
    return this.#queue;
  }

  async #pushNow(): Promise<void> {
    const slots = this.#current();
    if (slots.length === 0) return;
    let hosts: DhcpHost[];
    try {
      hosts = (await listDhcpHosts(this.#db)).map(({ mac, ip, name }) => ({ mac, ip, name }));
    } catch (error) {
      this.#log(error, 'reading the DHCP host entries failed; the agents were not told');
      return;
    }
    await Promise.all(
      slots.map((slot) => {
        if (!slot.busy) return this.#send(slot, hosts);
        slot.next = hosts; // given once the unanswered call settles, never before it
        return undefined;
      }),
    );
  }

  /** Resolves when the agent answers or the time is up, whichever comes first. */
  #send(slot: AgentSlot, hosts: DhcpHost[]): Promise<void> {
    slot.busy = true;
    const call = slot.agent
      .setDhcpHosts(hosts)
      .catch((error: unknown) => this.#log(error, 'giving an agent its DHCP host entries failed'))
      .finally(() => {
        slot.busy = false;
        const next = slot.next;
        slot.next = undefined;
        if (next !== undefined) void this.#send(slot, next);
      });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.#log(
          new Error(`no answer in ${this.#timeoutMs} ms`),
          'giving an agent its DHCP host entries failed; it gets the latest ones once it answers',
        );
        resolve();
      }, this.#timeoutMs);
    });
    return Promise.race([call, late]).finally(() => clearTimeout(timer));
  }
}
