// VMs of profiles: client VMs (the published version under a per-VM overlay) and the
// administrative VMs of admin sessions. The vms row follows the VM lifecycle
// (src/domain/vm-lifecycle.ts): it is written 'starting' before QEMU is asked for anything
// and becomes final ('stopped', 'crashed', 'failed') only once the agent says the VM is
// gone, so the rows are never fewer than the processes: what the admin-session policy
// decides from rows (under a per-profile lock) holds for the processes too (invariant 3).
// Ended rows stay (with their serial log) as a record; their terminal is let go.
import { randomUUID } from 'node:crypto';
import { PostgresAdapter, type Kysely, type Transaction } from 'kysely';
import type {
  AgentDisplaySpec,
  AgentVm,
  AgentVmSpec,
  HostAgent,
  VmEnded,
} from '../../agent/host-agent.js';
import { LabvirtError } from '../../domain/errors.js';
import { isFinal, nextVmState, type VmState } from '../../domain/vm-lifecycle.js';
import type { Database, Profile, Vm, VmKind } from '../../db/schema.js';
import { isUniqueViolation } from '../../db/errors.js';
import { macFromUuid } from '../../qemu/cmdline/validate.js';
import { terminalVmMac } from '../../domain/terminal-mac.js';
import { placeVm, type PlacementNeeds } from './vm-placement.js';
import { liveVms, vmViews, type VmView } from './vm-views.js';

export type { VmView };
import type { AgentPool } from '../agents/agent-pool.js';
import { audit, type Actor } from './audit.js';
import { dataDisks, findProfile } from './profiles.js';
import { onlyOne } from './only-one.js';

export const ACTIVE_STATES: readonly VmState[] = ['starting', 'running', 'stopping'];
export const system: Actor = { principal: undefined, source: null };

export interface VmFilter {
  readonly profile?: string | undefined;
  /** A state, or 'active' (starting, running, stopping) or 'ended'. */
  readonly state?: string | undefined;
  readonly kind?: VmKind | undefined;
}

/**
 * Serializes the decisions about one profile (client starts, admin sessions): PostgreSQL
 * locks the profile row until the transaction ends; SQLite transactions begin IMMEDIATE
 * (src/db/sqlite-dialect.ts), so they are serialized already.
 */
export async function lockProfile(tx: Transaction<Database>, id: string): Promise<Profile> {
  const query = tx.selectFrom('profiles').selectAll().where('id', '=', id);
  const postgres = tx.getExecutor().adapter instanceof PostgresAdapter;
  const profile = await (postgres ? query.forUpdate() : query).executeTakeFirst();
  if (profile === undefined) throw new LabvirtError('PROFILE_NOT_FOUND', { profile: id });
  return profile;
}

/** Makes sure a host's store holds a version before a VM of it starts (image-distribution.ts). */
export interface ImageEnsurer {
  ensureOn(hostId: string, agent: HostAgent, versionId: string): Promise<unknown>;
}

export interface VmServiceDeps {
  readonly db: Kysely<Database>;
  /** Every host's agent; a VM's row names its host. */
  readonly agents: AgentPool;
  readonly now: () => Date;
  /** Where failures of background bookkeeping are told. */
  readonly log?: (error: unknown, message: string) => void;
  /** How long a stop waits for the guest to power down before quit. */
  readonly stopGraceMs?: number;
  /** Copies a version to a host that lacks it before a VM of it starts there. */
  readonly images?: ImageEnsurer | undefined;
  /** A host's free disk by its latest sample (MiB), null when none (not checked). */
  readonly diskFreeMiB?: ((hostId: string) => number | null) | undefined;
}

/** How long a start may take, image copy included, before its row counts as abandoned. */
export const START_DEADLINE_MS = 10 * 60_000;

/** How long a stop waits for the guest to power down by default. */
export const STOP_GRACE_MS = 30_000;

export interface ReconcileResult {
  readonly running: string[];
  readonly ended: string[];
  readonly unknown: string[];
  /** 'starting' rows whose VM was not there: launched again. */
  readonly relaunched: string[];
  /** VMs that ran though their row had ended: stopped. */
  readonly stopped: string[];
  /** Admin VMs recorded as starting a short while ago, maybe by another controller: left. */
  readonly starting: string[];
}

