// Labs: groups of terminals, with the profiles they may use.
import { randomUUID } from 'node:crypto';
import { PostgresAdapter, type Kysely, type Transaction } from 'kysely';
import { LabvirtError } from '../../domain/errors.js';
import type { Database, Lab, OutsideSlots, PlacementPolicy } from '../../db/schema.js';
import { audit, type Actor } from './audit.js';
import { isUniqueViolation } from '../../db/errors.js';
import { onlyOne } from './only-one.js';

export interface LabView {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly timezone: string;
  readonly defaultProfile: string | null;
  readonly idleMinutes: number | null;
  readonly profiles: string[];
  /** What the lab does outside its timetable's slots. */
  readonly outsideSlots: OutsideSlots;
  /** Subnets whose unknown terminals are enrolled into the lab at once (normalised CIDRs). */
  readonly subnets: string[];
  /** The IPv4 range its terminals' VMs get their DHCP addresses from ('FIRST-LAST'), if any. */
  readonly addressPool: string | null;
  /** How its terminals' VMs are placed on hosts. */
  readonly placement: PlacementPolicy;
  readonly terminals: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface LabInput {
  readonly name?: string;
  readonly description?: string;
  readonly timezone?: string;
  readonly idleMinutes?: number | null;
  readonly placement?: PlacementPolicy;
}

export function checkTimezone(timezone: string): string {
  try {
    return new Intl.DateTimeFormat('en', { timeZone: timezone }).resolvedOptions().timeZone;
  } catch {
    throw new LabvirtError('TIMEZONE_UNKNOWN', { timezone }, { field: 'timezone' });
  }
}

/** The lab by id or name; `field` names the input it came from, for the 404 problem. */
export async function findLab(db: Kysely<Database>, ref: string, field?: string): Promise<Lab> {
  const lab = await db
    .selectFrom('labs')
    .selectAll()
    .where((eb) => eb.or([eb('id', '=', ref), eb('name', '=', ref)]))
    .executeTakeFirst();
  if (lab === undefined)
    throw new LabvirtError('LAB_NOT_FOUND', { lab: ref }, field === undefined ? {} : { field });
  return lab;
}

/**
 * Serializes the changes to one lab's settings (profiles, timetable): PostgreSQL locks the
 * lab row until the transaction ends; SQLite transactions are serialized already.
 */
export async function lockLab(tx: Transaction<Database>, id: string): Promise<Lab> {
  const query = tx.selectFrom('labs').selectAll().where('id', '=', id);
  const postgres = tx.getExecutor().adapter instanceof PostgresAdapter;
  const lab = await (postgres ? query.forUpdate() : query).executeTakeFirst();
  if (lab === undefined) throw new LabvirtError('LAB_NOT_FOUND', { lab: id });
  return lab;
}

async function view(db: Kysely<Database>, labs: Lab[]): Promise<LabView[]> {
  if (labs.length === 0) return [];
  const ids = labs.map((lab) => lab.id);
  const profiles = await db
    .selectFrom('lab_profiles')
    .innerJoin('profiles', 'profiles.id', 'lab_profiles.profile_id')
    .select(['lab_profiles.lab_id', 'profiles.name'])
    .where('lab_profiles.lab_id', 'in', ids)
    .orderBy('profiles.name')
    .execute();
  const counts = await db
    .selectFrom('terminals')
    .select(['lab_id', (eb) => eb.fn.countAll<number>().as('count')])
    .where('lab_id', 'in', ids)
    .groupBy('lab_id')
    .execute();
  const subnets = await db
    .selectFrom('lab_subnets')
    .select(['lab_id', 'cidr'])
    .where('lab_id', 'in', ids)
    .orderBy('cidr')
    .execute();
  const defaults = await db.selectFrom('profiles').select(['id', 'name']).execute();
  const profileName = new Map(defaults.map((profile) => [profile.id, profile.name]));
  return labs.map((lab) => ({
    id: lab.id,
    name: lab.name,
    description: lab.description,
    timezone: lab.timezone,
    defaultProfile:
      lab.default_profile_id === null ? null : (profileName.get(lab.default_profile_id) ?? null),
    idleMinutes: lab.idle_minutes,
    profiles: profiles.filter((row) => row.lab_id === lab.id).map((row) => row.name),
    outsideSlots: lab.outside_slots,
    subnets: subnets.filter((row) => row.lab_id === lab.id).map((row) => row.cidr),
    addressPool: lab.address_pool,
    placement: lab.placement,
    terminals: Number(counts.find((row) => row.lab_id === lab.id)?.count ?? 0),
    createdAt: lab.created_at,
    updatedAt: lab.updated_at,
  }));
}

export async function listLabs(db: Kysely<Database>): Promise<LabView[]> {
  return view(db, await db.selectFrom('labs').selectAll().orderBy('name').execute());
}

export async function showLab(db: Kysely<Database>, ref: string): Promise<LabView> {
  return onlyOne(await view(db, [await findLab(db, ref)]));
}

export async function createLab(
  db: Kysely<Database>,
  actor: Actor,
  input: LabInput & { name: string },
  now: Date,
): Promise<LabView> {
  const id = randomUUID();
  const timezone = checkTimezone(input.timezone ?? 'UTC');
  try {
    await db.transaction().execute(async (tx) => {
      await tx
        .insertInto('labs')
        .values({
          id,
          name: input.name,
          description: input.description ?? '',
          timezone,
          idle_minutes: input.idleMinutes ?? null,
          ...(input.placement !== undefined ? { placement: input.placement } : {}),
          default_profile_id: null,
          created_at: now.toISOString(),
          updated_at: now.toISOString(),
        })
        .execute();
      await audit(
        tx,
        actor,
        { action: 'lab.create', targetType: 'lab', targetId: id, details: { name: input.name } },
        now,
      );
    });
  } catch (error) {
    if (isUniqueViolation(error))
      throw new LabvirtError('LAB_EXISTS', { name: input.name }, { field: 'name' });
    throw error;
  }
  return showLab(db, id);
}

export async function updateLab(
  db: Kysely<Database>,
  actor: Actor,
  ref: string,
  input: LabInput,
  now: Date,
): Promise<LabView> {
  const lab = await findLab(db, ref);
  const changes = {
    ...(input.name !== undefined ? { name: input.name } : {}),
    ...(input.description !== undefined ? { description: input.description } : {}),
    ...(input.timezone !== undefined ? { timezone: checkTimezone(input.timezone) } : {}),
    ...(input.idleMinutes !== undefined ? { idle_minutes: input.idleMinutes } : {}),
    ...(input.placement !== undefined ? { placement: input.placement } : {}),
  };
  try {
    await db.transaction().execute(async (tx) => {
      await tx
        .updateTable('labs')
        .set({ ...changes, updated_at: now.toISOString() })
        .where('id', '=', lab.id)
        .execute();
      await audit(
        tx,
        actor,
        { action: 'lab.update', targetType: 'lab', targetId: lab.id, details: changes },
        now,
      );
    });
  } catch (error) {
    if (isUniqueViolation(error))
      throw new LabvirtError('LAB_EXISTS', { name: input.name ?? '' }, { field: 'name' });
    throw error;
  }
  return showLab(db, lab.id);
}

export async function deleteLab(
  db: Kysely<Database>,
  actor: Actor,
  ref: string,
  now: Date,
): Promise<void> {
  const lab = await findLab(db, ref);
  await db.transaction().execute(async (tx) => {
    // Its terminals become pending: the addresses of its pool go with it.
    await tx
      .deleteFrom('terminal_addresses')
      .where('terminal_id', 'in', (eb) =>
        eb.selectFrom('terminals').select('id').where('lab_id', '=', lab.id),
      )
      .execute();
    await tx.deleteFrom('labs').where('id', '=', lab.id).execute();
    await audit(
      tx,
      actor,
      { action: 'lab.delete', targetType: 'lab', targetId: lab.id, details: { name: lab.name } },
      now,
    );
  });
}
