// The hosts table follows what the agents report; admins remove hosts and change their
// placement settings (enrolment is in host-enrolment.ts).
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { LabvirtError } from '../../domain/errors.js';
import type { Database, Flag, Host } from '../../db/schema.js';
import type { HostReport } from '../../agent/host-agent.js';
import { audit, type Actor } from './audit.js';
// A cycle (vms.ts registers hosts), harmless: used only inside a function.
import { ACTIVE_STATES } from './vms.js';
import { lockPlacement } from './vm-placement.js';

/** Inserts or refreshes a host from its agent's report; returns its id. */
export async function registerHost(
  db: Kysely<Database>,
  report: HostReport,
  now: Date,
): Promise<string> {
  const problem = report.qemu.available ? undefined : report.qemu.problem;
  const row = {
    address: report.address,
    is_local: report.address === 'local' ? (1 as const) : (0 as const),
    state: problem === undefined ? ('online' as const) : ('unavailable' as const),
    state_reason:
      problem ??
      (report.kvm.usable ? null : `no KVM (${report.kvm.reason ?? 'unknown'}): VMs run under TCG`),
    cpus: report.cpus,
    memory_mib: report.memoryMiB,
    last_seen_at: now.toISOString(),
    updated_at: now.toISOString(),
  };
  const existing = await db
    .selectFrom('hosts')
    .select('id')
    .where('name', '=', report.name)
    .executeTakeFirst();
  if (existing !== undefined) {
    await db.updateTable('hosts').set(row).where('id', '=', existing.id).execute();
    return existing.id;
  }
  const id = randomUUID();
  await db
    .insertInto('hosts')
    .values({ id, name: report.name, monitoring_url: null, created_at: now.toISOString(), ...row })
    .execute();
  return id;
}

/** The host by id or name. */
export async function findHost(db: Kysely<Database>, ref: string): Promise<Host> {
  const host = await db
    .selectFrom('hosts')
    .selectAll()
    .where((eb) => eb.or([eb('id', '=', ref), eb('name', '=', ref)]))
    .executeTakeFirst();
  if (host === undefined) throw new LabvirtError('HOST_NOT_FOUND', { host: ref });
  return host;
}

/**
 * Removes a host: its row, and with it its credentials (its agent is refused from then
 * on), its profile affinities and its image records. Not the local host, nor one with VMs.
 */
export async function removeHost(
  db: Kysely<Database>,
  actor: Actor,
  ref: string,
  now: Date,
): Promise<void> {
  const host = await findHost(db, ref);
  if (host.is_local === 1) throw new LabvirtError('HOST_IS_LOCAL', { host: host.name });
  await db.transaction().execute(async (tx) => {
    // Under placement's lock: no VM is placed on it between the count and the delete
    // (its row would lose its host and its QEMU would be nobody's).
    await lockPlacement(tx);
    const { count } = await tx
      .selectFrom('vms')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('host_id', '=', host.id)
      .where('state', 'in', ACTIVE_STATES)
      .executeTakeFirstOrThrow();
    if (Number(count) > 0)
      throw new LabvirtError('HOST_HAS_VMS', { host: host.name, count: Number(count) });
    await tx.deleteFrom('hosts').where('id', '=', host.id).execute();
    await audit(
      tx,
      actor,
      {
        action: 'host.remove',
        targetType: 'host',
        targetId: host.id,
        details: { name: host.name, address: host.address },
      },
      now,
    );
  });
}

export interface HostChanges {
  /** Drained: no new VMs; those running finish. */
  readonly maintenance?: boolean;
  readonly cpuRatio?: number;
  readonly monitoringUrl?: string | null;
  readonly sharedStore?: boolean;
}

/** A monitoring page's link: an http(s) URL, nothing a browser would run. */
export function checkMonitoringUrl(url: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:'))
    throw new LabvirtError(
      'OPTION_INVALID',
      { option: 'monitoringUrl', reason: 'use an http:// or https:// URL' },
      { field: 'monitoringUrl' },
    );
  return url;
}

const flag = (value: boolean): Flag => (value ? 1 : 0);

export async function updateHost(
  db: Kysely<Database>,
  actor: Actor,
  ref: string,
  input: HostChanges,
  now: Date,
): Promise<Host> {
  const host = await findHost(db, ref);
  const monitoringUrl =
    input.monitoringUrl === undefined || input.monitoringUrl === null
      ? input.monitoringUrl
      : checkMonitoringUrl(input.monitoringUrl);
  const changes = {
    ...(input.maintenance !== undefined ? { maintenance: flag(input.maintenance) } : {}),
    ...(input.cpuRatio !== undefined ? { cpu_ratio: input.cpuRatio } : {}),
    ...(monitoringUrl !== undefined ? { monitoring_url: monitoringUrl } : {}),
    ...(input.sharedStore !== undefined ? { shared_store: flag(input.sharedStore) } : {}),
  };
  if (Object.keys(changes).length === 0) return host;
  await db.transaction().execute(async (tx) => {
    await tx
      .updateTable('hosts')
      .set({ ...changes, updated_at: now.toISOString() })
      .where('id', '=', host.id)
      .execute();
    await audit(
      tx,
      actor,
      {
        action: 'host.update',
        targetType: 'host',
        targetId: host.id,
        details: { name: host.name, ...input },
      },
      now,
    );
  });
  return findHost(db, host.id);
}
