// Every host's agent, by host id: the in-process LocalAgent for this machine, and one
// RemoteAgent (made by `connect`) per enrolled host of the hosts table. refresh() (every
// 5 s, by the server) follows the table: hosts added are connected, hosts removed are
// dropped, and each agent is asked for its report with a short time limit, which makes
// its host online or offline (with why) in the table. A host that comes online has its
// VMs reconciled, its images recorded and prefetched and its DHCP entries pushed
// (onHostOnline). A host going offline ends nothing: its VMs are the agent's, and they
// are found again when it comes back (invariant 5).
import { EventEmitter } from 'node:events';
import type { Kysely } from 'kysely';
import type { HostAgent, HostReport, VmEnded } from '../../agent/host-agent.js';
import { LabvirtError } from '../../domain/errors.js';
import type { Database, Host } from '../../db/schema.js';
import { registerHost } from '../services/hosts.js';

/** How long a host's agent has to answer a report before the host counts as offline. */
export const REPORT_TIMEOUT_MS = 4_000;
/** How often the server refreshes the pool. */
export const REFRESH_INTERVAL_MS = 5_000;

/** What the pool tells the image distribution of a host that came online. */
export interface HostImages {
  recordHeld(hostId: string, agent: HostAgent): Promise<void>;
  prefetch(hostId: string, agent: HostAgent): Promise<void> | void;
}

export interface AgentPoolDeps {
  readonly db: Kysely<Database>;
  readonly now: () => Date;
  readonly log?: ((error: unknown, message: string) => void) | undefined;
  /** The agent of this machine (in-process), registered as the local host. */
  readonly local?: HostAgent | undefined;
  /** A remote host's agent from its row (address, pinned certificate, secret). */
  readonly connect?: ((host: Host) => HostAgent) | undefined;
  readonly images?: HostImages | undefined;
  /** Run when a host comes online (its VMs' reconcile, the DHCP push); errors are logged. */
  readonly onHostOnline?: ((hostId: string) => Promise<void>) | undefined;
  readonly reportTimeoutMs?: number | undefined;
}

/** One host's agent, by the host's id. */
export interface PoolEntry {
  readonly hostId: string;
  readonly agent: HostAgent;
}

interface Slot {
  readonly hostId: string;
  name: string;
  readonly agent: HostAgent;
  readonly local: boolean;
  /** What the connection was made from: a change (new certificate, address) reconnects. */
  readonly key: string;
  online: boolean;
  state: string;
  reason: string | null;
  report: HostReport | undefined;
  /** The come-online work must run (again): it failed, or the host was away. */
  comeOnline: boolean;
  unsubscribe: () => void;
}

