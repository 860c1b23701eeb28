// The hosts table follows what the agents report.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { HostReport } from '../../agent/host-agent.js';

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
