// A lab's weekly timetable: slots of text like "mon-fri 08:00-10:00 PROFILE" (which profile
// when), parsed and formatted, checked for overlaps, and evaluated at an instant in the
// lab's IANA time zone (through Intl, daylight saving time included). Pure: no clock, no
// database.
import { LabvirtError, phrase, type Phrase } from './errors.js';

export const dayNames = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type DayName = (typeof dayNames)[number];
export type OutsideSlots = 'default' | 'closed';

/** When a slot applies: days as a bitmask (Monday 1 ... Sunday 64), minutes [start, end). */
export interface SlotTimes {
  readonly days: number;
  /** Minutes since midnight, 0-1439. */
  readonly startMinute: number;
  /** Minutes since midnight, 1-1440 (24:00), after startMinute. */
  readonly endMinute: number;
}

/** A slot as written: the profile as the text named it. */
export interface ParsedSlot extends SlotTimes {
  readonly profile: string;
}

/** A slot as evaluated: the profile by id. */
export interface TimetableSlot extends SlotTimes {
  readonly profileId: string;
}

export interface Timetable<S extends TimetableSlot = TimetableSlot> {
  readonly slots: readonly S[];
  readonly outside: OutsideSlots;
  readonly defaultProfileId: string | null;
  /** IANA time zone, e.g. 'Europe/Madrid'. */
  readonly timezone: string;
}

export type ClosedReason = 'no default profile' | 'outside the timetable' | 'unknown time zone';

export type LabState<S extends TimetableSlot = TimetableSlot> =
  | {
      readonly state: 'open';
      readonly profileId: string;
      /** The slot that applies; null outside the slots (the default profile). */
      readonly slot: S | null;
      /** The next slot boundary, where what applies changes; null if nothing ever does. */
      readonly until: Date | null;
    }
  | {
      readonly state: 'closed';
      readonly reason: ClosedReason;
      /** When it opens next; null if it does not within a week. */
      readonly opensAt: Date | null;
    };

const MINUTES_PER_DAY = 1440;

function invalid(slot: string, reason: Phrase): LabvirtError {
  return new LabvirtError('SLOT_INVALID', { slot, reason }, { field: 'slots' });
}

function dayIndex(name: string, slot: string): number {
  const index = dayNames.indexOf(name.toLowerCase() as DayName);
  if (index < 0)
    throw invalid(
      slot,
      phrase('"{day}" is not a day: use mon, tue, wed, thu, fri, sat, sun', { day: name }),
    );
  return index;
}

/** "mon-fri", "mon,wed", "sat", "fri-mon" (a range may wrap past Sunday) → bitmask. */
export function parseDays(text: string, slot = text): number {
  let mask = 0;
  for (const item of text.split(',')) {
    const [first, last, ...rest] = item.split('-');
    if (first === undefined || first === '' || rest.length > 0 || last === '')
      throw invalid(slot, phrase('the days are not a list of days or day ranges'));
    const from = dayIndex(first, slot);
    const to = last === undefined ? from : dayIndex(last, slot);
    for (let day = from; ; day = (day + 1) % 7) {
      mask |= 1 << day;
      if (day === to) break;
    }
  }
  return mask;
}

/** Bitmask → "mon-fri", "mon,wed", "sat,sun", "mon-sun": runs of three days or more as ranges. */
export function formatDays(mask: number): string {
  const parts: string[] = [];
  for (let day = 0; day < 7; day++) {
    if ((mask & (1 << day)) === 0) continue;
    let end = day;
    while (end + 1 < 7 && (mask & (1 << (end + 1))) !== 0) end++;
    if (end - day >= 2) parts.push(`${dayNames[day]}-${dayNames[end]}`);
    else parts.push(...dayNames.slice(day, end + 1));
    day = end;
  }
  return parts.join(',');
}

/** The days of a mask by name, Monday first. */
export function daysOf(mask: number): DayName[] {
  return dayNames.filter((_, day) => (mask & (1 << day)) !== 0);
}

