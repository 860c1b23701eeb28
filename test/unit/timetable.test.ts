// The timetable: slot text parsed and formatted (golden cases), overlaps refused naming
// both slots, and labAt evaluated in time zones with and without daylight saving time.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LabvirtError } from '../../src/domain/errors.js';
import {
  checkOverlaps,
  formatDays,
  formatSlot,
  labAt,
  localTime,
  parseSlot,
  type LabState,
  type Timetable,
  type TimetableSlot,
} from '../../src/domain/timetable.js';

const slot = (text: string): TimetableSlot => {
  const parsed = parseSlot(text);
  return { ...parsed, profileId: parsed.profile };
};

function timetable(texts: string[], options: Partial<Omit<Timetable, 'slots'>> = {}): Timetable {
  return {
    slots: texts.map(slot),
    outside: 'default',
    defaultProfileId: 'D',
    timezone: 'UTC',
    ...options,
  };
}

/** A state as plain JSON (dates as ISO text, the slot as its profile). */
function plain(state: LabState): Record<string, unknown> {
  return state.state === 'open'
    ? {
        state: 'open',
        profileId: state.profileId,
        slot: state.slot === null ? null : formatSlot(state.slot, state.slot.profileId),
        until: state.until?.toISOString() ?? null,
      }
    : { state: 'closed', reason: state.reason, opensAt: state.opensAt?.toISOString() ?? null };
}

const at = (iso: string) => new Date(iso);

describe('timetable slot text', () => {
  it('parses days, times and the profile (golden)', () => {
    const golden: [
      string,
      { days: number; startMinute: number; endMinute: number; profile: string },
    ][] = [
      [
        'mon-fri 08:00-10:00 Windows',
        { days: 31, startMinute: 480, endMinute: 600, profile: 'Windows' },
      ],
      ['mon,wed 14:00-16:30 P', { days: 5, startMinute: 840, endMinute: 990, profile: 'P' }],
      ['sat 09:00-24:00 P', { days: 32, startMinute: 540, endMinute: 1440, profile: 'P' }],
      [
        'fri-mon 08:00-09:00 P',
        { days: 1 | 16 | 32 | 64, startMinute: 480, endMinute: 540, profile: 'P' },
      ],
      [
        '  MON-Fri   8:05-10:00   Two words  ',
        { days: 31, startMinute: 485, endMinute: 600, profile: 'Two words' },
      ],
      [
        'mon-wed,sun 00:00-00:01 x',
        { days: 1 | 2 | 4 | 64, startMinute: 0, endMinute: 1, profile: 'x' },
      ],
    ];
    for (const [text, expected] of golden) assert.deepEqual(parseSlot(text), expected, text);
  });

  it('formats the canonical text, and parsing it gives the slot back', () => {
    assert.equal(formatDays(31), 'mon-fri');
    assert.equal(formatDays(5), 'mon,wed');
    assert.equal(formatDays(96), 'sat,sun');
    assert.equal(formatDays(127), 'mon-sun');
    assert.equal(formatDays(1 | 2 | 4 | 16), 'mon-wed,fri');
    assert.equal(formatDays(1 | 64), 'mon,sun');
    for (const text of [
      'fri-mon 08:00-09:00 P',
      'mon,wed 14:00-16:30 P',
      'sat 09:00-24:00 Lab PC',
    ]) {
      const parsed = parseSlot(text);
      const formatted = formatSlot(parsed, parsed.profile);
      assert.deepEqual(parseSlot(formatted), parsed, formatted);
    }
    assert.equal(formatSlot(parseSlot('fri-mon 8:00-9:00 P'), 'P'), 'mon,fri-sun 08:00-09:00 P');
  });

  it('refuses bad slots with SLOT_INVALID, showing the expected shape', () => {
    for (const text of [
      '',
      'mon-fri 08:00-10:00',
      'mon-fri 10:00-08:00 P',
      'mon 09:00-09:00 P',
      'xyz 08:00-10:00 P',
      'mon- 08:00-10:00 P',
      'mon-tue-wed 08:00-10:00 P',
      'mon,,tue 08:00-10:00 P',
      'mon 25:00-26:00 P',
      'mon 08:60-09:00 P',
      'mon 24:00-24:00 P',
      'mon 08:00-24:01 P',
      'mon 8-10 P',
      'monday 08:00-10:00 P',
    ]) {
      assert.throws(
        () => parseSlot(text),
        (error: unknown) => {
          assert.ok(error instanceof LabvirtError, text);
          assert.equal(error.code, 'SLOT_INVALID', text);
          assert.equal(error.field, 'slots');
          assert.match(error.message, /mon-fri 08:00-10:00 PROFILE/);
          return true;
        },
        text,
      );
    }
  });

  it('refuses overlapping slots naming both; touching slots and other days are fine', () => {
    const check = (texts: string[]) =>
      checkOverlaps(texts.map(parseSlot), (s) => formatSlot(s, s.profile));
    assert.throws(
      () => check(['mon-fri 08:00-10:00 A', 'sat 08:00-10:00 C', 'wed 09:00-11:00 B']),
      (error: unknown) => {
        assert.ok(error instanceof LabvirtError);
        assert.equal(error.code, 'SLOT_OVERLAP');
        assert.match(error.message, /"mon-fri 08:00-10:00 A" and "wed 09:00-11:00 B" overlap/);
        return true;
      },
    );
    assert.throws(() => check(['sun 23:00-24:00 A', 'sat-sun 23:59-24:00 B']), {
      code: 'SLOT_OVERLAP',
    });
    check(['mon 08:00-10:00 A', 'mon 10:00-12:00 B', 'tue 09:00-11:00 A', 'sat 00:00-24:00 A']);
  });
});

