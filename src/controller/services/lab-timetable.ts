// A lab's availability (the profiles it may use, and its default one) and its weekly
// timetable (which profile when, and what it does outside the slots), with what applies now.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { LabvirtError } from '../../domain/errors.js';
import {
  checkOverlaps,
  daysOf,
  formatSlot,
  formatTime,
  labAt,
  parseSlot,
  sortSlots,
  type DayName,
  type LabState,
  type Timetable,
  type TimetableSlot,
} from '../../domain/timetable.js';
import type { Database, Lab, OutsideSlots, Profile } from '../../db/schema.js';
import { audit, type Actor } from './audit.js';
import { findLab, lockLab, showLab, type LabView } from './labs.js';
import { findProfile } from './profiles.js';

/** A slot with its profile's id and name. */
export interface NamedSlot extends TimetableSlot {
  readonly id: string;
  readonly profile: string;
}

export interface SlotView {
  /** The canonical text, e.g. "mon-fri 08:00-10:00 Windows". */
  readonly text: string;
  readonly days: DayName[];
  readonly start: string;
  readonly end: string;
  readonly profile: string;
}

export type NowView =
  | {
      readonly state: 'open';
      readonly profile: string;
      /** The slot's text; null outside the slots (the default profile). */
      readonly slot: string | null;
      readonly until: string | null;
    }
  | {
      readonly state: 'closed';
      readonly reason: string;
      readonly opensAt: string | null;
    };

export interface TimetableView {
  readonly lab: string;
  readonly timezone: string;
  readonly defaultProfile: string | null;
  readonly outside: OutsideSlots;
  readonly slots: SlotView[];
  /** What applies at the time of the request. */
  readonly now: NowView;
}

/** The lab's timetable as labAt takes it (for the terminal endpoint and the scheduler). */
export async function timetableOf(db: Kysely<Database>, lab: Lab): Promise<Timetable<NamedSlot>> {
  const rows = await db
    .selectFrom('lab_slots')
    .innerJoin('profiles', 'profiles.id', 'lab_slots.profile_id')
    .select([
      'lab_slots.id',
      'lab_slots.days',
      'lab_slots.start_minute',
      'lab_slots.end_minute',
      'lab_slots.profile_id',
      'profiles.name',
    ])
    .where('lab_slots.lab_id', '=', lab.id)
    .execute();
  const slots = rows.map((row) => ({
    id: row.id,
    days: row.days,
    startMinute: row.start_minute,
    endMinute: row.end_minute,
    profileId: row.profile_id,
    profile: row.name,
  }));
  return {
    slots: sortSlots(slots),
    outside: lab.outside_slots,
    defaultProfileId: lab.default_profile_id,
    timezone: lab.timezone,
  };
}

/** What applies in the lab at `now` (open with a profile, or closed), by the timetable. */
export async function labStateAt(
  db: Kysely<Database>,
  lab: Lab,
  now: Date,
): Promise<LabState<NamedSlot>> {
  return labAt(await timetableOf(db, lab), now);
}

export async function showTimetable(
  db: Kysely<Database>,
  ref: string,
  now: Date,
): Promise<TimetableView> {
  const lab = await findLab(db, ref);
  const timetable = await timetableOf(db, lab);
  const names = new Map(
    (await db.selectFrom('profiles').select(['id', 'name']).execute()).map((p) => [p.id, p.name]),
  );
  const state = labAt(timetable, now);
  const current: NowView =
    state.state === 'open'
      ? {
          state: 'open',
          profile: names.get(state.profileId) ?? state.profileId,
          slot: state.slot === null ? null : formatSlot(state.slot, state.slot.profile),
          until: state.until?.toISOString() ?? null,
        }
      : { state: 'closed', reason: state.reason, opensAt: state.opensAt?.toISOString() ?? null };
  return {
    lab: lab.name,
    timezone: lab.timezone,
    defaultProfile:
      lab.default_profile_id === null ? null : (names.get(lab.default_profile_id) ?? null),
    outside: lab.outside_slots,
    slots: timetable.slots.map((slot) => ({
      text: formatSlot(slot, slot.profile),
      days: daysOf(slot.days),
      start: formatTime(slot.startMinute),
      end: formatTime(slot.endMinute),
      profile: slot.profile,
    })),
    now: current,
  };
}

async function labProfiles(db: Kysely<Database>, lab: Lab): Promise<Profile[]> {
  return db
    .selectFrom('lab_profiles')
    .innerJoin('profiles', 'profiles.id', 'lab_profiles.profile_id')
    .selectAll('profiles')
    .where('lab_profiles.lab_id', '=', lab.id)
    .execute();
}

/**
 * Replaces the lab's timetable: every slot parsed, its profile one of the lab's, no two
 * overlapping; `outside` (when given) says what the lab does outside them. All or nothing.
 */