function parseTime(text: string, slot: string, end: boolean): number {
  const match = /^(\d{1,2}):(\d{2})$/.exec(text);
  if (match === null)
    throw invalid(slot, phrase('"{time}" is not a time: use HH:MM, e.g. 08:00', { time: text }));
  const hours = Number(match[1]);
  const minutes = Number(match[2]);
  const total = hours * 60 + minutes;
  if (minutes > 59 || total > MINUTES_PER_DAY || (!end && total === MINUTES_PER_DAY))
    throw invalid(slot, phrase('"{time}" is not a time of day (00:00-24:00)', { time: text }));
  return total;
}

/** Minutes since midnight → "HH:MM" (1440 is "24:00"). */
export function formatTime(minute: number): string {
  const hours = Math.floor(minute / 60);
  return `${String(hours).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
}

/** Parses "DAYS HH:MM-HH:MM PROFILE"; the profile is the rest of the line. */
export function parseSlot(text: string): ParsedSlot {
  const match = /^\s*(\S+)\s+(\S+?)-(\S+)\s+(\S.*?)\s*$/u.exec(text);
  if (match === null) throw invalid(text, phrase('it needs days, a time range and a profile'));
  const [, days, start, end, profile] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
  ];
  const slot: ParsedSlot = {
    days: parseDays(days, text),
    startMinute: parseTime(start, text, false),
    endMinute: parseTime(end, text, true),
    profile,
  };
  if (slot.endMinute <= slot.startMinute)
    throw invalid(text, phrase('it must end after it starts'));
  return slot;
}

/** The canonical text of a slot: "mon-fri 08:00-10:00 PROFILE". */
export function formatSlot(slot: SlotTimes, profile: string): string {
  return `${formatDays(slot.days)} ${formatTime(slot.startMinute)}-${formatTime(slot.endMinute)} ${profile}`;
}

export function slotsOverlap(a: SlotTimes, b: SlotTimes): boolean {
  return (a.days & b.days) !== 0 && a.startMinute < b.endMinute && b.startMinute < a.endMinute;
}

/** Refuses a timetable with two overlapping slots (SLOT_OVERLAP, naming both). */
export function checkOverlaps<S extends SlotTimes>(
  slots: readonly S[],
  text: (slot: S) => string,
): void {
  slots.forEach((first, i) => {
    for (const second of slots.slice(i + 1)) {
      if (slotsOverlap(first, second))
        throw new LabvirtError(
          'SLOT_OVERLAP',
          { first: text(first), second: text(second) },
          { field: 'slots' },
        );
    }
  });
}

/** Slots in a stable order: by first day, then start time. */
export function sortSlots<S extends SlotTimes>(slots: readonly S[]): S[] {
  const firstDay = (slot: S) => Math.log2(slot.days & -slot.days);
  return [...slots].sort(
    (a, b) => firstDay(a) - firstDay(b) || a.startMinute - b.startMinute || a.days - b.days,
  );
}

// ---- Evaluation in a time zone ----------------------------------------------------------

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timezone: string): Intl.DateTimeFormat {
  let format = formatters.get(timezone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timezone, format);
  }
  return format;
}

/** Whether Intl knows the zone. */
export function isKnownTimezone(timezone: string): boolean {
  try {
    formatter(timezone);
    return true;
  } catch {
    return false;
  }
}

/** The wall-clock time of an instant in a zone, as if it were UTC (ms, seconds kept). */
function wallMs(instant: number, timezone: string): number {
  const parts = { year: 0, month: 1, day: 1, hour: 0, minute: 0, second: 0 };
  for (const part of formatter(timezone).formatToParts(new Date(instant)))
    if (part.type in parts) parts[part.type as keyof typeof parts] = Number(part.value);
  const { year, month, day, hour, minute, second } = parts;
  return Date.UTC(year, month - 1, day, hour, minute, second);
}

/** The local wall time of `now` in the zone: weekday (Monday 0) and minute of the day. */
export function localTime(
  now: Date,
  timezone: string,
): { readonly weekday: number; readonly minute: number; readonly day: number } {
  const wall = wallMs(now.getTime(), timezone);
  const day = Math.floor(wall / 86_400_000);
  // 1970-01-01 was a Thursday (index 3 counting from Monday).
  return {
    day,
    weekday: (((day + 3) % 7) + 7) % 7,
    minute: Math.floor((wall - day * 86_400_000) / 60_000),
  };
}

/**
 * The first instant at or after which the zone's wall clock reads `wall` (ms, as if UTC):
 * the wall time itself where it exists once, its first occurrence where the clock turns
 * back, and the moment the clock jumps past it where it is skipped (spring forward).
 */
function instantOfWall(wall: number, timezone: string): number {
  const offsets = [wall - 86_400_000, wall + 86_400_000].map(
    (at) => wallMs(at, timezone) - Math.floor(at / 1000) * 1000,
  );
  const candidates = [...new Set(offsets.map((offset) => wall - offset))].sort((a, b) => a - b);
  for (const candidate of candidates) {
    const seen = wallMs(candidate, timezone);
    if (seen === wall) return candidate;
    // The offset of the candidate itself may differ from those a day around it.
    const adjusted = wall - (seen - candidate);
    if (wallMs(adjusted, timezone) === wall) return adjusted;
  }
  // Skipped: the first minute whose wall time is past it, between the two candidates.
  let low = Math.min(...candidates) - 86_400_000;
  let high = Math.max(...candidates) + 86_400_000;
  while (high - low > 60_000) {
    const middle = Math.floor((low + high) / 120_000) * 60_000;
    if (middle <= low || middle >= high) break;
    if (wallMs(middle, timezone) >= wall) high = middle;
    else low = middle;
  }
  return high;
}

function slotAt<S extends TimetableSlot>(
  slots: readonly S[],
  weekday: number,
  minute: number,
): S | null {
  return (
    slots.find(
      (slot) =>
        (slot.days & (1 << weekday)) !== 0 && slot.startMinute <= minute && minute < slot.endMinute,
    ) ?? null
  );
}

type Applies<S> = { readonly profileId: string | null; readonly slot: S | null };

function appliesAt<S extends TimetableSlot>(
  timetable: Timetable<S>,
  weekday: number,
  minute: number,
): Applies<S> {
  const slot = slotAt(timetable.slots, weekday, minute);
  if (slot !== null) return { profileId: slot.profileId, slot };
  if (timetable.outside === 'closed' && timetable.slots.length > 0)
    return { profileId: null, slot: null };
  return { profileId: timetable.defaultProfileId, slot: null };
}

/**
 * What a lab does at `now`: open with a profile (a slot's, else the default one) until the
 * next slot boundary, or closed (outside its slots under 'closed', or with nothing to run)
 * until it opens. A lab without slots runs its default profile all the time.
 */
export function labAt<S extends TimetableSlot>(timetable: Timetable<S>, now: Date): LabState<S> {
  if (!isKnownTimezone(timetable.timezone))
    return { state: 'closed', reason: 'unknown time zone', opensAt: null };
  const here = localTime(now, timetable.timezone);
  const current = appliesAt(timetable, here.weekday, here.minute);
  // Every slot edge over the next eight local days, in order; the first where what
  // applies changes is the boundary.
  const edges = new Set<number>();
  for (let offset = 0; offset <= 8; offset++) {
    const weekday = (here.weekday + offset) % 7;
    for (const slot of timetable.slots) {
      if ((slot.days & (1 << weekday)) === 0) continue;
      for (const minute of [slot.startMinute, slot.endMinute]) {
        const at = (here.day + offset) * MINUTES_PER_DAY + minute;
        if (at > here.day * MINUTES_PER_DAY + here.minute) edges.add(at);
      }
    }
  }
  let boundary: Date | null = null;
  for (const at of [...edges].sort((a, b) => a - b)) {
    const day = Math.floor(at / MINUTES_PER_DAY);
    const next = appliesAt(timetable, (((day + 3) % 7) + 7) % 7, at - day * MINUTES_PER_DAY);
    if (next.profileId === current.profileId && next.slot === current.slot) continue;
    const instant = instantOfWall(at * 60_000, timetable.timezone);
    if (instant > now.getTime()) {
      boundary = new Date(instant);
      break;
    }
  }
  if (current.profileId !== null)
    return { state: 'open', profileId: current.profileId, slot: current.slot, until: boundary };
  const reason: ClosedReason =
    timetable.outside === 'closed' && timetable.slots.length > 0
      ? 'outside the timetable'
      : 'no default profile';
  return { state: 'closed', reason, opensAt: boundary };
}
