// The subnets of a lab: an unknown terminal asking from one of them is enrolled into the
// lab at once. A subnet (normalised CIDR) belongs to at most one lab; where subnets of
// several labs hold an address, the most specific one wins.
import type { Kysely } from 'kysely';
import { LabvirtError } from '../../domain/errors.js';
import { labForAddress, parseCidr } from '../../domain/subnets.js';
import type { Database, Lab } from '../../db/schema.js';
import { isUniqueViolation } from '../../db/errors.js';
import { audit, type Actor } from './audit.js';
import { findLab, showLab, type LabView } from './labs.js';

/** Replaces the lab's subnets (each normalised; duplicates kept once). All or nothing. */
export async function setLabSubnets(
  db: Kysely<Database>,
  actor: Actor,
  ref: string,
  input: { readonly subnets: readonly string[] },
  now: Date,
): Promise<LabView> {
  const lab = await findLab(db, ref);
  const cidrs = [...new Set(input.subnets.map((text) => parseCidr(text, 'subnets').text))].sort();
  const taken = async () => {
    if (cidrs.length === 0) return;
    const other = await db
      .selectFrom('lab_subnets')
      .innerJoin('labs', 'labs.id', 'lab_subnets.lab_id')
      .select(['lab_subnets.cidr', 'labs.name'])
      .where('lab_subnets.cidr', 'in', cidrs)
      .where('lab_subnets.lab_id', '!=', lab.id)
      .orderBy('lab_subnets.cidr')
      .executeTakeFirst();
    if (other !== undefined)
      throw new LabvirtError(
        'SUBNET_TAKEN',
        { cidr: other.cidr, lab: other.name },
        { field: 'subnets' },
      );
  };
  await taken();
  try {
    await db.transaction().execute(async (tx) => {
      await tx.deleteFrom('lab_subnets').where('lab_id', '=', lab.id).execute();
      if (cidrs.length > 0)
        await tx
          .insertInto('lab_subnets')
          .values(cidrs.map((cidr) => ({ cidr, lab_id: lab.id, created_at: now.toISOString() })))
          .execute();
      await tx
        .updateTable('labs')
        .set({ updated_at: now.toISOString() })
        .where('id', '=', lab.id)
        .execute();
      await audit(
        tx,
        actor,
        { action: 'lab.subnets', targetType: 'lab', targetId: lab.id, details: { subnets: cidrs } },
        now,
      );
    });
  } catch (error) {
    // Another lab took one of them meanwhile.
    if (isUniqueViolation(error)) await taken();
    throw error;
  }
  return showLab(db, lab.id);
}

/** The lab whose most specific subnet holds `ip` (IPv4-mapped IPv6 as IPv4), if any. */
export async function labForTerminalAddress(
  db: Kysely<Database>,
  ip: string,
): Promise<Lab | undefined> {
  const rules = await db.selectFrom('lab_subnets').select(['cidr', 'lab_id']).execute();
  const rule = labForAddress(rules, ip);
  if (rule === undefined) return undefined;
  return db.selectFrom('labs').selectAll().where('id', '=', rule.lab_id).executeTakeFirst();
}