export async function setTimetable(
  db: Kysely<Database>,
  actor: Actor,
  ref: string,
  input: { readonly slots: readonly string[]; readonly outside?: OutsideSlots },
  now: Date,
): Promise<TimetableView> {
  const { id } = await findLab(db, ref);
  const parsed = input.slots.map((text) => parseSlot(text));
  await db.transaction().execute(async (tx) => {
    // Checked against the lab's profiles under its lock: a concurrent set-profiles waits.
    const lab = await lockLab(tx, id);
    const available = await labProfiles(tx, lab);
    const slots = parsed.map((slot) => {
      const profile = available.find((p) => p.id === slot.profile || p.name === slot.profile);
      if (profile === undefined)
        throw new LabvirtError(
          'PROFILE_NOT_IN_LAB',
          { profile: slot.profile, lab: lab.name },
          { field: 'slots' },
        );
      return { ...slot, profileId: profile.id, profile: profile.name };
    });
    checkOverlaps(slots, (slot) => formatSlot(slot, slot.profile));
    const texts = sortSlots(slots).map((slot) => formatSlot(slot, slot.profile));
    await tx.deleteFrom('lab_slots').where('lab_id', '=', lab.id).execute();
    if (slots.length > 0)
      await tx
        .insertInto('lab_slots')
        .values(
          slots.map((slot) => ({
            id: randomUUID(),
            lab_id: lab.id,
            days: slot.days,
            start_minute: slot.startMinute,
            end_minute: slot.endMinute,
            profile_id: slot.profileId,
          })),
        )
        .execute();
    await tx
      .updateTable('labs')
      .set({
        ...(input.outside !== undefined ? { outside_slots: input.outside } : {}),
        updated_at: now.toISOString(),
      })
      .where('id', '=', lab.id)
      .execute();
    await audit(
      tx,
      actor,
      {
        action: 'lab.timetable',
        targetType: 'lab',
        targetId: lab.id,
        details: { slots: texts, outside: input.outside ?? lab.outside_slots },
      },
      now,
    );
  });
  return showTimetable(db, id, now);
}

/**
 * Sets the profiles the lab may use (by id or name) and its default profile: `default`
 * must be one of them (null clears it; left out, the current default stays if still
 * listed). A profile the timetable uses cannot be taken away.
 */
export async function setLabProfiles(
  db: Kysely<Database>,
  actor: Actor,
  ref: string,
  input: { readonly profiles: readonly string[]; readonly default?: string | null },
  now: Date,
): Promise<LabView> {
  const { id } = await findLab(db, ref);
  const chosen = new Map<string, Profile>();
  for (const name of input.profiles) {
    const profile = await findProfile(db, name).catch((error: unknown) => {
      if (error instanceof LabvirtError)
        throw new LabvirtError(error.code, error.params, { field: 'profiles' });
      throw error;
    });
    chosen.set(profile.id, profile);
  }
  const listed = [...chosen.values()];
  await db.transaction().execute(async (tx) => {
    // Under the lab's lock: a concurrent timetable change waits, and is checked after.
    const lab = await lockLab(tx, id);
    let defaultId: string | null;
    if (input.default === undefined)
      defaultId =
        lab.default_profile_id !== null && chosen.has(lab.default_profile_id)
          ? lab.default_profile_id
          : null;
    else if (input.default === null) defaultId = null;
    else {
      const wanted = input.default;
      const profile = listed.find((p) => p.id === wanted || p.name === wanted);
      if (profile === undefined)
        throw new LabvirtError(
          'PROFILE_NOT_IN_LAB',
          { profile: wanted, lab: lab.name },
          { field: 'default' },
        );
      defaultId = profile.id;
    }
    const timetable = await timetableOf(tx, lab);
    const dropped = timetable.slots.find((slot) => !chosen.has(slot.profileId));
    if (dropped !== undefined)
      throw new LabvirtError(
        'PROFILE_IN_TIMETABLE',
        { profile: dropped.profile, lab: lab.name },
        { field: 'profiles' },
      );
    await tx.deleteFrom('lab_profiles').where('lab_id', '=', lab.id).execute();
    if (listed.length > 0)
      await tx
        .insertInto('lab_profiles')
        .values(listed.map((profile) => ({ lab_id: lab.id, profile_id: profile.id })))
        .execute();
    await tx
      .updateTable('labs')
      .set({ default_profile_id: defaultId, updated_at: now.toISOString() })
      .where('id', '=', lab.id)
      .execute();
    await audit(
      tx,
      actor,
      {
        action: 'lab.profiles',
        targetType: 'lab',
        targetId: lab.id,
        details: {
          profiles: listed.map((profile) => profile.name).sort(),
          default: listed.find((profile) => profile.id === defaultId)?.name ?? null,
        },
      },
      now,
    );
  });
  return showLab(db, id);
}