describe('labAt', () => {
  it('Mexico City (no DST): the slot, else the default or closed, and the next boundary', () => {
    const week = timetable(['mon-fri 08:00-10:00 A'], { timezone: 'America/Mexico_City' });
    // Monday 2026-11-30: 09:00 local is 15:00Z (UTC-6 all year).
    assert.deepEqual(plain(labAt(week, at('2026-11-30T15:00:00Z'))), {
      state: 'open',
      profileId: 'A',
      slot: 'mon-fri 08:00-10:00 A',
      until: '2026-11-30T16:00:00.000Z',
    });
    assert.deepEqual(plain(labAt(week, at('2026-11-30T13:59:00Z'))), {
      state: 'open',
      profileId: 'D',
      slot: null,
      until: '2026-11-30T14:00:00.000Z',
    });
    const closed = { ...week, outside: 'closed' as const };
    assert.deepEqual(plain(labAt(closed, at('2026-11-30T16:00:00Z'))), {
      state: 'closed',
      reason: 'outside the timetable',
      opensAt: '2026-12-01T14:00:00.000Z',
    });
    // Friday after class: opens on Monday.
    assert.deepEqual(plain(labAt(closed, at('2026-12-04T17:00:00Z'))), {
      state: 'closed',
      reason: 'outside the timetable',
      opensAt: '2026-12-07T14:00:00.000Z',
    });
  });

  it('without slots: the default profile all the time, or closed without one', () => {
    assert.deepEqual(plain(labAt(timetable([]), at('2026-11-30T15:00:00Z'))), {
      state: 'open',
      profileId: 'D',
      slot: null,
      until: null,
    });
    const none = timetable([], { defaultProfileId: null, outside: 'closed' });
    assert.deepEqual(plain(labAt(none, at('2026-11-30T15:00:00Z'))), {
      state: 'closed',
      reason: 'no default profile',
      opensAt: null,
    });
  });

  it('between slots without a default profile: closed until the next slot', () => {
    const tt = timetable(['mon 08:00-10:00 A', 'mon 12:00-14:00 B'], { defaultProfileId: null });
    assert.deepEqual(plain(labAt(tt, at('2026-11-30T11:00:00Z'))), {
      state: 'closed',
      reason: 'no default profile',
      opensAt: '2026-11-30T12:00:00.000Z',
    });
  });

  it('the boundary is where the slot changes, even to one of the same profile; 24:00 is midnight', () => {
    const tt = timetable(['mon 08:00-10:00 A', 'mon 10:00-12:00 A', 'sat 09:00-24:00 P']);
    assert.equal(plain(labAt(tt, at('2026-11-30T09:00:00Z')))['until'], '2026-11-30T10:00:00.000Z');
    assert.deepEqual(plain(labAt(tt, at('2026-12-05T23:59:00Z'))), {
      state: 'open',
      profileId: 'P',
      slot: 'sat 09:00-24:00 P',
      until: '2026-12-06T00:00:00.000Z',
    });
    const always = timetable(['mon-sun 00:00-24:00 A']);
    assert.deepEqual(plain(labAt(always, at('2026-12-05T23:59:00Z'))), {
      state: 'open',
      profileId: 'A',
      slot: 'mon-sun 00:00-24:00 A',
      until: null,
    });
  });

  it('Madrid across the spring change: the same wall time is an hour earlier in UTC', () => {
    const tt = timetable(['mon-sun 08:00-10:00 A'], {
      timezone: 'Europe/Madrid',
      outside: 'closed',
    });
    // Saturday 2026-03-28 10:00 CET (UTC+1) → Sunday 08:00 CEST (UTC+2) is 06:00Z.
    assert.deepEqual(plain(labAt(tt, at('2026-03-28T09:00:00Z'))), {
      state: 'closed',
      reason: 'outside the timetable',
      opensAt: '2026-03-29T06:00:00.000Z',
    });
    assert.deepEqual(plain(labAt(tt, at('2026-03-29T06:30:00Z'))), {
      state: 'open',
      profileId: 'A',
      slot: 'mon-sun 08:00-10:00 A',
      until: '2026-03-29T08:00:00.000Z',
    });
    // And back in autumn: Sunday 2026-10-25 08:00 CET is 07:00Z.
    assert.equal(
      plain(labAt(tt, at('2026-10-24T12:00:00Z')))['opensAt'],
      '2026-10-25T07:00:00.000Z',
    );
  });

  it('Madrid: a slot starting in the skipped hour starts when the clock jumps; in the repeated hour, at its first pass', () => {
    const skipped = timetable(['sun 02:30-04:00 A'], {
      timezone: 'Europe/Madrid',
      outside: 'closed',
    });
    // 2026-03-29: 02:00 CET becomes 03:00 CEST at 01:00Z; 02:30 never shows on the clock.
    assert.equal(
      plain(labAt(skipped, at('2026-03-28T12:00:00Z')))['opensAt'],
      '2026-03-29T01:00:00.000Z',
    );
    assert.deepEqual(plain(labAt(skipped, at('2026-03-29T01:00:00Z'))), {
      state: 'open',
      profileId: 'A',
      slot: 'sun 02:30-04:00 A',
      until: '2026-03-29T02:00:00.000Z',
    });
    // 2026-10-25: 03:00 CEST becomes 02:00 CET at 01:00Z; 02:30 shows first at 00:30Z.
    const repeated = timetable(['sun 02:30-05:00 A'], {
      timezone: 'Europe/Madrid',
      outside: 'closed',
    });
    assert.equal(
      plain(labAt(repeated, at('2026-10-24T12:00:00Z')))['opensAt'],
      '2026-10-25T00:30:00.000Z',
    );
    assert.equal(
      plain(labAt(repeated, at('2026-10-25T01:30:00Z')))['until'],
      '2026-10-25T04:00:00.000Z',
    );
  });

  it('local wall time and weekday come from the zone', () => {
    // 2026-11-30T03:00Z is Monday in UTC and Madrid, still Sunday evening in Mexico City.
    assert.deepEqual(
      [localTime(at('2026-11-30T03:00:00Z'), 'Europe/Madrid')].map(({ weekday, minute }) => [
        weekday,
        minute,
      ]),
      [[0, 240]],
    );
    assert.deepEqual(
      [localTime(at('2026-11-30T03:00:00Z'), 'America/Mexico_City')].map(({ weekday, minute }) => [
        weekday,
        minute,
      ]),
      [[6, 21 * 60]],
    );
    const sunday = timetable(['sun 20:00-22:00 S', 'mon 08:00-10:00 M'], {
      timezone: 'America/Mexico_City',
    });
    assert.equal(plain(labAt(sunday, at('2026-11-30T03:00:00Z')))['profileId'], 'S');
  });

  it('an unknown time zone: closed, never a guess', () => {
    const tt = timetable(['mon-fri 08:00-10:00 A'], { timezone: 'Mars/Olympus_Mons' });
    assert.deepEqual(plain(labAt(tt, at('2026-11-30T09:00:00Z'))), {
      state: 'closed',
      reason: 'unknown time zone',
      opensAt: null,
    });
  });
});
