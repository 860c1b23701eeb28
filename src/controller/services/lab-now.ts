// What a lab runs at an instant (its timetable evaluated in its time zone, see
// lab-timetable.ts) and the profile that applies. The terminal
// endpoint asks this for every request, so LabNowCache keeps the answer per lab for a
// moment (and never past the timetable's next boundary): a change to a lab applies to
// terminals within that moment.
import type { Kysely } from 'kysely';
import { LabvirtError } from '../../domain/errors.js';
import type { Database, Lab, Profile } from '../../db/schema.js';
import { labStateAt } from './lab-timetable.js';

export interface LabOpen {
  readonly lab: Lab;
  readonly profile: Profile;
}

/** How long a lab's answer is kept by default. */
export const LAB_NOW_TTL_MS = 2_000;

export class LabNowCache {
  readonly #db: Kysely<Database>;
  readonly #ttlMs: number;
  readonly #entries = new Map<string, { expires: number; value: Promise<LabOpen> }>();

  constructor(db: Kysely<Database>, ttlMs = LAB_NOW_TTL_MS) {
    this.#db = db;
    this.#ttlMs = ttlMs;
  }

  /** The lab and its profile of now; LAB_CLOSED (kept too) when it runs none. */
  get(labId: string, now: Date): Promise<LabOpen> {
    const cached = this.#entries.get(labId);
    if (cached !== undefined && now.getTime() < cached.expires) return cached.value;
    const entry = { expires: now.getTime() + this.#ttlMs, value: this.#load(labId, now) };
    this.#entries.set(labId, entry);
    entry.value.then(
      () => undefined,
      (error: unknown) => {
        // A closed lab stays closed for the moment; any other failure is not kept.
        const closed = error instanceof LabvirtError && error.code === 'LAB_CLOSED';
        if (!closed && this.#entries.get(labId) === entry) this.#entries.delete(labId);
      },
    );
    return entry.value;
  }

  async #load(labId: string, now: Date): Promise<LabOpen> {
    const lab = await this.#db
      .selectFrom('labs')
      .selectAll()
      .where('id', '=', labId)
      .executeTakeFirst();
    if (lab === undefined) throw new LabvirtError('LAB_NOT_FOUND', { lab: labId });
    const state = await labStateAt(this.#db, lab, now);
    const boundary = state.state === 'open' ? state.until : state.opensAt;
    const entry = this.#entries.get(labId);
    if (entry !== undefined && boundary !== null)
      entry.expires = Math.min(entry.expires, boundary.getTime());
    if (state.state === 'closed') {
      const opens = state.opensAt === null ? '' : `; it opens at ${state.opensAt.toISOString()}`;
      throw new LabvirtError('LAB_CLOSED', { lab: lab.name, reason: `${state.reason}${opens}` });
    }
    const profile = await this.#db
      .selectFrom('profiles')
      .selectAll()
      .where('id', '=', state.profileId)
      .executeTakeFirstOrThrow();
    return { lab, profile };
  }
}
