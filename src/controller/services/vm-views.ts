// What the API shows of VMs: their rows, with what the agents of their hosts say of the
// active ones (pid, QEMU's run state, who is connected).
import type { Kysely } from 'kysely';
import type { AgentVm, DisplayConnection } from '../../agent/host-agent.js';
import { isFinal, type VmState } from '../../domain/vm-lifecycle.js';
import type { Database, Vm, VmKind } from '../../db/schema.js';
import type { AgentPool } from '../agents/agent-pool.js';

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

/** The agents' view of the rows' active VMs, by name (a host that does not answer adds none). */
export async function liveVms(
  pool: AgentPool,
  rows: readonly Vm[],
  log?: (error: unknown, message: string) => void,
): Promise<Map<string, AgentVm>> {
  await pool.localHostId()?.catch(() => undefined); // known to the pool before it is asked
  const active = rows.filter((row) => !isFinal(row.state as VmState));
  const [only] = active;
  if (only !== undefined && active.length === 1 && rows.length === 1) {
    const vm = await pool.onlineAgent(only.host_id)?.vm(only.name);
    return new Map(vm === undefined ? [] : [[only.name, vm]]);
  }
  const hosts = new Set(active.map((row) => row.host_id));
  const lists = await Promise.all(
    [...hosts].map(async (hostId) => {
      const agent = pool.onlineAgent(hostId);
      if (agent === undefined) return [];
      try {
        return await agent.listVms();
      } catch (error) {
        // One host not answering does not hide the others' VMs.
        log?.(error, 'listing a host’s VMs failed');
        return [];
      }
    }),
  );
  return new Map(lists.flat().map((vm) => [vm.name, vm]));
}

/** The API's view of VM rows, with the agents' live facts for the active ones. */
export async function vmViews(
  db: Kysely<Database>,
  rows: readonly Vm[],
  live: ReadonlyMap<string, AgentVm>,
): Promise<VmView[]> {
  if (rows.length === 0) return [];
  const profiles = new Map(
    (await db.selectFrom('profiles').select(['id', 'name']).execute()).map((p) => [p.id, p.name]),
  );
  const hosts = new Map(
    (await db.selectFrom('hosts').select(['id', 'name']).execute()).map((h) => [h.id, h.name]),
  );
  const terminalIds = rows.flatMap((row) => (row.terminal_id === null ? [] : [row.terminal_id]));
  const terminals = new Map(
    terminalIds.length === 0
      ? []
      : (
          await db
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
