// What a lab runs at an instant: its timetable (from the database) evaluated in its time
// zone by the pure src/domain/timetable.ts.
import type { Kysely } from 'kysely';
import { labAt, type LabState } from '../../domain/timetable.js';
import type { Database, Lab } from '../../db/schema.js';

export async function labNow(db: Kysely<Database>, lab: Lab, now: Date): Promise<LabState> {
  const slots = await db
    .selectFrom('lab_slots')
    .select(['days', 'start_minute', 'end_minute', 'profile_id'])
    .where('lab_id', '=', lab.id)
    .execute();
  return labAt(
    {
      slots: slots.map((slot) => ({
        days: slot.days,
        startMinute: slot.start_minute,
        endMinute: slot.end_minute,
        profileId: slot.profile_id,
      })),
      outside: lab.outside_slots,
      defaultProfileId: lab.default_profile_id,
      timezone: lab.timezone,
    },
    now,
  );
}