function keyOf(host: Host): string {
  return `${host.address}\n${host.agent_certificate ?? ''}\n${host.controller_secret ?? ''}`;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class AgentPool {
  readonly #deps: AgentPoolDeps;
  readonly #slots = new Map<string, Slot>();
  readonly #events = new EventEmitter<{ ended: [VmEnded, string] }>();
  /** Come-online work under way per host, so close() waits for it and none runs twice. */
  readonly #coming = new Map<string, Promise<void>>();
  #localId: Promise<string> | undefined;
  #refreshing: Promise<void> | undefined;
  #closed = false;

  constructor(deps: AgentPoolDeps) {
    this.#deps = deps;
    this.#events.setMaxListeners(0);
  }

  /** Whether any agent may be there (the local one, or a way to connect remote ones). */
  get hasAgents(): boolean {
    return this.#deps.local !== undefined || this.#deps.connect !== undefined;
  }

  get local(): HostAgent | undefined {
    return this.#deps.local;
  }

  /**
   * The local host's id, registered from its agent's report on first use (the server does
   * it at start; a bare app, as tests build it, on its first VM).
   */
  localHostId(): Promise<string> | undefined {
    const local = this.#deps.local;
    if (local === undefined) return undefined;
    this.#localId ??= (async () => {
      const report = await local.report();
      const id = await registerHost(this.#deps.db, report, this.#deps.now());
      if (!this.#slots.has(id)) this.#addLocal(id, report);
      return id;
    })();
    this.#localId.catch(() => (this.#localId = undefined));
    return this.#localId;
  }

  #addLocal(hostId: string, report: HostReport): void {
    const agent = this.#deps.local as HostAgent;
    const online = report.qemu.available;
    this.#slots.set(hostId, {
      hostId,
      name: report.name,
      agent,
      local: true,
      key: 'local',
      online,
      state: online ? 'online' : 'unavailable',
      reason: report.qemu.problem ?? null,
      report,
      comeOnline: false, // the server reconciles the local host itself at start
      unsubscribe: agent.onVmEnded((ended) => this.#events.emit('ended', ended, hostId)),
    });
  }

  /** Tells `listener` of every VM that ends on any host; returns the unsubscribe function. */
  onVmEnded(listener: (ended: VmEnded, hostId: string) => void): () => void {
    this.#events.on('ended', listener);
    return () => this.#events.off('ended', listener);
  }

  /**
   * The host's agent; HOST_OFFLINE when the pool has none for it, or it is not online.
   * No host (a row from before hosts were recorded): the local agent.
   */
  agentFor(hostId: string | null): HostAgent {
    if (hostId === null && this.#deps.local !== undefined) return this.#deps.local;
    const slot = this.#slots.get(hostId ?? '');
    if (slot !== undefined && (slot.local || slot.online)) return slot.agent;
    throw new LabvirtError('HOST_OFFLINE', {
      host: slot?.name ?? hostId ?? '',
      state: slot?.state ?? 'offline',
      reason: slot?.reason ?? 'this controller has no connection to it',
    });
  }

  /** The host's agent while it is online, else undefined. */
  onlineAgent(hostId: string | null): HostAgent | undefined {
    if (hostId === null) return this.#deps.local;
    const slot = this.#slots.get(hostId);
    return slot !== undefined && (slot.local || slot.online) ? slot.agent : undefined;
  }

  isOnline(hostId: string): boolean {
    return this.#slots.get(hostId)?.online === true;
  }

  /** The host is this machine (its agent runs in-process). */
  isLocal(hostId: string): boolean {
    return this.#slots.get(hostId)?.local === true;
  }

  /** The host's agent said its image store is the controller's (HostReport.sharedStore). */
  reportSharedStore(hostId: string): boolean {
    return this.#slots.get(hostId)?.report?.sharedStore === true;
  }

  /** The host's latest report (asked for when the pool has none yet). */
  async reportOf(hostId: string): Promise<HostReport> {
    const slot = this.#slots.get(hostId);
    if (slot?.report !== undefined) return slot.report;
    const report = await this.agentFor(hostId).report();
    if (slot !== undefined) slot.report = report;
    return report;
  }

  /** The online hosts' agents (the local one always). */
  online(): PoolEntry[] {
    return [...this.#slots.values()]
      .filter((slot) => slot.local || slot.online)
      .map(({ hostId, agent }) => ({ hostId, agent }));
  }

  /** Every host's agent, online or not (the metrics ask them all; a failure is logged). */
  entries(): PoolEntry[] {
    return [...this.#slots.values()].map(({ hostId, agent }) => ({ hostId, agent }));
  }

  /** One refresh at a time: a call during one waits for it and runs another after. */
  refresh(): Promise<void> {
    const previous = this.#refreshing ?? Promise.resolve();
    const next = previous.then(() => this.#refreshNow());
    this.#refreshing = next;
    // Both ways, not finally(): its promise would reject with a failed round (the database
    // away) and, unhandled, end the server.
    const done = () => {
      if (this.#refreshing === next) this.#refreshing = undefined;
    };
    next.then(done, done);
    return next;
  }

  async #refreshNow(): Promise<void> {
    if (this.#closed) return;
    const { db } = this.#deps;
    const localId = await this.localHostId()?.catch((error: unknown) => {
      this.#deps.log?.(error, 'the local host’s agent did not report');
      return undefined;
    });
    const rows =
      this.#deps.connect === undefined
        ? []
        : await db
            .selectFrom('hosts')
            .selectAll()
            .where('is_local', '=', 0)
            .where('agent_certificate', 'is not', null)
            .where('controller_secret', 'is not', null)
            .execute();
    const wanted = new Map(rows.map((row) => [row.id, row]));
    for (const slot of [...this.#slots.values()]) {
      if (slot.local) continue;
      const row = wanted.get(slot.hostId);
      if (row === undefined || keyOf(row) !== slot.key) this.#drop(slot);
    }
    for (const row of rows) {
      if (!this.#slots.has(row.id)) this.#connect(row);
    }
    const checks = [...this.#slots.values()].map((slot) =>
      slot.local ? this.#checkLocal(slot, localId) : this.#check(slot),
    );
    await Promise.all(checks);
  }

  #connect(host: Host): void {
    const connect = this.#deps.connect;
    if (connect === undefined) return;
    let agent: HostAgent;
    try {
      agent = connect(host);
    } catch (error) {
      this.#deps.log?.(error, `connecting to host ${host.name} failed`);
      return;
    }
    const slot: Slot = {
      hostId: host.id,
      name: host.name,
      agent,
      local: false,
      key: keyOf(host),
      online: false,
      state: 'offline',
      reason: null,
      report: undefined,
      comeOnline: true,
      unsubscribe: agent.onVmEnded((ended) => this.#events.emit('ended', ended, host.id)),
    };
    // Its event stream was away a while: ends may have been missed, so look again.
    const reconnecting = agent as HostAgent & {
      onReconnect?: (listener: () => void) => () => void;
    };
    const stopReconnect = reconnecting.onReconnect?.(() => {
      if (slot.online) this.#comeOnline(slot);
    });
    const unsubscribe = slot.unsubscribe;
    slot.unsubscribe = () => {
      unsubscribe();
      stopReconnect?.();
    };
    this.#slots.set(host.id, slot);
  }

  #drop(slot: Slot): void {
    this.#slots.delete(slot.hostId);
    slot.unsubscribe();
    void slot.agent.close().catch(() => undefined);
  }

  /** The local host: its report refreshes its row (registerHost, as at start). */
  async #checkLocal(slot: Slot, localId: string | undefined): Promise<void> {
    if (localId === undefined) return;
    try {
      const report = await slot.agent.report();
      await registerHost(this.#deps.db, report, this.#deps.now());
      slot.report = report;
      slot.online = report.qemu.available;
    } catch (error) {
      this.#deps.log?.(error, 'refreshing the local host failed');
    }
  }

  async #check(slot: Slot): Promise<void> {
    const now = this.#deps.now().toISOString();
    let report: HostReport;
    try {
      report = await withTimeout(
        slot.agent.report(),
        this.#deps.reportTimeoutMs ?? REPORT_TIMEOUT_MS,
        `host ${slot.name}`,
      );
    } catch (error) {
      if (!this.#slots.has(slot.hostId)) return; // dropped meanwhile
      const reason = messageOf(error);
      if (slot.online || slot.reason !== reason) {
        this.#deps.log?.(error, `host ${slot.name} is offline`);
      }
      slot.online = false;
      slot.comeOnline = true;
      slot.state = 'offline';
      slot.reason = reason;
      await this.#deps.db
        .updateTable('hosts')
        .set({ state: 'offline', state_reason: reason, updated_at: now })
        .where('id', '=', slot.hostId)
        .execute();
      return;
    }
    if (!this.#slots.has(slot.hostId)) return;
    const problem = report.qemu.available ? undefined : (report.qemu.problem ?? 'no QEMU');
    slot.report = report;
    slot.online = problem === undefined;
    slot.state = problem === undefined ? 'online' : 'unavailable';
    slot.reason =
      problem ??
      (report.kvm.usable ? null : `no KVM (${report.kvm.reason ?? 'unknown'}): VMs run under TCG`);
    await this.#deps.db
      .updateTable('hosts')
      .set({
        state: problem === undefined ? 'online' : 'unavailable',
        state_reason: slot.reason,
        cpus: report.cpus,
        memory_mib: report.memoryMiB,
        last_seen_at: now,
        updated_at: now,
      })
      .where('id', '=', slot.hostId)
      .execute();
    if (slot.online && slot.comeOnline) this.#comeOnline(slot);
    else if (slot.online && !this.#coming.has(slot.hostId)) this.#prefetch(slot);
  }

  /**
   * Every round, an online host is given the published versions it lacks: a version
   * published through any controller reaches every host without a hook of its own
   * (prefetch skips what host_images says the host holds, so a quiet round costs a query).
   */
  #prefetch(slot: Slot): void {
    const images = this.#deps.images;
    if (images === undefined || this.#closed) return;
    void Promise.resolve()
      .then(() => images.prefetch(slot.hostId, slot.agent))
      .catch((error: unknown) =>
        this.#deps.log?.(error, `prefetching to host ${slot.name} failed`),
      );
  }

  /** A host came online: its VMs, its images, its DHCP entries (once at a time per host). */
  #comeOnline(slot: Slot): void {
    if (this.#coming.has(slot.hostId) || this.#closed) return;
    slot.comeOnline = false;
    const work = (async () => {
      try {
        await this.#deps.onHostOnline?.(slot.hostId);
        const images = this.#deps.images;
        if (images !== undefined) {
          await images.recordHeld(slot.hostId, slot.agent);
          await images.prefetch(slot.hostId, slot.agent);
        }
      } catch (error) {
        slot.comeOnline = true; // the next refresh tries again
        this.#deps.log?.(error, `bringing host ${slot.name} online failed`);
      }
    })().finally(() => this.#coming.delete(slot.hostId));
    this.#coming.set(slot.hostId, work);
  }

  /** Waits for the come-online work under way (tests, close). */
  async settled(): Promise<void> {
    await this.#refreshing;
    while (this.#coming.size > 0) await Promise.allSettled([...this.#coming.values()]);
  }

  /** Stops: remote agents are closed; the local one is its owner's to close. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.settled();
    for (const slot of [...this.#slots.values()]) {
      if (slot.local) {
        slot.unsubscribe();
        this.#slots.delete(slot.hostId);
      } else this.#drop(slot);
    }
    this.#events.removeAllListeners();
  }
}
