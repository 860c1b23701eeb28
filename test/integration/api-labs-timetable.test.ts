// A lab's profiles, timetable and subnets, and terminals' enrolment and registered
// addresses, through the API on both databases: what is accepted is stored and audited;
// what is refused says why, names the field, and leaves every table as it was.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { labForTerminalAddress } from '../../src/controller/services/lab-subnets.js';
import {
  createApiFixture,
  problem,
  snapshot,
  type ApiFixture,
  type ApiUser,
} from '../helpers/api.js';
import { dialects, rows } from '../helpers/databases.js';

// Monday 2026-11-30, 09:00 UTC.
const NOW = new Date('2026-11-30T09:00:00.000Z');

interface Lab {
  id: string;
  name: string;
  profiles: string[];
  defaultProfile: string | null;
  outsideSlots: string;
  subnets: string[];
}
interface Timetable {
  lab: string;
  timezone: string;
  outside: string;
  defaultProfile: string | null;
  slots: { text: string; days: string[]; start: string; end: string; profile: string }[];
  now: Record<string, unknown>;
}
interface Terminal {
  id: string;
  mac: string;
  name: string;
  lab: string | null;
  state: string;
  ip: string | null;
  lastIp: string | null;
}

for (const dialect of dialects) {
  describe(`labs' profiles, timetable and subnets on ${dialect.name}`, () => {
    let f: ApiFixture;
    before(async () => {
      f = await createApiFixture(dialect, { now: () => NOW });
      for (const name of ['Windows', 'Linux', 'Other'])
        await f.database.db.insertInto('profiles').values(rows.profile({ name })).execute();
    });
    after(() => f?.close());

    const call = (method: string, url: string, payload?: object, as?: ApiUser) =>
      f.request({
        method: method as 'GET',
        url: `/api/v1${url}`,
        as: as ?? f.users.admin,
        ...(payload ? { payload } : {}),
      });
    /** The request is refused with this status, code and field, and no table changes. */
    async function refused(
      request: () => ReturnType<typeof call>,
      status: number,
      code: string,
      field: string | undefined,
    ) {
      const before = await snapshot(f.database);
      const body = problem(await request(), status, code);
      assert.equal(body.field, field, `${code}: field`);
      assert.deepEqual(await snapshot(f.database), before, `${code}: nothing changed`);
      return body;
    }
    async function lastAudit() {
      return f.database.db
        .selectFrom('audit_events')
        .selectAll()
        .orderBy('id', 'desc')
        .executeTakeFirstOrThrow();
    }

    it('set-profiles: the profiles and the default one, which must be one of them', async () => {
      const linux = await f.database.db
        .selectFrom('profiles')
        .select('id')
        .where('name', '=', 'Linux')
        .executeTakeFirstOrThrow();
      const set = await call('PUT', '/labs/lab-mine/profiles', {
        profiles: ['Windows', linux.id, 'Windows'],
        default: 'Linux',
      });
      assert.equal(set.statusCode, 200, set.body);
      const lab = set.json<Lab>();
      assert.deepEqual([lab.profiles, lab.defaultProfile], [['Linux', 'Windows'], 'Linux']);
      const audited = await lastAudit();
      assert.equal(audited.action, 'lab.profiles');
      assert.deepEqual(JSON.parse(audited.details), {
        profiles: ['Linux', 'Windows'],
        default: 'Linux',
      });

      const notListed = await refused(
        () => call('PUT', '/labs/lab-mine/profiles', { profiles: ['Windows'], default: 'Other' }),
        400,
        'PROFILE_NOT_IN_LAB',
        'default',
      );
      assert.match(notListed.detail, /"Other".*"lab-mine"/);
      await refused(
        () => call('PUT', '/labs/lab-mine/profiles', { profiles: ['Windows', 'Nowhere'] }),
        404,
        'PROFILE_NOT_FOUND',
        'profiles',
      );
      await refused(
        () => call('PUT', '/labs/no-such-lab/profiles', { profiles: [] }),
        404,
        'LAB_NOT_FOUND',
        undefined,
      );
      // Left out, the default stays while it is listed, and goes with it.
      const kept = await call('PUT', '/labs/lab-mine/profiles', { profiles: ['Linux', 'Other'] });
      assert.equal(kept.json<Lab>().defaultProfile, 'Linux');
      const gone = await call('PUT', '/labs/lab-mine/profiles', { profiles: ['Windows'] });
      assert.deepEqual(
        [gone.json<Lab>().profiles, gone.json<Lab>().defaultProfile],
        [['Windows'], null],
      );
      const back = await call('PUT', '/labs/lab-mine/profiles', {
        profiles: ['Windows', 'Linux'],
        default: 'Windows',
      });
      assert.equal(back.json<Lab>().defaultProfile, 'Windows');
    });

    it('timetable: replaced as a whole, shown as text and structured, with what applies now', async () => {
      const put = await call('PUT', '/labs/lab-mine/timetable', {
        slots: ['sat 09:00-24:00 Linux', 'MON-Fri 8:00-10:00 Windows', 'mon,wed 14:00-16:30 Linux'],
        outside: 'closed',
      });
      assert.equal(put.statusCode, 200, put.body);
      const timetable = put.json<Timetable>();
      assert.deepEqual(
        timetable.slots.map((slot) => slot.text),
        ['mon-fri 08:00-10:00 Windows', 'mon,wed 14:00-16:30 Linux', 'sat 09:00-24:00 Linux'],
      );
      assert.deepEqual(timetable.slots[1], {
        text: 'mon,wed 14:00-16:30 Linux',
        days: ['mon', 'wed'],
        start: '14:00',
        end: '16:30',
        profile: 'Linux',
      });
      assert.equal(timetable.outside, 'closed');
      assert.deepEqual(timetable.now, {
        state: 'open',
        profile: 'Windows',
        slot: 'mon-fri 08:00-10:00 Windows',
        until: '2026-11-30T10:00:00.000Z',
      });
      const got = await call('GET', '/labs/lab-mine/timetable', undefined, f.users.viewer);
      assert.equal(got.statusCode, 200, got.body);
      assert.deepEqual(got.json<Timetable>(), timetable);
      const stored = await f.database.db
        .selectFrom('lab_slots')
        .select(['days', 'start_minute', 'end_minute'])
        .where('lab_id', '=', f.labs.mine.id)
        .orderBy('start_minute')
        .execute();
      assert.deepEqual(stored, [
        { days: 31, start_minute: 480, end_minute: 600 },
        { days: 32, start_minute: 540, end_minute: 1440 },
        { days: 5, start_minute: 840, end_minute: 990 },
      ]);
      assert.equal((await call('GET', '/labs/lab-mine')).json<Lab>().outsideSlots, 'closed');
      const audited = await lastAudit();
      assert.equal(audited.action, 'lab.timetable');
      assert.equal(audited.target_id, f.labs.mine.id);
      assert.deepEqual(JSON.parse(audited.details), {
        slots: timetable.slots.map((slot) => slot.text),
        outside: 'closed',
      });
    });

    it('timetable refusals: bad slot, overlap, a profile not in the lab; nothing changed', async () => {
      const put = (slots: string[]) => () =>
        call('PUT', '/labs/lab-mine/timetable', { slots, outside: 'default' });
      const bad = await refused(put(['mon-fri 10:00-08:00 Windows']), 400, 'SLOT_INVALID', 'slots');
      assert.match(bad.detail, /mon-fri 08:00-10:00 PROFILE/);
      await refused(put(['mon-fri 08:00 Windows']), 400, 'SLOT_INVALID', 'slots');
      await refused(put(['someday 08:00-10:00 Windows']), 400, 'SLOT_INVALID', 'slots');
      const overlap = await refused(
        put(['mon-fri 08:00-10:00 Windows', 'wed 09:30-11:00 Linux']),
        400,
        'SLOT_OVERLAP',
        'slots',
      );
      assert.match(overlap.detail, /"mon-fri 08:00-10:00 Windows" and "wed 09:30-11:00 Linux"/);
      const outsider = await refused(
        put(['mon 08:00-10:00 Other']),
        400,
        'PROFILE_NOT_IN_LAB',
        'slots',
      );
      assert.match(outsider.detail, /"Other"/);
      await refused(put(['mon 08:00-10:00 Nowhere']), 400, 'PROFILE_NOT_IN_LAB', 'slots');
      await refused(
        () => call('PUT', '/labs/lab-mine/timetable', { slots: [], outside: 'sometimes' }),
        400,
        'FIELD_NOT_ALLOWED',
        'outside',
      );
      // A profile the timetable uses stays in the lab until the timetable changes.
      await refused(
        () => call('PUT', '/labs/lab-mine/profiles', { profiles: ['Windows'] }),
        409,
        'PROFILE_IN_TIMETABLE',
        'profiles',
      );
      // Changes are for admins; operators of the lab read it like everyone.
      await refused(
        () => call('PUT', '/labs/lab-mine/timetable', { slots: [] }, f.users.operator),
        403,
        'FORBIDDEN',
        undefined,
      );
      const still = (await call('GET', '/labs/lab-mine/timetable', undefined, f.users.operator))
        .json<Timetable>()
        .slots.map((slot) => slot.text);
      assert.equal(still.length, 3, 'the timetable is as it was');
    });

    it('what applies now: outside the slots, without a default, in an unknown zone', async () => {
      // 09:00 Monday is in 'mon-fri 08:00-10:00'; move the lab's zone so it is not.
      await call('PATCH', '/labs/lab-mine', { timezone: 'America/Mexico_City' });
      const closed = (await call('GET', '/labs/lab-mine/timetable')).json<Timetable>();
      assert.deepEqual(closed.now, {
        state: 'closed',
        reason: 'outside the timetable',
        opensAt: '2026-11-30T14:00:00.000Z',
      });
      const open = await call('PUT', '/labs/lab-mine/timetable', {
        slots: closed.slots.map((slot) => slot.text),
        outside: 'default',
      });
      assert.deepEqual(open.json<Timetable>().now, {
        state: 'open',
        profile: 'Windows',
        slot: null,
        until: '2026-11-30T14:00:00.000Z',
      });
      // A zone the server does not know (set behind the API's back): closed, not a guess.
      await f.database.db
        .updateTable('labs')
        .set({ timezone: 'Mars/Olympus_Mons' })
        .where('id', '=', f.labs.mine.id)
        .execute();
      const unknown = await call('GET', '/labs/lab-mine/timetable');
      assert.equal(unknown.statusCode, 200, unknown.body);
      assert.deepEqual(unknown.json<Timetable>().now, {
        state: 'closed',
        reason: 'unknown time zone',
        opensAt: null,
      });
      await call('PATCH', '/labs/lab-mine', { timezone: 'UTC' });
      // Cleared: the default profile all the time.
      const cleared = await call('PUT', '/labs/lab-mine/timetable', { slots: [] });
      assert.equal(cleared.statusCode, 200, cleared.body);
      assert.deepEqual(cleared.json<Timetable>().slots, []);
      assert.deepEqual(cleared.json<Timetable>().now, {
        state: 'open',
        profile: 'Windows',
        slot: null,
        until: null,
      });
      assert.equal(cleared.json<Timetable>().outside, 'default', 'left out, outside stays');
    });

    it('a timetable and a change of profiles at once: never a slot of a profile the lab lost', async () => {
      for (let round = 0; round < 8; round++) {
        await call('PUT', '/labs/lab-other/timetable', { slots: [] });
        await call('PUT', '/labs/lab-other/profiles', { profiles: ['Windows', 'Linux'] });
        const [timetable, profiles] = await Promise.all([
          call('PUT', '/labs/lab-other/timetable', { slots: ['mon 08:00-10:00 Linux'] }),
          call('PUT', '/labs/lab-other/profiles', { profiles: ['Windows'] }),
        ]);
        // One of them is refused, depending on which went first; never both accepted.
        const statuses = [timetable.statusCode, profiles.statusCode].sort();
        assert.ok(
          JSON.stringify(statuses) === '[200,400]' || JSON.stringify(statuses) === '[200,409]',
          `${timetable.body} ${profiles.body}`,
        );
        const orphans = await f.database.db
          .selectFrom('lab_slots')
          .leftJoin('lab_profiles', (join) =>
            join
              .onRef('lab_profiles.lab_id', '=', 'lab_slots.lab_id')
              .onRef('lab_profiles.profile_id', '=', 'lab_slots.profile_id'),
          )
          .select('lab_slots.id')
          .where('lab_profiles.profile_id', 'is', null)
          .execute();
        assert.deepEqual(orphans, [], `round ${round}`);
      }
      await call('PUT', '/labs/lab-other/timetable', { slots: [] });
      await call('PUT', '/labs/lab-other/profiles', { profiles: [] });
    });

    it('subnets: normalised, one lab per subnet, found by address', async () => {
      const set = await call('PUT', '/labs/lab-mine/subnets', {
        subnets: ['10.1.2.3/24', 'FD00::1/64', '10.1.2.0/24', '10.9.0.0/16'],
      });
      assert.equal(set.statusCode, 200, set.body);
      assert.deepEqual(set.json<Lab>().subnets, ['10.1.2.0/24', '10.9.0.0/16', 'fd00::/64']);
      assert.equal((await lastAudit()).action, 'lab.subnets');
      await refused(
        () => call('PUT', '/labs/lab-mine/subnets', { subnets: ['10.1.2.0/24', '10.1.2.0/33'] }),
        400,
        'SUBNET_INVALID',
        'subnets',
      );
      await refused(
        () => call('PUT', '/labs/lab-mine/subnets', { subnets: ['fe80::1%eth0/64'] }),
        400,
        'SUBNET_INVALID',
        'subnets',
      );
      const taken = await refused(
        () => call('PUT', '/labs/lab-other/subnets', { subnets: ['10.5.0.0/16', '10.1.2.7/24'] }),
        409,
        'SUBNET_TAKEN',
        'subnets',
      );
      assert.match(taken.detail, /10\.1\.2\.0\/24.*"lab-mine"/);
      // A more specific subnet of the same range is another subnet: the most specific wins.
      const other = await call('PUT', '/labs/lab-other/subnets', { subnets: ['10.1.2.128/25'] });
      assert.equal(other.statusCode, 200, other.body);
      const labAt = async (ip: string) =>
        (await labForTerminalAddress(f.database.db, ip))?.name ?? null;
      assert.equal(await labAt('10.1.2.3'), 'lab-mine');
      assert.equal(await labAt('::ffff:10.1.2.3'), 'lab-mine');
      assert.equal(await labAt('10.1.2.200'), 'lab-other');
      assert.equal(await labAt('fd00::42'), 'lab-mine');
      assert.equal(await labAt('192.168.0.1'), null);
      const cleared = await call('PUT', '/labs/lab-other/subnets', { subnets: [] });
      assert.deepEqual(cleared.json<Lab>().subnets, []);
      assert.equal(await labAt('10.1.2.200'), 'lab-mine');
    });

    it('lab start and stop: unknown labs are 404 for admins, 403 for operators', async () => {
      for (const action of ['start', 'stop']) {
        await refused(
          () => call('POST', `/labs/no-such-lab/${action}`, {}),
          404,
          'LAB_NOT_FOUND',
          undefined,
        );
        await refused(
          () => call('POST', `/labs/no-such-lab/${action}`, {}, f.users.operator),
          403,
          'LAB_FORBIDDEN',
          undefined,
        );
        await refused(
          () => call('POST', `/labs/lab-other/${action}`, {}, f.users.operator),
          403,
          'LAB_FORBIDDEN',
          undefined,
        );
        await refused(
          () => call('POST', `/labs/lab-mine/${action}`, { force: true }, f.users.operator),
          400,
          'FIELD_UNKNOWN',
          'force',
        );
      }
    });
  });

  describe(`terminals: registered addresses and enrolment on ${dialect.name}`, () => {
    let f: ApiFixture;
    before(async () => (f = await createApiFixture(dialect)));
    after(() => f?.close());
    const call = (method: string, url: string, payload?: object, as?: ApiUser) =>
      f.request({
        method: method as 'GET',
        url: `/api/v1${url}`,
        as: as ?? f.users.admin,
        ...(payload ? { payload } : {}),
      });
    async function refused(
      request: () => ReturnType<typeof call>,
      status: number,
      code: string,
      field: string | undefined,
    ) {
      const before = await snapshot(f.database);
      const body = problem(await request(), status, code);
      assert.equal(body.field, field, `${code}: field`);
      assert.deepEqual(await snapshot(f.database), before, `${code}: nothing changed`);
      return body;
    }
    async function pending(mac: string): Promise<string> {
      const row = rows.terminal({ mac, lab_id: null, last_ip: '10.1.2.50' });
      await f.database.db.insertInto('terminals').values(row).execute();
      return row.id;
    }

    it('add --ip: normalised, unique among terminals, shown with the last address', async () => {
      const added = await call('POST', '/terminals', {
        mac: '52:54:00:00:10:01',
        lab: 'lab-mine',
        ip: '::FFFF:10.1.2.3',
      });
      assert.equal(added.statusCode, 201, added.body);
      assert.deepEqual(
        [added.json<Terminal>().ip, added.json<Terminal>().lastIp],
        ['10.1.2.3', null],
      );
      const taken = await refused(
        () =>
          call('POST', '/terminals', { mac: '52:54:00:00:10:02', lab: 'lab-mine', ip: '10.1.2.3' }),
        409,
        'TERMINAL_IP_TAKEN',
        'ip',
      );
      assert.match(taken.detail, /52:54:00:00:10:01/);
      await refused(
        () =>
          call('POST', '/terminals', { mac: '52:54:00:00:10:02', lab: 'lab-mine', ip: '10.1.2' }),
        400,
        'IP_INVALID',
        'ip',
      );
      const second = await call('POST', '/terminals', {
        mac: '52:54:00:00:10:02',
        lab: 'lab-mine',
        ip: 'fd00::0002',
      });
      assert.equal(second.json<Terminal>().ip, 'fd00::2');
      await refused(
        () => call('PATCH', '/terminals/52:54:00:00:10:02', { ip: '10.1.2.3' }, f.users.operator),
        409,
        'TERMINAL_IP_TAKEN',
        'ip',
      );
      const moved = await call('PATCH', '/terminals/52:54:00:00:10:02', { ip: null });
      assert.equal(moved.json<Terminal>().ip, null);
      const audit = await f.database.db
        .selectFrom('audit_events')
        .select(['action', 'details'])
        .orderBy('id', 'desc')
        .executeTakeFirstOrThrow();
      assert.equal(audit.action, 'terminal.update');
      assert.deepEqual(JSON.parse(audit.details), { ip: null });
    });

    it('enrol: a pending terminal joins a lab its operator holds, once', async () => {
      const id = await pending('52:54:00:00:20:01');
      const listed = (await call('GET', '/terminals?state=pending')).json<Terminal[]>();
      assert.deepEqual(
        listed.map((t) => [t.mac, t.lastIp]),
        [['52:54:00:00:20:01', '10.1.2.50']],
      );
      await refused(
        () => call('POST', `/terminals/${id}/enrol`, { lab: 'lab-other' }, f.users.operator),
        403,
        'LAB_FORBIDDEN',
        undefined,
      );
      await refused(
        () => call('POST', '/terminals/52:54:00:00:20:99/enrol', { lab: 'lab-mine' }),
        404,
        'TERMINAL_NOT_FOUND',
        undefined,
      );
      await refused(
        () => call('POST', `/terminals/${id}/enrol`, { lab: 'no-such-lab' }),
        404,
        'LAB_NOT_FOUND',
        'lab',
      );
      const enrolled = await call(
        'POST',
        '/terminals/52:54:00:00:20:01/enrol',
        { lab: 'lab-mine', name: 'Front row 1' },
        f.users.operator,
      );
      assert.equal(enrolled.statusCode, 200, enrolled.body);
      const terminal = enrolled.json<Terminal>();
      assert.deepEqual(
        [terminal.lab, terminal.state, terminal.name],
        ['lab-mine', 'enrolled', 'Front row 1'],
      );
      const audit = await f.database.db
        .selectFrom('audit_events')
        .select(['action', 'actor_name', 'target_id', 'details'])
        .orderBy('id', 'desc')
        .executeTakeFirstOrThrow();
      assert.deepEqual(
        { ...audit, details: JSON.parse(audit.details) as unknown },
        {
          action: 'terminal.enrol',
          actor_name: 'operator',
          target_id: id,
          details: { mac: '52:54:00:00:20:01', lab: 'lab-mine', name: 'Front row 1' },
        },
      );
      const again = await refused(
        () => call('POST', `/terminals/${id}/enrol`, { lab: 'lab-other' }),
        409,
        'TERMINAL_ENROLLED',
        undefined,
      );
      assert.match(again.detail, /"lab-mine"/);
      assert.deepEqual((await call('GET', '/terminals?state=pending')).json<Terminal[]>(), []);
    });
  });
}
