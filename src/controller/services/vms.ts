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
  DisplayConnection,
  HostAgent,
  VmEnded,
} from '../../agent/host-agent.js';
import { LabvirtError } from '../../domain/errors.js';
import { isFinal, nextVmState, type VmState } from '../../domain/vm-lifecycle.js';
import type { Database, Profile, Vm, VmKind } from '../../db/schema.js';
import { isUniqueViolation } from '../../db/errors.js';
import { macFromUuid } from '../../qemu/cmdline/validate.js';
import { terminalVmMac } from '../../domain/terminal-mac.js';
import { audit, type Actor } from './audit.js';
import { dataDisks, findProfile } from './profiles.js';
import { registerHost } from './hosts.js';
import { onlyOne } from './only-one.js';

export const ACTIVE_STATES: readonly VmState[] = ['starting', 'running', 'stopping'];
export const system: Actor = { principal: undefined, source: null };

export interface VmView {
  readonly id: string;
  readonly name: string;
  readonly kind: VmKind;
  readonly profileId: string | null;
  readonly profile: string | null;
  readonly versionId: string | null;
  readonly host: string | null;
  readonly state: string;
  readonly mac: string;
  /** The terminal it serves (its MAC), if it serves one. */
  readonly terminal: string | null;
  /** Live facts from the agent, while it runs. */
  readonly pid: number | null;
  readonly runStatus: string | null;
  /** Who is connected to its display or guest port now. */
  readonly connections: readonly DisplayConnection[];
  readonly createdAt: string;
  readonly updatedAt: string;
}

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

export interface VmServiceDeps {
  readonly db: Kysely<Database>;
  readonly agent: HostAgent | undefined;
  readonly now: () => Date;
  /** Where failures of background bookkeeping are told. */
  readonly log?: (error: unknown, message: string) => void;
  /** How long a stop waits for the guest to power down before quit. */
  readonly stopGraceMs?: number;
}

/** How long a stop waits for the guest to power down by default. */
export const STOP_GRACE_MS = 30_000;

