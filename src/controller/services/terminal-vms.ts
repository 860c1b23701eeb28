// The VMs that serve terminals: one per enrolled terminal (invariant 4, held by the unique
// vms.terminal_id and by deciding inside the insert's transaction), started on its first
// config request or before a class (`lab start`), ended by `lab stop`, by the idle policy,
// or when the lab's timetable moves on while nobody is connected.
import type { Kysely, Transaction } from 'kysely';
import type { AgentVm, HostAgent } from '../../agent/host-agent.js';
import { LabvirtError } from '../../domain/errors.js';
import type { Database, Lab, Profile, Terminal, Vm } from '../../db/schema.js';
import type { TerminalConfig } from '../../terminal/config.js';
import { audit, type Actor } from './audit.js';
import { findLab } from './labs.js';
import { LabNowCache } from './lab-now.js';
import { identifyTerminal, type TerminalRequest } from './terminal-identity.js';
import { ACTIVE_STATES, system, terminalDisplay, type VmService } from './vms.js';
import { liveVms } from './vm-views.js';

/** How long a terminal's one-time display password is valid. */
export const TICKET_TTL_SECONDS = 60;
/** What a terminal is told to wait while its VM starts. */
export const STARTING_RETRY_SECONDS = 2;
/** How long after a failed start a terminal's VM is not tried again. */
export const FAILED_START_BACKOFF_MS = 30_000;
/** How many VMs `lab start` starts at once. */
const LAB_START_CONCURRENCY = 4;

export interface LabStartResult {
  /** Terminals whose VM was started now. */
  readonly started: number;
  /** Terminals that already had one. */
  readonly running: number;
  /** Terminals whose VM could not start: the terminal's name and why. */
  readonly failed: readonly { readonly terminal: string; readonly reason: string }[];
}

export interface LabStopResult {
  readonly stopped: number;
}

export type ConfigAnswer =
  | { readonly status: 'starting'; readonly retryAfter: number }
  | { readonly status: 'ready'; readonly config: TerminalConfig };

export interface ConfigRequest extends TerminalRequest {
  /** The host name the terminal reached the controller at (used when the agent names none). */
  readonly requestHost: string;
}

/** Thrown inside the insert's transaction when the terminal already has a VM. */
class TerminalServed extends Error {}

export class TerminalVmService {
  readonly #vms: VmService;
  readonly #now: () => Date;
  readonly #log: (error: unknown, message: string) => void;
  /** Starts and replacements under way, so close() can wait for them. */
  readonly #background = new Set<Promise<unknown>>();
  /** Terminals whose last start failed, and when. */
  readonly #failedAt = new Map<string, number>();
  readonly #labs: LabNowCache;
  /** VMs being ended to be replaced, so one replacement is not decided twice. */
  readonly #replacing = new Set<string>();

  /** Told when a terminal's request enrolled it (by its subnet): its address may be new. */
  readonly #onEnrolled: () => void;

  constructor(
    vms: VmService,
    now: () => Date,
    log: (error: unknown, message: string) => void = () => undefined,
    onEnrolled: () => void = () => undefined,
  ) {
    this.#vms = vms;
    this.#onEnrolled = onEnrolled;
    this.#now = now;
    this.#log = log;
    this.#labs = new LabNowCache(vms.db);
  }