export class VmService {
  readonly #deps: VmServiceDeps;
  /** Names of the VMs whose launch is under way here. */
  readonly #launching = new Set<string>();
  /** Starts reconcile began in the background. */
  readonly #background = new Set<Promise<unknown>>();
  #unsubscribe: (() => void) | undefined;
  /** Told after a VM's end is recorded (onEndRecorded). */
  readonly #endListeners = new Set<() => void>();

  constructor(deps: VmServiceDeps) {
    this.#deps = deps;
    this.#unsubscribe = deps.agents.onVmEnded((ended) => {
      this.markEnded(ended).catch((error: unknown) =>
        deps.log?.(error, `recording the end of VM ${ended.name} failed`),
      );
    });
  }

  /**
   * Calls `listener` each time a VM's end (a guest powering off, a QEMU dying, a stop, one
   * found gone at reconcile) has been written to its row, so the live events tell it at
   * once rather than at their next look. Returns the unsubscribe.
   */
  onEndRecorded(listener: () => void): () => void {
    this.#endListeners.add(listener);
    return () => this.#endListeners.delete(listener);
  }

  get db(): Kysely<Database> {
    return this.#deps.db;
  }

  get agents(): AgentPool {
    return this.#deps.agents;
  }

  /** QEMU_NOT_INSTALLED when this controller has no agent at all (none in-process, none remote). */
  #checkAgents(): void {
    if (!this.#deps.agents.hasAgents) {
      throw new LabvirtError('QEMU_NOT_INSTALLED', {
        binary: 'qemu-system-x86_64',
        package: 'qemu-system-x86',
      });
    }
  }

  /** The agent of the host the VM's row names (HOST_OFFLINE when it is not reachable). */
  agentOf(row: Pick<Vm, 'name' | 'state' | 'host_id'>): HostAgent {
    this.#checkAgents();
    return this.#deps.agents.agentFor(row.host_id);
  }

  /**
   * Chooses the host of a new VM, inside the transaction that inserts its row
   * (vm-placement.ts); NO_HOST_AVAILABLE (every host's reason) when none can take it.
   */
  placeVm(tx: Transaction<Database>, needs: PlacementNeeds): Promise<string> {
    return placeVm(tx, needs, { hosts: this.#deps.agents, diskFreeMiB: this.#deps.diskFreeMiB });
  }

  /** Before a VM is placed: the agents are there, and the local host is registered. */
  async readyToPlace(): Promise<void> {
    this.#checkAgents();
    await this.#deps.agents.localHostId();
  }

  close(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  async list(filter: VmFilter = {}): Promise<VmView[]> {
    let query = this.db.selectFrom('vms').selectAll();
    if (filter.profile !== undefined) {
      const profile = await findProfile(this.db, filter.profile);
      query = query.where('profile_id', '=', profile.id);
    }
    if (filter.state === 'active') query = query.where('state', 'in', ACTIVE_STATES);
    else if (filter.state === 'ended') query = query.where('state', 'not in', ACTIVE_STATES);
    else if (filter.state !== undefined) query = query.where('state', '=', filter.state);
    if (filter.kind !== undefined) query = query.where('kind', '=', filter.kind);
    const rows = await query.orderBy('created_at').orderBy('name').execute();
    return vmViews(this.db, rows, await liveVms(this.#deps.agents, rows, this.#deps.log));
  }

  async find(ref: string): Promise<Vm> {
    const row = await this.db
      .selectFrom('vms')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', ref), eb('name', '=', ref)]))
      .executeTakeFirst();
    if (row === undefined) throw new LabvirtError('VM_UNKNOWN', { vm: ref });
    return row;
  }

  async view(ref: string): Promise<VmView> {
    const row = await this.find(ref);
    return onlyOne(
      await vmViews(this.db, [row], await liveVms(this.#deps.agents, [row], this.#deps.log)),
    );
  }

  async serial(ref: string): Promise<string> {
    const row = await this.find(ref);
    // An ended VM's log stays on its host; an offline host's is not there to read.
    const agent = this.#deps.agents.onlineAgent(row.host_id);
    return (await agent?.serialLog(row.name)) ?? '';
  }

  /** A client VM of the profile's published version; resolves once it runs. */
  async startClient(profileRef: string, actor: Actor): Promise<VmView> {
    const { row, launched } = await this.startClientRow(profileRef, actor);
    await launched;
    return this.view(row.id);
  }

  /**
   * Inserts a client VM's row and asks the agent to start it; `launched` settles when the
   * VM runs or failed. With a terminal, `decide` runs first in the same transaction (it
   * throws to refuse, e.g. when the terminal already has a VM), and a start that fails
   * lets the terminal go, so it can be served again.
   */
  async startClientRow(
    profileRef: string,
    actor: Actor,
    options: {
      readonly terminal?: {
        readonly id: string;
        readonly mac: string;
        /** The address its VM is given by DHCP (its lab's pool), if it has one. */
        readonly address?: string | undefined;
        readonly decide: (tx: Transaction<Database>) => Promise<void>;
      };
      readonly display?: AgentDisplaySpec;
    } = {},
  ): Promise<{ row: Vm; launched: Promise<void> }> {
    const profile = await findProfile(this.db, profileRef);
    await this.#checkClientMayStart(this.db, profile); // before anything else is needed
    await this.readyToPlace();
    let versionId = '';
    const { terminal } = options;
    const row = await this.insertVm(async (tx, id) => {
      await terminal?.decide(tx);
      const locked = await lockProfile(tx, profile.id);
      versionId = await this.#checkClientMayStart(tx, locked);
      const hostId = await this.placeVm(tx, {
        profile: locked,
        versionId,
        terminalId: terminal?.id,
      });
      const details: Record<string, unknown> = { profile: locked.name, version: versionId };
      if (terminal !== undefined) details['terminal'] = terminal.mac;
      return {
        row: {
          ...this.newRow(id, 'client', locked, versionId, hostId),
          // A terminal's VM has the terminal's MAC, so its DHCP address, every session.
          ...(terminal === undefined
            ? {}
            : { terminal_id: terminal.id, mac: terminalVmMac(terminal.id) }),
        },
        audit: { action: 'vm.start', details },
      };
    }, actor);
    const launched = this.launch(row, {
      ...specOf(row, profile),
      ...(terminal?.address === undefined ? {} : { address: terminal.address }),
      image: { profileId: profile.id, versionId },
      writes: 'discard',
      ...(options.display === undefined ? {} : { display: options.display }),
    });
    return { row, launched };
  }

  /** The published version a client VM of the profile would boot, if one may start. */
  async #checkClientMayStart(db: Kysely<Database>, profile: Profile): Promise<string> {
    const versionId = profile.published_version_id;
    if (versionId === null) {
      throw new LabvirtError('PROFILE_NO_IMAGE', { profile: profile.name }, { field: 'profile' });
    }
    const session = await db
      .selectFrom('admin_sessions')
      .select('policy')
      .where('profile_id', '=', profile.id)
      .executeTakeFirst();
    if (session?.policy === 'exclusive') {
      throw new LabvirtError('ADMIN_SESSION_EXCLUSIVE', { profile: profile.name });
    }
    return versionId;
  }

  /**
   * Inserts a VM row 'starting' inside a transaction `decide` opens with its checks,
   * retrying with a fresh id on the rare clash of a derived MAC or name.
   */
  async insertVm(
    decide: (
      tx: Transaction<Database>,
      id: string,
    ) => Promise<{ row: Vm; audit: { action: string; details: Record<string, unknown> } }>,
    actor: Actor,
  ): Promise<Vm> {
    for (let attempt = 0; ; attempt++) {
      const id = randomUUID();
      let fixed: Vm | undefined;
      try {
        return await this.db.transaction().execute(async (tx) => {
          const { row, audit: entry } = await decide(tx, id);
          // A MAC not made from the id (a terminal's) would clash again with a fresh id.
          if (row.mac !== macFromUuid(id)) fixed = row;
          await tx.insertInto('vms').values(row).execute();
          await audit(tx, actor, { ...entry, targetType: 'vm', targetId: id }, this.#deps.now());
          return row;
        });
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        // Another VM has the MAC; unless it serves the same terminal (a request at the same
        // moment started it: the retry's decide sees that), it is MAC_IN_USE.
        if (fixed !== undefined) await this.assertMacFree(fixed.mac, fixed.terminal_id);
        if (attempt >= 4) throw error;
      }
    }
  }

  /** MAC_IN_USE, naming the VM, when an active VM (not the terminal's own) has this MAC. */
  async assertMacFree(mac: string, terminalId: string | null = null): Promise<void> {
    const holder = await this.db
      .selectFrom('vms')
      .select(['name', 'terminal_id'])
      .where('mac', '=', mac.toLowerCase())
      .where('state', 'in', ACTIVE_STATES)
      .executeTakeFirst();
    if (holder !== undefined && (terminalId === null || holder.terminal_id !== terminalId))
      throw new LabvirtError(
        'MAC_IN_USE',
        { mac: mac.toLowerCase(), vm: holder.name },
        { field: 'mac' },
      );
  }

  /** A 'starting' row for a new VM of the profile, its name and MAC made from its id. */
  newRow(id: string, kind: VmKind, profile: Profile, versionId: string | null, hostId: string): Vm {
    const now = this.#deps.now().toISOString();
    return {
      id,
      name: `${kind}-${id.slice(0, 8)}`,
      kind,
      profile_id: profile.id,
      version_id: versionId,
      terminal_id: null,
      host_id: hostId,
      state: 'starting',
      mac: macFromUuid(id),
      idle_since: null,
      created_at: now,
      updated_at: now,
    };
  }

  /**
   * Asks the agent of the row's host to start the VM of a 'starting' row (a client's
   * version copied there first when it lacks it); the row becomes 'running', or 'failed'
   * when it did not start (the agent leaves nothing running then).
   */
  async launch(row: Vm, spec: AgentVmSpec): Promise<void> {
    this.#launching.add(row.name);
    try {
      await this.#launch(row, spec);
    } finally {
      this.#launching.delete(row.name);
    }
  }

  async #launch(row: Vm, spec: AgentVmSpec): Promise<void> {
    try {
      const agent = this.agentOf(row);
      // The local host boots from the controller's own store: nothing to copy.
      if (
        spec.writes === 'discard' &&
        row.host_id !== null &&
        !this.#deps.agents.isLocal(row.host_id)
      ) {
        await this.#deps.images?.ensureOn(row.host_id, agent, spec.image.versionId);
      }
      await startOrFind(agent, spec);
    } catch (error) {
      await this.#setState(row.name, 'starting', { type: 'start-failed' });
      // Ended rows serve no terminal (vms.terminal_id is unique among all rows).
      await this.db
        .updateTable('vms')
        .set({ terminal_id: null })
        .where('id', '=', row.id)
        .where('state', '=', 'failed')
        .execute();
      throw error;
    }
    await this.#setState(row.name, 'starting', { type: 'ready' });
  }

  /** A 'starting' row whose VM was never asked for (something before failed) is 'failed'. */
  async abandon(row: Vm): Promise<void> {
    await this.#setState(row.name, 'starting', { type: 'start-failed' });
  }

  /** Stops a VM: the guest's power button, then quit and kill; resolves once it ended. */
  async stop(ref: string, actor: Actor, options: { force?: boolean } = {}): Promise<VmView> {
    const row = await this.find(ref);
    await this.stopRow(row, actor, options);
    return this.view(row.id);
  }

  async stopRow(row: Vm, actor: Actor, options: { force?: boolean } = {}): Promise<void> {
    const agent = this.agentOf(row);
    if (row.state === 'starting' || isFinal(row.state as VmState)) {
      throw new LabvirtError('VM_NOT_RUNNING', { name: row.name, state: row.state });
    }
    await this.db.transaction().execute(async (tx) => {
      await tx
        .updateTable('vms')
        .set({ state: 'stopping', updated_at: this.#deps.now().toISOString() })
        .where('id', '=', row.id)
        .where('state', 'in', ['running', 'stopping'])
        .execute();
      await audit(
        tx,
        actor,
        { action: 'vm.stop', targetType: 'vm', targetId: row.id, details: { name: row.name } },
        this.#deps.now(),
      );
    });
    let ended: VmEnded;
    try {
      const grace = this.#deps.stopGraceMs ?? STOP_GRACE_MS;
      ended = await agent.stopVm(row.name, { graceMs: options.force ? 0 : grace });
    } catch (error) {
      if (error instanceof LabvirtError && error.code === 'VM_NOT_FOUND') {
        // The agent has no such VM any more: it ended before we asked.
        ended = { name: row.name, state: 'stopped', reason: undefined, stopMethod: undefined };
      } else throw error;
    }
    await this.markEnded(ended);
  }

  /**
   * Resets a running VM like its reset button: the guest boots again in the same QEMU, its
   * disks as they are (a client's overlay too: it goes only when the VM ends).
   */
  async reset(ref: string, actor: Actor): Promise<VmView> {
    const row = await this.find(ref);
    if (row.state !== 'running') {
      throw new LabvirtError('VM_NOT_RUNNING', { name: row.name, state: row.state });
    }
    const agent = this.agentOf(row);
    await audit(
      this.db,
      actor,
      { action: 'vm.reset', targetType: 'vm', targetId: row.id, details: { name: row.name } },
      this.#deps.now(),
    );
    try {
      await agent.resetVm(row.name);
    } catch (error) {
      // The VM ended between the check and the reset.
      if (error instanceof LabvirtError && error.code === 'VM_NOT_FOUND') {
        throw new LabvirtError('VM_NOT_RUNNING', { name: row.name, state: 'stopped' });
      }
      throw error;
    }
    return this.view(row.id);
  }

  /**
   * Records that a VM ended (idempotent: the agent's event and the stop both tell it).
   * Resolves true when this call ended an active row.
   */
  async markEnded(ended: VmEnded): Promise<boolean> {
    const recorded = await this.db.transaction().execute(async (tx) => {
      const row = await tx
        .selectFrom('vms')
        .selectAll()
        .where('name', '=', ended.name)
        .where('state', 'in', ACTIVE_STATES)
        .executeTakeFirst();
      if (row === undefined) return false;
      const state = nextVmState(row.state as VmState, {
        type: 'exit',
        clean: ended.state === 'stopped',
      });
      // Still active: the stop and the agent's exit event may record one end at once, and
      // PostgreSQL's read committed lets both read it active; only the first one ends it.
      const updated = await tx
        .updateTable('vms')
        .set({ state, terminal_id: null, updated_at: this.#deps.now().toISOString() })
        .where('id', '=', row.id)
        .where('state', 'in', ACTIVE_STATES)
        .executeTakeFirst();
      if (updated.numUpdatedRows === 0n) return false;
      await audit(
        tx,
        system,
        {
          action: 'vm.end',
          targetType: 'vm',
          targetId: row.id,
          details: {
            name: row.name,
            state,
            reason: ended.reason ?? null,
            stopMethod: ended.stopMethod ?? null,
          },
        },
        this.#deps.now(),
      );
      return true;
    });
    if (recorded) {
      for (const listener of this.#endListeners) {
        try {
          listener();
        } catch (error) {
          this.#deps.log?.(error, 'telling a VM’s end failed');
        }
      }
    }
    return recorded;
  }

  /**
   * When a host comes online (and at start for the local one): its rows that say a VM is
   * active are checked against what its agent runs. A 'starting' client row whose VM is
   * not there is launched again (a controller that died mid-start; a start is idempotent
   * by name); a 'starting' row whose VM runs is running; a running row whose VM is gone
   * is ended. A VM whose row has ended is stopped. VMs the agent runs without a row are
   * left alone (a manual VM, say) and listed.
   */
  async reconcile(hostId?: string): Promise<ReconcileResult> {
    const host = hostId ?? (await this.#deps.agents.localHostId());
    const result: ReconcileResult = {
      running: [],
      ended: [],
      unknown: [],
      relaunched: [],
      stopped: [],
      starting: [],
    };
    if (host === undefined) return result;
    const agent = this.#deps.agents.agentFor(host);
    const live = await agent.listVms();
    const names = new Set(live.map((vm) => vm.name));
    const rows = await this.db
      .selectFrom('vms')
      .selectAll()
      .where('host_id', '=', host)
      .where('state', 'in', ACTIVE_STATES)
      .execute();
    for (const row of rows) {
      if (names.has(row.name)) {
        if (row.state === 'starting') await this.#setState(row.name, 'starting', { type: 'ready' });
        result.running.push(row.name);
      } else if (this.#launching.has(row.name)) {
        result.running.push(row.name); // its start is under way here
      } else if (
        row.state === 'starting' &&
        row.kind !== 'client' &&
        this.#deps.now().getTime() - Date.parse(row.updated_at) < START_DEADLINE_MS
      ) {
        // Another controller may be copying its image or starting it: an admin VM's start
        // is not repeated from here (its draft is that controller's business), nor ended.
        result.starting.push(row.name);
      } else if (row.state === 'starting' && row.kind === 'client') {
        result.relaunched.push(row.name);
        this.#track(
          this.#clientSpec(row).then((spec) => this.launch(row, spec)),
          `starting VM ${row.name} again failed`,
        );
      } else {
        await this.markEnded({
          name: row.name,
          state: 'stopped',
          reason: 'gone',
          stopMethod: undefined,
        });
        result.ended.push(row.name);
      }
    }
    const known = new Set(rows.map((row) => row.name));
    const others = live.map((vm) => vm.name).filter((name) => !known.has(name));
    const endedRows =
      others.length === 0
        ? []
        : await this.db
            .selectFrom('vms')
            .select('name')
            .where('name', 'in', others)
            .where('state', 'not in', ACTIVE_STATES)
            .execute();
    const toStop = new Set(endedRows.map((row) => row.name));
    for (const name of others) {
      if (!toStop.has(name)) {
        result.unknown.push(name);
        continue;
      }
      // Its row ended (stopped through another controller while this host was away).
      await agent.stopVm(name, { graceMs: 0 }).catch((error: unknown) => {
        if (!(error instanceof LabvirtError && error.code === 'VM_NOT_FOUND')) throw error;
      });
      result.stopped.push(name);
    }
    return result;
  }

  /** The spec a client VM's row was launched with, made again from its row. */
  async #clientSpec(row: Vm): Promise<AgentVmSpec> {
    if (row.profile_id === null || row.version_id === null) {
      throw new LabvirtError('VM_NOT_RUNNING', { name: row.name, state: row.state });
    }
    const profile = await this.db
      .selectFrom('profiles')
      .selectAll()
      .where('id', '=', row.profile_id)
      .executeTakeFirstOrThrow();
    const address =
      row.terminal_id === null
        ? undefined
        : await this.db
            .selectFrom('terminal_addresses')
            .select('ip')
            .where('terminal_id', '=', row.terminal_id)
            .executeTakeFirst();
    return {
      ...specOf(row, profile),
      ...(address === undefined ? {} : { address: address.ip }),
      image: { profileId: profile.id, versionId: row.version_id },
      writes: 'discard',
      ...(row.terminal_id === null ? {} : { display: terminalDisplay(profile) }),
    };
  }

  #track(work: Promise<unknown>, message: string): void {
    const tracked = work.catch((error: unknown) => this.#deps.log?.(error, message));
    this.#background.add(tracked);
    void tracked.finally(() => this.#background.delete(tracked));
  }

  /** Waits for the starts reconcile began (tests; close). */
  async settled(): Promise<void> {
    while (this.#background.size > 0) await Promise.allSettled([...this.#background]);
  }

  async #setState(name: string, from: VmState, event: Parameters<typeof nextVmState>[1]) {
    await this.db
      .updateTable('vms')
      .set({ state: nextVmState(from, event), updated_at: this.#deps.now().toISOString() })
      .where('name', '=', name)
      .where('state', '=', from)
      .execute();
  }

  /**
   * What the agents run, by VM name: of the rows' hosts that are online (an offline host's
   * VMs are listed from their rows alone), or of the one VM's host.
   */
}

/** The part of an agent's spec that comes from the row and the profile's settings. */
export function specOf(row: Vm, profile: Profile): Omit<AgentVmSpec, 'image' | 'writes'> {
  return {
    name: row.name,
    uuid: row.id,
    memoryMiB: profile.memory_mib,
    cpus: profile.cpus,
    nic: { model: profile.nic_model as AgentVmSpec['nic']['model'], mac: row.mac },
    diskBus: profile.disk_bus as AgentVmSpec['diskBus'],
    // By name: the agent resolves it in its own ISO library.
    ...(profile.cdrom === null ? {} : { cdrom: profile.cdrom }),
    dataDisks: dataDisks(profile.data_disks).map((disk) => ({ sizeMiB: disk.sizeMiB })),
  };
}

/** The display a terminal's VM gives its terminal (the profile's protocol). */
export function terminalDisplay(profile: Profile): AgentDisplaySpec {
  return {
    protocol: profile.display,
    guestPort: profile.guest_port ?? undefined,
    ticketed: profile.display !== 'rdp',
  };
}

/**
 * Starts the VM, or finds it running already with the same uuid (a start again after a
 * controller's restart, or of a start in flight elsewhere): idempotent by name.
 */
async function startOrFind(agent: HostAgent, spec: AgentVmSpec): Promise<AgentVm> {
  try {
    return await agent.startVm(spec);
  } catch (error) {
    if (!(error instanceof LabvirtError && error.code === 'VM_ALREADY_RUNNING')) throw error;
    const vm = await agent.vm(spec.name);
    if (vm?.uuid !== spec.uuid) throw error;
    return vm;
  }
}
