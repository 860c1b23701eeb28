// Who is connected straight to a bridged guest's port (RDP, not through the gateway): the
// host's connection tracking sees every flow it bridges, nothing runs inside the guest.
// The kernel needs NF_CONNTRACK with /proc/net/nf_conntrack, bridged IPv4 passed to
// netfilter (net.bridge.bridge-nf-call-iptables=1) and a ruleset that uses conntrack on the
// forward hook (e.g. an nft `inet` table with a `ct state` rule): without one, nothing is
// tracked and every bridged guest reads as not connected. Reading /proc/net/nf_conntrack
// needs root (CAP_NET_ADMIN): a non-root agent sees no such connections, and says so once
// (`problem`, and its log), since an idle policy may then stop a VM that is in use.
import { readFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { formatPeer } from './display-plan.js';
import type { DisplayConnection } from './host-agent.js';

export const CONNTRACK_FILE = '/proc/net/nf_conntrack';

/** An established TCP flow in its original direction (the side that connected first). */
export interface TcpFlow {
  readonly src: string;
  readonly sport: number;
  readonly dst: string;
  readonly dport: number;
}

/**
 * The established TCP flows of /proc/net/nf_conntrack's text. A line is
 * `ipv4 2 tcp 6 TIMEOUT STATE src= dst= sport= dport= [flags] src= dst= ...` (the reply
 * tuple second); only the first tuple counts. IPv6 addresses come uncompressed there and
 * are left so (a guest's address is compared as IPv4 anyway).
 */
export function establishedFlows(text: string): TcpFlow[] {
  const flows: TcpFlow[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields[2] !== 'tcp' || fields[5] !== 'ESTABLISHED') continue;
    const tuple = new Map<string, string>();
    for (const field of fields.slice(6)) {
      const eq = field.indexOf('=');
      if (eq <= 0) continue;
      const key = field.slice(0, eq);
      if (tuple.has(key)) break; // the reply tuple begins
      tuple.set(key, field.slice(eq + 1));
    }
    const src = tuple.get('src');
    const dst = tuple.get('dst');
    const sport = Number(tuple.get('sport'));
    const dport = Number(tuple.get('dport'));
    if (src === undefined || dst === undefined || !(sport > 0) || !(dport > 0)) continue;
    flows.push({ src, sport, dst, dport });
  }
  return flows;
}

/** The flows to address:port from anywhere but `local` (the host itself: its gateway's relay). */
export function flowsTo(
  flows: readonly TcpFlow[],
  address: string,
  port: number,
  local: ReadonlySet<string>,
): TcpFlow[] {
  return flows.filter((f) => f.dst === address && f.dport === port && !local.has(f.src));
}

/** This host's own addresses (a flow from one of them is the host's, e.g. the gateway's). */
export function localAddresses(): Set<string> {
  const all = Object.values(networkInterfaces()).flatMap((list) => list ?? []);
  return new Set(all.map((entry) => entry.address));
}

/** The table's text; '' when this kernel has none (no conntrack: nobody is seen). */
export async function readConntrackTable(file = CONNTRACK_FILE): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
}

export interface ConntrackReaderOptions {
  /** The table's text; a failure (other than no table) is reported once, read as empty. */
  readonly read?: () => Promise<string>;
  /** Where that one report goes (stderr by default). */
  readonly log?: (line: string) => void;
  readonly now?: () => Date;
  readonly local?: () => ReadonlySet<string>;
  /** The table is read at most this often (a VM list asks for every VM at once). */
  readonly cacheMs?: number;
}

/**
 * Reads the table on demand (cached briefly) and remembers when each flow was first seen,
 * so a connection keeps its `since` from one look to the next.
 */
export class ConntrackReader {
  #read: () => Promise<string>;
  #now: () => Date;
  #local: () => ReadonlySet<string>;
  #cacheMs: number;
  #last: { at: number; value: Promise<TcpFlow[]> } | undefined;
  #firstSeen = new Map<string, string>();
  #log: (line: string) => void;
  /** Why the table cannot be read (e.g. EACCES for a non-root agent); undefined when it can. */
  problem: string | undefined;

  constructor(options: ConntrackReaderOptions = {}) {
    this.#read = options.read ?? (() => readConntrackTable());
    this.#log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.#now = options.now ?? (() => new Date());
    this.#local = options.local ?? localAddresses;
    this.#cacheMs = options.cacheMs ?? 500;
  }

  /** The connections straight to address:port, established now. */
  async connections(address: string, port: number): Promise<DisplayConnection[]> {
    const flows = flowsTo(await this.#flows(), address, port, this.#local());
    return flows.map((flow) => {
      const peer = formatPeer(flow.src, flow.sport);
      const key = `${peer}>${address}:${port}`;
      return { peer, since: this.#firstSeen.get(key) ?? '', via: 'conntrack' as const };
    });
  }

  #flows(): Promise<TcpFlow[]> {
    const now = this.#now().getTime();
    if (this.#last === undefined || now - this.#last.at > this.#cacheMs) {
      const value = this.#read()
        .catch((error: unknown) => this.#unreadable(error))
        .then((text) => this.#remember(establishedFlows(text)));
      this.#last = { at: now, value };
    }
    return this.#last.value;
  }

  /** Rather than every view failing: no connections seen, said once. */
  #unreadable(error: unknown): string {
    const why = error instanceof Error ? error.message : String(error);
    if (this.problem === undefined) {
      this.#log(
        `labvirt agent: cannot read ${CONNTRACK_FILE} (${why}): connections straight to bridged guests are not seen (it needs root)`,
      );
    }
    this.problem = why;
    return '';
  }

  /** Notes first sightings; forgets flows that are gone (a port reused later is new). */
  #remember(flows: TcpFlow[]): TcpFlow[] {
    const at = this.#now().toISOString();
    const seen = new Map<string, string>();
    for (const flow of flows) {
      const key = `${formatPeer(flow.src, flow.sport)}>${flow.dst}:${flow.dport}`;
      seen.set(key, this.#firstSeen.get(key) ?? at);
    }
    this.#firstSeen = seen;
    return flows;
  }
}