  get #db(): Kysely<Database> {
    return this.#vms.db;
  }

  /** Waits for the starts and stops still under way. */
  async close(): Promise<void> {
    while (this.#background.size > 0) await Promise.allSettled([...this.#background]);
  }

  /** What the asking terminal should connect to, starting its VM if it has none. */
  async config(request: ConfigRequest): Promise<ConfigAnswer> {
    // The terminal and its active VM, in one query.
    const { terminal, vm } = await identifyTerminal(this.#db, request, this.#onEnrolled);
    if (terminal.enabled === 0) throw new LabvirtError('TERMINAL_DISABLED', { mac: terminal.mac });
    if (terminal.lab_id === null) throw new LabvirtError('TERMINAL_PENDING', { mac: terminal.mac });
    const { lab, profile } = await this.#labs.get(terminal.lab_id, request.now);
    if (vm === undefined) {
      this.#checkBackoff(terminal, request.now);
      await this.#start(terminal, profile, system);
      return { status: 'starting', retryAfter: STARTING_RETRY_SECONDS };
    }
    if (vm.state !== 'running') return { status: 'starting', retryAfter: STARTING_RETRY_SECONDS };
    const live = await this.#vms.agentOf(vm).vm(vm.name);
    if (live === undefined) return { status: 'starting', retryAfter: STARTING_RETRY_SECONDS };
    if (vm.profile_id !== profile.id && live.connections.length === 0) {
      // The timetable moved on and nobody uses this one: the terminal gets the new profile.
      this.#track(this.#replace(vm, terminal, 'timetable'));
      return { status: 'starting', retryAfter: STARTING_RETRY_SECONDS };
    }
    const served = vm.profile_id === profile.id ? profile.name : await this.#profileName(vm);
    return {
      status: 'ready',
      config: await this.#configOf(terminal, lab, served, vm, live, request),
    };
  }

  /** Pre-starts a VM for every enrolled, enabled terminal of the lab that has none. */
  async startLab(labRef: string, actor: Actor): Promise<LabStartResult> {
    const lab = await findLab(this.#db, labRef);
    const { profile } = await this.#labs.get(lab.id, this.#now());
    const terminals = await this.#db
      .selectFrom('terminals')
      .selectAll()
      .where('lab_id', '=', lab.id)
      .where('enabled', '=', 1)
      .orderBy('name')
      .execute();
    let started = 0;
    let running = 0;
    const failed: { terminal: string; reason: string }[] = [];
    await inBatches(terminals, LAB_START_CONCURRENCY, async (terminal) => {
      try {
        const start = await this.#start(terminal, profile, actor);
        if (start === undefined) running++;
        else {
          await start.launched;
          started++;
        }
      } catch (error) {
        failed.push({ terminal: terminal.name, reason: messageOf(error) });
      }
    });
    await audit(
      this.#db,
      actor,
      {
        action: 'lab.start',
        targetType: 'lab',
        targetId: lab.id,
        details: { name: lab.name, started, running, failed: failed.length },
      },
      this.#now(),
    );
    return { started, running, failed };
  }

  /** Ends the VMs of the lab's terminals (their writes are discarded). */
  async stopLab(labRef: string, actor: Actor): Promise<LabStopResult> {
    const lab = await findLab(this.#db, labRef);
    const rows = await this.#db
      .selectFrom('vms')
      .innerJoin('terminals', 'terminals.id', 'vms.terminal_id')
      .selectAll('vms')
      .where('terminals.lab_id', '=', lab.id)
      .where('vms.state', 'in', ['running', 'stopping'])
      .execute();
    let stopped = 0;
    await inBatches(rows, LAB_START_CONCURRENCY, async (row) => {
      try {
        await this.#vms.stopRow(row, actor, { force: true });
        stopped++;
      } catch (error) {
        // An offline host's VM cannot be stopped now: it keeps running (and its row says
        // so) until the lab is stopped again once the host is back; the others still go.
        if (!(error instanceof LabvirtError && error.code === 'HOST_OFFLINE')) throw error;
        this.#log(error, `VM ${row.name} was not stopped: its host is offline`);
      }
    });
    await audit(
      this.#db,
      actor,
      {
        action: 'lab.stop',
        targetType: 'lab',
        targetId: lab.id,
        details: { name: lab.name, stopped },
      },
      this.#now(),
    );
    return { stopped };
  }

  /**
   * The scheduler's round: notes which terminal VMs have nobody connected (and since
   * when), ends those idle longer than their lab allows, and gives terminals the profile
   * their lab's timetable says now when nobody is connected to their VM.
   */
  async tick(now: Date = this.#now()): Promise<{ idle: string[]; replaced: string[] }> {
    const rows = await this.#db
      .selectFrom('vms')
      .innerJoin('terminals', 'terminals.id', 'vms.terminal_id')
      .innerJoin('labs', 'labs.id', 'terminals.lab_id')
      .selectAll('vms')
      .select(['labs.id as lab_id', 'labs.idle_minutes'])
      .where('vms.state', '=', 'running')
      .execute();
    if (rows.length === 0) return { idle: [], replaced: [] };
    const live = await liveVms(this.#vms.agents, rows, this.#log);
    const labs = new Map<string, Profile | 'closed'>();
    const idle: string[] = [];
    const replaced: string[] = [];
    for (const row of rows) {
      const vm = live.get(row.name);
      if (vm === undefined) continue; // ending: the agent's event will record it
      if (vm.connections.length > 0) {
        if (row.idle_since !== null) await this.#setIdleSince(row.id, null);
        continue;
      }
      if (row.idle_since === null) await this.#setIdleSince(row.id, now.toISOString());
      const idleMs = now.getTime() - Date.parse(row.idle_since ?? now.toISOString());
      if (row.idle_minutes !== null && idleMs >= row.idle_minutes * 60_000) {
        idle.push(row.name);
        this.#track(this.#endIdle(row, idleMs));
        continue;
      }
      let wanted = labs.get(row.lab_id);
      if (wanted === undefined) {
        wanted = await this.#profileOrClosed(row.lab_id, now);
        labs.set(row.lab_id, wanted);
      }
      if ((wanted === 'closed' || wanted.id !== row.profile_id) && row.terminal_id !== null) {
        replaced.push(row.name);
        const terminal = await this.#terminal(row.terminal_id);
        this.#track(this.#replace(row, terminal, 'timetable', wanted === 'closed'));
      }
    }
    return { idle, replaced };
  }

  /**
   * What the online hosts of these rows run, by VM name (an offline host's VMs are left
   * out: the policy waits for it to come back rather than ending them).
   */
  async #profileName(vm: Vm): Promise<string> {
    const row = await this.#db
      .selectFrom('profiles')
      .select('name')
      .where('id', '=', vm.profile_id ?? '')
      .executeTakeFirst();
    return row?.name ?? '';
  }

  async #profileOrClosed(labId: string, now: Date): Promise<Profile | 'closed'> {
    try {
      return (await this.#labs.get(labId, now)).profile;
    } catch (error) {
      if (error instanceof LabvirtError && error.code === 'LAB_CLOSED') return 'closed';
      throw error;
    }
  }

  #activeVmOf(terminalId: string, db: Kysely<Database> = this.#db): Promise<Vm | undefined> {
    return db
      .selectFrom('vms')
      .selectAll()
      .where('terminal_id', '=', terminalId)
      .where('state', 'in', ACTIVE_STATES)
      .executeTakeFirst();
  }

  #terminal(id: string): Promise<Terminal> {
    return this.#db
      .selectFrom('terminals')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
  }

  #checkBackoff(terminal: Terminal, now: Date): void {
    const failed = this.#failedAt.get(terminal.id);
    if (failed === undefined) return;
    const left = failed + FAILED_START_BACKOFF_MS - now.getTime();
    if (left <= 0) this.#failedAt.delete(terminal.id);
    else throw new LabvirtError('TERMINAL_VM_FAILED', { seconds: Math.ceil(left / 1000) });
  }

  /**
   * Starts the terminal's VM unless it has one (decided in the insert's transaction, so
   * two requests at once start one VM). Resolves once the row is in, with `launched`,
   * which settles when the VM runs (wrapped: an async function would adopt it and wait).
   */
  async #start(
    terminal: Terminal,
    profile: Profile,
    actor: Actor,
  ): Promise<{ launched: Promise<void> } | undefined> {
    let result;
    try {
      const address = await this.#db
        .selectFrom('terminal_addresses')
        .select('ip')
        .where('terminal_id', '=', terminal.id)
        .executeTakeFirst();
      result = await this.#vms.startClientRow(profile.id, actor, {
        terminal: {
          id: terminal.id,
          mac: terminal.mac,
          address: address?.ip,
          decide: async (tx: Transaction<Database>) => {
            if ((await this.#activeVmOf(terminal.id, tx)) !== undefined) throw new TerminalServed();
          },
        },
        display: terminalDisplay(profile),
      });
    } catch (error) {
      if (error instanceof TerminalServed) return undefined;
      throw error;
    }
    const launched = result.launched.then(
      () => void this.#failedAt.delete(terminal.id),
      (error: unknown) => {
        this.#failedAt.set(terminal.id, this.#now().getTime());
        this.#log(error, `the VM for terminal ${terminal.mac} failed to start`);
        throw error;
      },
    );
    this.#track(launched);
    return { launched };
  }

  /** Ends the VM and, unless the lab is closed now, starts one of the profile of now. */
  async #replace(vm: Vm, terminal: Terminal, why: string, closed = false): Promise<void> {
    // The terminal's requests and the policy round may both decide it while it stops.
    if (this.#replacing.has(vm.id)) return;
    this.#replacing.add(vm.id);
    try {
      await this.#stopQuietly(vm, why);
    } finally {
      this.#replacing.delete(vm.id);
    }
    if (closed || terminal.lab_id === null || terminal.enabled === 0) return;
    const { profile } = await this.#labs.get(terminal.lab_id, this.#now());
    const start = await this.#start(terminal, profile, system);
    await start?.launched;
  }

  async #endIdle(vm: Vm, idleMs: number): Promise<void> {
    await this.#stopQuietly(vm, 'idle', { idleMinutes: Math.floor(idleMs / 60_000) });
  }

  /** A stop the policy decided (writes are discarded, so no grace period is needed). */
  async #stopQuietly(vm: Vm, why: string, details: Record<string, unknown> = {}): Promise<void> {
    await audit(
      this.#db,
      system,
      {
        action: `vm.${why}`,
        targetType: 'vm',
        targetId: vm.id,
        details: { name: vm.name, ...details },
      },
      this.#now(),
    );
    try {
      await this.#vms.stopRow(vm, system, { force: true });
    } catch (error) {
      // Already ending (another round or request got there first): nothing to do.
      if (!(error instanceof LabvirtError && error.code === 'VM_NOT_RUNNING')) throw error;
    }
  }

  async #setIdleSince(id: string, since: string | null): Promise<void> {
    await this.#db.updateTable('vms').set({ idle_since: since }).where('id', '=', id).execute();
  }

  async #configOf(
    terminal: Terminal,
    lab: Lab,
    profile: string,
    vm: Vm,
    live: AgentVm,
    request: ConfigRequest,
  ): Promise<TerminalConfig> {
    const agent: HostAgent = this.#vms.agentOf(vm);
    if (live.display === null) throw new LabvirtError('VM_NO_DISPLAY', { name: vm.name });
    // Terminals reach the gateway of the VM's own host.
    const report =
      vm.host_id === null ? await agent.report() : await this.#vms.agents.reportOf(vm.host_id);
    const ticket = (await agent.ticket(vm.name, TICKET_TTL_SECONDS)) ?? null;
    const expires = new Date(request.now.getTime() + TICKET_TTL_SECONDS * 1000);
    return {
      terminal: { name: terminal.name, mac: terminal.mac },
      lab: lab.name,
      profile,
      vm: vm.name,
      protocol: live.display.protocol,
      host: report.gatewayAddress ?? request.requestHost,
      port: live.display.port,
      ticket,
      ticketExpiresAt: ticket === null ? null : expires.toISOString(),
      screen: { fullscreen: true, width: null, height: null },
    };
  }

  #track(promise: Promise<unknown>): void {
    const tracked = promise.catch((error: unknown) =>
      this.#log(error, 'terminal VM policy failed'),
    );
    this.#background.add(tracked);
    void tracked.finally(() => this.#background.delete(tracked));
  }
}

async function inBatches<T>(items: readonly T[], size: number, work: (item: T) => Promise<void>) {
  for (let i = 0; i < items.length; i += size) {
    await Promise.all(items.slice(i, i + size).map(work));
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