export class VmService {
  readonly #deps: VmServiceDeps;
  #hostId: Promise<string> | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(deps: VmServiceDeps) {
    this.#deps = deps;
    this.#unsubscribe = deps.agent?.onVmEnded((ended) => {
      this.markEnded(ended).catch((error: unknown) =>
        deps.log?.(error, `recording the end of VM ${ended.name} failed`),
      );
    });
  }

  get db(): Kysely<Database> {
    return this.#deps.db;
  }

  agent(): HostAgent {
    const agent = this.#deps.agent;
    if (agent === undefined) {
      throw new LabvirtError('QEMU_NOT_INSTALLED', {
        binary: 'qemu-system-x86_64',
        package: 'qemu-system-x86',
      });
    }
    return agent;
  }

  /** The host row of the agent (registered on first use if startup did not). */
  hostId(): Promise<string> {
    this.#hostId ??= (async () => {
      const report = await this.agent().report();
      const row = await this.db
        .selectFrom('hosts')
        .select('id')
        .where('name', '=', report.name)
        .executeTakeFirst();
      return row?.id ?? registerHost(this.db, report, this.#deps.now());
    })();
    this.#hostId.catch(() => (this.#hostId = undefined));
    return this.#hostId;
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
    const live = await this.#liveVms(rows.some((row) => !isFinal(row.state as VmState)));
    return this.#views(rows, live);
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
    const live = isFinal(row.state as VmState)
      ? new Map<string, AgentVm>()
      : await this.#liveVms(true, row.name);
    return onlyOne(await this.#views([row], live));
  }

  async serial(ref: string): Promise<string> {
    const row = await this.find(ref);
    return (await this.agent().serialLog(row.name)) ?? '';
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
    const agent = this.agent();
    const hostId = await this.hostId();
    let versionId = '';
    const { terminal } = options;
    const row = await this.insertVm(async (tx, id) => {
      await terminal?.decide(tx);
      const locked = await lockProfile(tx, profile.id);
      versionId = await this.#checkClientMayStart(tx, locked);
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
    const launched = this.launch(row, agent, {
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
   * Asks the agent to start the VM of a 'starting' row; the row becomes 'running', or
   * 'failed' when it did not start (the agent leaves nothing running then).
   */
  async launch(row: Vm, agent: HostAgent, spec: AgentVmSpec): Promise<void> {
    try {
      await agent.startVm(spec);
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
    const agent = this.agent();
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
    const agent = this.agent();
    if (row.state !== 'running') {
      throw new LabvirtError('VM_NOT_RUNNING', { name: row.name, state: row.state });
    }
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

  /** Records that a VM ended (idempotent: the agent's event and the stop both tell it). */
  async markEnded(ended: VmEnded): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      const row = await tx
        .selectFrom('vms')
        .selectAll()
        .where('name', '=', ended.name)
        .where('state', 'in', ACTIVE_STATES)
        .executeTakeFirst();
      if (row === undefined) return;
      const state = nextVmState(row.state as VmState, {
        type: 'exit',
        clean: ended.state === 'stopped',
      });
      await tx
        .updateTable('vms')
        .set({ state, terminal_id: null, updated_at: this.#deps.now().toISOString() })
        .where('id', '=', row.id)
        .execute();
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
    });
  }

  /**
   * At start: the rows of this host that say a VM is active are checked against what the
   * agent runs. A row whose VM is gone is ended; a row still 'starting' whose VM runs is
   * running. VMs the agent runs without a row are left alone (a manual VM, say) and listed.
   */
  async reconcile(): Promise<{ running: string[]; ended: string[]; unknown: string[] }> {
    const hostId = await this.hostId();
    const live = await this.agent().listVms();
    const names = new Set(live.map((vm) => vm.name));
    const rows = await this.db
      .selectFrom('vms')
      .selectAll()
      .where('host_id', '=', hostId)
      .where('state', 'in', ACTIVE_STATES)
      .execute();
    const running: string[] = [];
    const ended: string[] = [];
    for (const row of rows) {
      if (names.has(row.name)) {
        if (row.state === 'starting') await this.#setState(row.name, 'starting', { type: 'ready' });
        running.push(row.name);
      } else {
        await this.markEnded({
          name: row.name,
          state: 'stopped',
          reason: 'gone',
          stopMethod: undefined,
        });
        ended.push(row.name);
      }
    }
    const known = new Set(rows.map((row) => row.name));
    const unknown = live.map((vm) => vm.name).filter((name) => !known.has(name));
    return { running, ended, unknown };
  }

  async #setState(name: string, from: VmState, event: Parameters<typeof nextVmState>[1]) {
    await this.db
      .updateTable('vms')
      .set({ state: nextVmState(from, event), updated_at: this.#deps.now().toISOString() })
      .where('name', '=', name)
      .where('state', '=', from)
      .execute();
  }

  async #liveVms(needed: boolean, name?: string): Promise<Map<string, AgentVm>> {
    const agent = this.#deps.agent;
    if (!needed || agent === undefined) return new Map();
    if (name !== undefined) {
      const vm = await agent.vm(name);
      return new Map(vm === undefined ? [] : [[name, vm]]);
    }
    return new Map((await agent.listVms()).map((vm) => [vm.name, vm]));
  }

  async #views(rows: readonly Vm[], live: ReadonlyMap<string, AgentVm>): Promise<VmView[]> {
    if (rows.length === 0) return [];
    const profiles = new Map(
      (await this.db.selectFrom('profiles').select(['id', 'name']).execute()).map((p) => [
        p.id,
        p.name,
      ]),
    );
    const hosts = new Map(
      (await this.db.selectFrom('hosts').select(['id', 'name']).execute()).map((h) => [
        h.id,
        h.name,
      ]),
    );
    const terminalIds = rows.flatMap((row) => (row.terminal_id === null ? [] : [row.terminal_id]));
    const terminals = new Map(
      terminalIds.length === 0
        ? []
        : (
            await this.db
              .selectFrom('terminals')
              .select(['id', 'mac'])
              .where('id', 'in', terminalIds)
              .execute()
          ).map((t) => [t.id, t.mac]),
    );
    return rows.map((row) => {
      const vm = isFinal(row.state as VmState) ? undefined : live.get(row.name);
      return {
        id: row.id,
        name: row.name,
        kind: row.kind,
        profileId: row.profile_id,
        profile: row.profile_id === null ? null : (profiles.get(row.profile_id) ?? null),
        versionId: row.version_id,
        host: row.host_id === null ? null : (hosts.get(row.host_id) ?? null),
        state: row.state,
        mac: row.mac,
        terminal: row.terminal_id === null ? null : (terminals.get(row.terminal_id) ?? null),
        pid: vm?.pid ?? null,
        runStatus: vm?.runStatus ?? null,
        connections: vm?.connections ?? [],
        createdAt: row.created_at,
        updatedAt: row.updated_at,
      };
    });
  }
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
