// Where a new VM runs: the hosts as the database and the pool see them, what the active
// rows already take of each, the profile's allowed hosts, which hosts hold the image and
// the lab's policy, handed to the pure place() (src/domain/placement.ts). It runs inside
// the transaction that inserts the VM's row, under one lock for the whole cluster
// (PostgreSQL: an advisory transaction lock; SQLite's IMMEDIATE transactions are
// serialized already), so two controllers never fill a host past what it can take.
import { PostgresAdapter, sql, type Transaction } from 'kysely';
import { LabvirtError } from '../../domain/errors.js';
import { formatRefusals, place, type PlacementPolicy } from '../../domain/placement.js';
import type { Database, Profile } from '../../db/schema.js';
import type { AgentPool } from '../agents/agent-pool.js';
import { dataDisks } from './profiles.js';
import { ACTIVE_STATES } from './vms.js';

/**
 * The cluster-wide lock of placement on PostgreSQL (any constant; 'LVPLACE' in ASCII):
 * held to the end of the inserting transaction, so two controllers never place on what
 * the other has not committed yet. SQLite's IMMEDIATE transactions serialize already.
 */
const PLACEMENT_LOCK = 0x4c56504c414345n;

/** What the VM to place needs, and where it may go. */
export interface PlacementNeeds {
  readonly profile: Profile;
  /** The version it boots (a host with it is preferred). */
  readonly versionId: string | null;
  /** The terminal it serves: its lab's placement policy applies. */
  readonly terminalId?: string | undefined;
  /** An admin VM: on a host that shares the controller's image store. */
  readonly admin?: boolean | undefined;
}

/** Takes placement's cluster-wide lock until the transaction ends. */
export async function lockPlacement(tx: Transaction<Database>): Promise<void> {
  if (tx.getExecutor().adapter instanceof PostgresAdapter) {
    await sql`select pg_advisory_xact_lock(${sql.lit(PLACEMENT_LOCK.toString())}::bigint)`.execute(
      tx,
    );
  }
}

export interface PlacementDeps {
  /** Which hosts answer now, and which share the controller's image store by their report. */
  readonly hosts: Pick<AgentPool, 'isOnline' | 'reportSharedStore'>;
  /** A host's free disk by its latest sample (MiB), null when none (not checked). */
  readonly diskFreeMiB?: ((hostId: string) => number | null) | undefined;
}

export async function placeVm(
  tx: Transaction<Database>,
  needs: PlacementNeeds,
  deps: PlacementDeps,
): Promise<string> {
  await lockPlacement(tx);
  const pool = deps.hosts;
  const { profile } = needs;
  const hosts = await tx.selectFrom('hosts').selectAll().where('state', '!=', 'pending').execute();
  const committed = new Map(
    (
      await tx
        .selectFrom('vms')
        .innerJoin('profiles', 'profiles.id', 'vms.profile_id')
        .select((eb) => [
          'vms.host_id',
          eb.fn.sum<number | string>('profiles.memory_mib').as('memory'),
          eb.fn.sum<number | string>('profiles.cpus').as('cpus'),
          eb.fn.countAll<number | string>().as('count'),
        ])
        .where('vms.state', 'in', ACTIVE_STATES)
        .groupBy('vms.host_id')
        .execute()
    ).map((row) => [
      row.host_id,
      { memoryMiB: Number(row.memory), vcpus: Number(row.cpus), vms: Number(row.count) },
    ]),
  );
  const allowed = new Set(
    (
      await tx
        .selectFrom('profile_hosts')
        .select('host_id')
        .where('profile_id', '=', profile.id)
        .execute()
    ).map((row) => row.host_id),
  );
  const held = new Set(
    needs.versionId === null
      ? []
      : (
          await tx
            .selectFrom('host_images')
            .select('host_id')
            .where('version_id', '=', needs.versionId)
            .execute()
        ).map((row) => row.host_id),
  );
  let policy: PlacementPolicy = 'spread';
  if (needs.terminalId !== undefined) {
    const lab = await tx
      .selectFrom('terminals')
      .innerJoin('labs', 'labs.id', 'terminals.lab_id')
      .select('labs.placement')
      .where('terminals.id', '=', needs.terminalId)
      .executeTakeFirst();
    policy = lab?.placement ?? 'spread';
  }
  const candidates = hosts.map((host) => {
    const sharedStore =
      host.is_local === 1 || host.shared_store === 1 || pool.reportSharedStore(host.id);
    return {
      id: host.id,
      name: host.name,
      online: pool.isOnline(host.id),
      maintenance: host.maintenance === 1,
      cpus: host.cpus ?? 0,
      memoryMiB: host.memory_mib ?? 0,
      cpuRatio: host.cpu_ratio,
      diskFreeMiB: deps.diskFreeMiB?.(host.id) ?? null,
      sharedStore,
      allowed: allowed.size === 0 || allowed.has(host.id),
      hasImage: sharedStore || held.has(host.id),
      committed: committed.get(host.id) ?? { memoryMiB: 0, vcpus: 0, vms: 0 },
    };
  });
  const placement = place(candidates, {
    memoryMiB: profile.memory_mib,
    cpus: profile.cpus,
    diskMiB: dataDisks(profile.data_disks).reduce((sum, disk) => sum + disk.sizeMiB, 0),
    policy,
    needsSharedStore: needs.admin === true,
  });
  if (placement.ok) return placement.host.id;
  if (needs.admin === true && placement.reasons.every((r) => r.reason === 'no-shared-store')) {
    throw new LabvirtError('NO_SHARED_STORE_HOST');
  }
  throw new LabvirtError('NO_HOST_AVAILABLE', { reasons: formatRefusals(placement.reasons) });
}
