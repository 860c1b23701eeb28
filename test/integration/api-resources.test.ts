// What each resource's routes do when the input is right: create, show (by id or name),
// list, change, delete; what deleting a lab does to its terminals and grants; MACs
// normalized; no password hash ever leaves the server; concurrent creates of one name
// give one 201 and 409s, never a 500 (a real race on PostgreSQL).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createApiFixture, problem, type ApiFixture } from '../helpers/api.js';
import { dialects } from '../helpers/databases.js';

interface Lab {
  id: string;
  name: string;
  description: string;
  timezone: string;
  idleMinutes: number | null;
  terminals: number;
}
interface Terminal {
  id: string;
  mac: string;
  name: string;
  lab: string | null;
  state: string;
}

for (const dialect of dialects) {
  describe(`resources on ${dialect.name}`, () => {
    let f: ApiFixture;
    before(async () => (f = await createApiFixture(dialect)));
    after(() => f?.close());
    const admin = () => f.users.admin;
    const call = (method: string, url: string, payload?: object) =>
      f.request({ method: method as 'GET', url, as: admin(), ...(payload ? { payload } : {}) });

    it('labs: create, show by id and name, list, change, delete', async () => {
      const created = await call('POST', '/api/v1/labs', {
        name: 'Sala 3',
        description: 'second floor',
        timezone: 'America/Mexico_City',
        idleMinutes: 30,
      });
      assert.equal(created.statusCode, 201, created.body);
      const lab = created.json<Lab>();
      const { name, description, timezone, idleMinutes, terminals } = lab;
      assert.deepEqual(
        { name, description, timezone, idleMinutes, terminals },
        {
          name: 'Sala 3',
          description: 'second floor',
          timezone: 'America/Mexico_City',
          idleMinutes: 30,
          terminals: 0,
        },
      );
      for (const ref of [lab.id, 'Sala 3'])
        assert.equal(
          (await call('GET', `/api/v1/labs/${encodeURIComponent(ref)}`)).json<Lab>().id,
          lab.id,
        );
      const names = (await call('GET', '/api/v1/labs')).json<Lab[]>().map((entry) => entry.name);
      assert.deepEqual(names, [...names].sort());
      assert.ok(names.includes('Sala 3'));
      const changed = await call('PATCH', `/api/v1/labs/${lab.id}`, {
        name: 'Sala 4',
        idleMinutes: null,
      });
      assert.equal(changed.statusCode, 200, changed.body);
      assert.equal(changed.json<Lab>().name, 'Sala 4');
      assert.equal(changed.json<Lab>().idleMinutes, null);
      assert.equal(changed.json<Lab>().description, 'second floor', 'untouched fields stay');
      problem(await call('GET', '/api/v1/labs/Sala 3'), 404, 'LAB_NOT_FOUND');
      assert.equal((await call('DELETE', '/api/v1/labs/Sala 4')).statusCode, 204);
      problem(await call('GET', `/api/v1/labs/${lab.id}`), 404, 'LAB_NOT_FOUND');
      problem(await call('DELETE', `/api/v1/labs/${lab.id}`), 404, 'LAB_NOT_FOUND');
    });

    it('terminals: MACs normalized, found by id or MAC, moved, disabled, removed', async () => {
      const added = await call('POST', '/api/v1/terminals', {
        mac: '52:54:00:AB:CD:EF',
        lab: 'lab-mine',
      });
      assert.equal(added.statusCode, 201, added.body);
      const terminal = added.json<Terminal>();
      assert.equal(terminal.mac, '52:54:00:ab:cd:ef');
      assert.equal(terminal.name, terminal.mac, 'named after its MAC by default');
      assert.equal(terminal.state, 'enrolled');
      problem(
        await call('POST', '/api/v1/terminals', { mac: '52:54:00:ab:cd:ef', lab: 'lab-other' }),
        409,
        'TERMINAL_EXISTS',
      );
      for (const ref of [terminal.id, '52:54:00:AB:CD:EF', '52:54:00:ab:cd:ef'])
        assert.equal(
          (await call('GET', `/api/v1/terminals/${ref}`)).json<Terminal>().id,
          terminal.id,
        );
      const moved = await call('PATCH', `/api/v1/terminals/${terminal.id}`, {
        lab: 'lab-other',
        name: 'Front',
      });
      assert.deepEqual(
        [moved.json<Terminal>().lab, moved.json<Terminal>().name],
        ['lab-other', 'Front'],
      );
      const filtered = (await call('GET', '/api/v1/terminals?lab=lab-other')).json<Terminal[]>();
      assert.deepEqual(
        filtered.map((entry) => entry.id),
        [terminal.id],
      );
      const disabled = await call('PATCH', `/api/v1/terminals/${terminal.id}`, { enabled: false });
      assert.equal(disabled.json<Terminal>().state, 'disabled');
      const byState = (await call('GET', '/api/v1/terminals?state=disabled')).json<Terminal[]>();
      assert.deepEqual(
        byState.map((entry) => entry.id),
        [terminal.id],
      );
      const pending = await call('PATCH', `/api/v1/terminals/${terminal.id}`, {
        lab: null,
        enabled: true,
      });
      assert.deepEqual(
        [pending.json<Terminal>().lab, pending.json<Terminal>().state],
        [null, 'pending'],
      );
      assert.equal((await call('DELETE', `/api/v1/terminals/${terminal.mac}`)).statusCode, 204);
      problem(await call('GET', `/api/v1/terminals/${terminal.id}`), 404, 'TERMINAL_NOT_FOUND');
    });

    it('deleting a lab leaves its terminals pending and drops its grants', async () => {
      await call('POST', '/api/v1/labs', { name: 'Doomed' });
      const terminal = (
        await call('POST', '/api/v1/terminals', { mac: '52:54:00:00:dd:01', lab: 'Doomed' })
      ).json<Terminal>();
      await call('POST', '/api/v1/users', {
        username: 'doomed-op',
        role: 'operator',
        password: 'doomed password',
        labs: ['Doomed', 'lab-mine'],
      });
      assert.equal((await call('GET', '/api/v1/labs/Doomed')).json<Lab>().terminals, 1);
      assert.equal((await call('DELETE', '/api/v1/labs/Doomed')).statusCode, 204);
      const after = (await call('GET', `/api/v1/terminals/${terminal.id}`)).json<Terminal>();
      assert.deepEqual([after.lab, after.state], [null, 'pending']);
      assert.deepEqual(
        (await call('GET', '/api/v1/users/doomed-op')).json<{ labs: string[] }>().labs,
        ['lab-mine'],
      );
    });

    it('profiles: defaults, settings, delete', async () => {
      const created = await call('POST', '/api/v1/profiles', {
        name: 'Windows 11',
        memoryMiB: 4096,
        display: 'spice',
      });
      assert.equal(created.statusCode, 201, created.body);
      const profile = created.json<Record<string, unknown>>();
      assert.equal(profile['memoryMiB'], 4096);
      assert.equal(profile['display'], 'spice');
      assert.equal(profile['cpus'], 2, 'default');
      assert.equal(profile['nicModel'], 'virtio', 'default');
      assert.equal(profile['publishedVersion'], null);
      problem(
        await call('POST', '/api/v1/profiles', { name: 'Windows 11' }),
        409,
        'PROFILE_EXISTS',
      );
      const changed = await call('PATCH', '/api/v1/profiles/Windows 11', {
        nicModel: 'e1000',
        guestPort: 3389,
      });
      assert.deepEqual(
        [
          changed.json<Record<string, unknown>>()['nicModel'],
          changed.json<Record<string, unknown>>()['guestPort'],
        ],
        ['e1000', 3389],
      );
      assert.equal(
        (await call('DELETE', `/api/v1/profiles/${String(profile['id'])}`)).statusCode,
        204,
      );
      problem(await call('GET', '/api/v1/profiles/Windows 11'), 404, 'PROFILE_NOT_FOUND');
    });

    it('users: no password hash leaves the server; the last admin stays', async () => {
      const list = await call('GET', '/api/v1/users');
      assert.equal(list.statusCode, 200);
      assert.ok(!/scrypt|password/i.test(list.body), 'no hash, no password field');
      const operator = (await call('GET', '/api/v1/users/operator')).json<{
        role: string;
        labs: string[];
      }>();
      assert.deepEqual([operator.role, operator.labs], ['operator', ['lab-mine']]);
      problem(await call('DELETE', '/api/v1/users/admin'), 409, 'LAST_ADMIN');
      problem(await call('PATCH', '/api/v1/users/admin', { disabled: true }), 409, 'LAST_ADMIN');
      const me = await f.request({ method: 'GET', url: '/api/v1/auth/me', as: f.users.viewer });
      assert.equal(me.json<{ username: string }>().username, 'viewer');
      assert.ok(!/scrypt/.test(me.body));
    });

    it('concurrent creates of one name: one 201, the rest 409, no 500', async () => {
      const races: [string, () => object, string][] = [
        ['/api/v1/labs', () => ({ name: 'Raced lab' }), 'LAB_EXISTS'],
        ['/api/v1/profiles', () => ({ name: 'Raced profile' }), 'PROFILE_EXISTS'],
        [
          '/api/v1/terminals',
          () => ({ mac: '52:54:00:00:ee:01', lab: 'lab-mine' }),
          'TERMINAL_EXISTS',
        ],
        [
          '/api/v1/users',
          () => ({ username: 'raced', role: 'viewer', password: 'raced password' }),
          'USER_EXISTS',
        ],
      ];
      for (const [url, body, code] of races) {
        const answers = await Promise.all(
          Array.from({ length: 5 }, () => call('POST', url, body())),
        );
        const statuses = answers.map((answer) => answer.statusCode).sort();
        assert.deepEqual(statuses, [201, 409, 409, 409, 409], `${url}: ${statuses.join(' ')}`);
        for (const answer of answers.filter((a) => a.statusCode === 409))
          problem(answer, 409, code);
      }
    });
  });
}
