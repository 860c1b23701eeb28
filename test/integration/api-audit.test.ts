// The audit log: every change made through the API records who, what, when and from
// where, and admins read it through GET /api/v1/audit with filters.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/controller/app.js';
import { createApiFixture, login, problem, type ApiFixture, type ApiUser } from '../helpers/api.js';
import { dialects } from '../helpers/databases.js';

interface AuditEvent {
  readonly id: number;
  readonly at: string;
  readonly actor: string;
  readonly source: string | null;
  readonly action: string;
  readonly targetType: string | null;
  readonly targetId: string | null;
  readonly details: Record<string, unknown>;
}

const WHEN = new Date('2031-02-03T04:05:06.789Z');
const FROM = '198.51.100.7';

for (const dialect of dialects) {
  describe(`audit log on ${dialect.name}`, () => {
    let f: ApiFixture;
    let clock = WHEN.getTime();
    before(async () => (f = await createApiFixture(dialect, { now: () => new Date(clock) })));
    after(() => f?.close());

    /** A change from FROM; returns the response after asserting it succeeded. */
    async function change(as: ApiUser | undefined, method: string, url: string, payload?: object) {
      const response = await f.request({
        method: method as 'POST',
        url,
        remoteAddress: FROM,
        ...(as ? { as } : {}),
        ...(payload ? { payload } : {}),
      });
      assert.ok(
        response.statusCode < 300,
        `${method} ${url} → ${response.statusCode} ${response.body}`,
      );
      return response;
    }

    async function events(query = ''): Promise<AuditEvent[]> {
      const response = await f.request({
        method: 'GET',
        url: `/api/v1/audit${query}`,
        as: f.users.admin,
      });
      assert.equal(response.statusCode, 200, response.body);
      return response.json<AuditEvent[]>();
    }

    it('every kind of change records who, what, when and from where', async () => {
      const { admin, operator } = f.users;
      const lab = (await change(admin, 'POST', '/api/v1/labs', { name: 'Audited' })).json<{
        id: string;
      }>();
      await change(admin, 'PATCH', '/api/v1/labs/Audited', { description: 'now described' });
      const terminal = (
        await change(operator, 'POST', '/api/v1/terminals', {
          mac: '52:54:00:aa:00:01',
          lab: 'lab-mine',
        })
      ).json<{ id: string }>();
      await change(operator, 'PATCH', `/api/v1/terminals/${terminal.id}`, { name: 'front row' });
      await change(operator, 'DELETE', `/api/v1/terminals/${terminal.id}`);
      const profile = (
        await change(admin, 'POST', '/api/v1/profiles', { name: 'Audited profile' })
      ).json<{ id: string }>();
      await change(admin, 'PATCH', '/api/v1/profiles/Audited profile', { cpus: 1 });
      await change(admin, 'DELETE', '/api/v1/profiles/Audited profile');
      const user = (
        await change(admin, 'POST', '/api/v1/users', {
          username: 'audited',
          role: 'viewer',
          password: 'audited password',
        })
      ).json<{ id: string }>();
      await change(admin, 'PATCH', '/api/v1/users/audited', {
        role: 'operator',
        labs: ['lab-mine'],
      });
      await change(admin, 'PUT', '/api/v1/users/audited/password', {
        password: 'another password',
      });
      const token = (
        await change(undefined, 'POST', '/api/v1/auth/tokens', {
          username: 'audited',
          password: 'another password',
        })
      ).json<{ id: string; token: string }>();
      const audited: ApiUser = {
        id: user.id,
        username: 'audited',
        role: 'operator',
        password: 'another password',
        token: token.token,
      };
      await change(audited, 'PATCH', '/api/v1/auth/me', { language: 'es' });
      await change(audited, 'DELETE', `/api/v1/auth/tokens/${token.id}`);
      const session = await f.request({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { username: 'audited', password: 'another password' },
        remoteAddress: FROM,
      });
      assert.equal(session.statusCode, 200);
      const cookie = String(session.headers['set-cookie']).split(';')[0]!;
      await f.request({
        method: 'POST',
        url: '/api/v1/auth/logout',
        remoteAddress: FROM,
        headers: { cookie, 'x-csrf-token': session.json<{ csrfToken: string }>().csrfToken },
      });
      await change(admin, 'DELETE', '/api/v1/users/audited');
      await change(admin, 'DELETE', '/api/v1/labs/Audited');

      const expected: [actor: string, action: string, targetType: string, targetId: string][] = [
        ['admin', 'lab.create', 'lab', lab.id],
        ['admin', 'lab.update', 'lab', lab.id],
        ['operator', 'terminal.add', 'terminal', terminal.id],
        ['operator', 'terminal.update', 'terminal', terminal.id],
        ['operator', 'terminal.remove', 'terminal', terminal.id],
        ['admin', 'profile.create', 'profile', profile.id],
        ['admin', 'profile.update', 'profile', profile.id],
        ['admin', 'profile.delete', 'profile', profile.id],
        ['admin', 'user.create', 'user', user.id],
        ['admin', 'user.update', 'user', user.id],
        ['admin', 'user.password', 'user', user.id],
        ['audited', 'token.create', 'user', user.id],
        ['audited', 'user.update', 'user', user.id],
        ['audited', 'token.revoke', 'user', user.id],
        ['audited', 'session.open', 'user', user.id],
        ['audited', 'session.close', 'user', user.id],
        ['admin', 'user.delete', 'user', user.id],
        ['admin', 'lab.delete', 'lab', lab.id],
      ];
      const log = (await events(`?since=${WHEN.toISOString()}`)).reverse();
      assert.deepEqual(
        log.map((event) => [event.actor, event.action, event.targetType, event.targetId]),
        expected,
      );
      for (const event of log) {
        assert.equal(event.at, WHEN.toISOString(), `${event.action}: when`);
        assert.equal(event.source, FROM, `${event.action}: from where`);
      }
      const created = log.find((event) => event.action === 'lab.create')!;
      assert.equal(created.details['name'], 'Audited');
      // Secrets never reach the log.
      for (const secret of ['audited password', 'another password', token.token])
        assert.ok(!JSON.stringify(log).includes(secret), 'no secret in the audit log');
    });

    it('a refused change records nothing', async () => {
      const before = await events();
      await f.request({
        method: 'POST',
        url: '/api/v1/labs',
        payload: { name: 'x' },
        as: f.users.viewer,
      });
      await f.request({
        method: 'POST',
        url: '/api/v1/labs',
        payload: { name: 'lab-mine' },
        as: f.users.admin,
      });
      await f.request({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { username: 'admin', password: 'wrong password' },
      });
      assert.deepEqual(await events(), before);
    });

    it('filters: actor, action, target, time; paging with limit and before', async () => {
      clock = WHEN.getTime() + 3600_000;
      const later = new Date(clock).toISOString();
      await change(f.users.admin, 'POST', '/api/v1/labs', { name: 'Later lab' });
      await change(f.users.admin, 'PATCH', '/api/v1/labs/Later lab', { description: 'x' });
      await change(f.users.operator, 'POST', '/api/v1/terminals', {
        mac: '52:54:00:aa:00:02',
        lab: 'lab-mine',
      });

      const byOperator = await events('?actor=operator');
      assert.ok(byOperator.length >= 4 && byOperator.every((event) => event.actor === 'operator'));
      const creates = await events(`?action=lab.create&since=${WHEN.toISOString()}`);
      assert.deepEqual(
        creates.map((event) => event.details['name']),
        ['Later lab', 'Audited'],
      );
      const terminals = await events('?targetType=terminal');
      assert.ok(
        terminals.length >= 4 && terminals.every((event) => event.targetType === 'terminal'),
      );
      const lab = creates[0]!.targetId!;
      assert.deepEqual(
        (await events(`?targetId=${lab}`)).map((event) => event.action),
        ['lab.update', 'lab.create'],
      );
      const recent = await events(`?since=${encodeURIComponent(later)}`);
      assert.deepEqual(
        recent.map((event) => event.action),
        ['terminal.add', 'lab.update', 'lab.create'],
      );
      const older = await events(`?until=${encodeURIComponent(later)}`);
      assert.ok(older.length > 0 && older.every((event) => event.at < later));
      const both = await events(`?actor=admin&since=${encodeURIComponent(later)}`);
      assert.deepEqual(
        both.map((event) => event.action),
        ['lab.update', 'lab.create'],
      );

      const all = await events();
      const page1 = await events('?limit=2');
      assert.deepEqual(page1, all.slice(0, 2));
      const page2 = await events(`?limit=2&before=${page1[1]!.id}`);
      assert.deepEqual(page2, all.slice(2, 4));
    });

    it('only admins read it; bad filters are 400', async () => {
      for (const user of [f.users.operator, f.users.viewer])
        problem(
          await f.request({ method: 'GET', url: '/api/v1/audit', as: user }),
          403,
          'FORBIDDEN',
        );
      problem(await f.request({ method: 'GET', url: '/api/v1/audit' }), 401, 'AUTH_REQUIRED');
      for (const [query, field] of [
        ['since=yesterday', 'query.since'],
        ['until=2031-02-30T25:00:00Z', 'query.until'],
        ['limit=-1', 'query.limit'],
        ['actor=', 'query.actor'],
        ['who=admin', 'query.who'],
      ]) {
        const body = problem(
          await f.request({ method: 'GET', url: `/api/v1/audit?${query}`, as: f.users.admin }),
          400,
          undefined,
          query,
        );
        assert.equal(body.field, field);
      }
    });

    it('the address is the client’s; X-Forwarded-For only counts from a trusted proxy', async () => {
      const lastSource = async () => (await events('?limit=1'))[0]?.source;
      const forwarded = { 'x-forwarded-for': '203.0.113.9' };
      const create = (app: FastifyInstance, name: string, remoteAddress: string) =>
        app.inject({
          method: 'POST',
          url: '/api/v1/labs',
          payload: { name },
          remoteAddress,
          headers: { ...forwarded, authorization: `Bearer ${f.users.admin.token}` },
        });
      assert.equal((await create(f.app, 'Spoofed', FROM)).statusCode, 201);
      assert.equal(await lastSource(), FROM, 'a forged header is ignored');
      const behindProxy = await buildApp({ db: f.database.db, trustProxy: ['127.0.0.1'] });
      try {
        assert.equal((await create(behindProxy, 'Proxied', '127.0.0.1')).statusCode, 201);
        assert.equal(await lastSource(), '203.0.113.9', 'the proxy’s word for the client');
        assert.equal((await create(behindProxy, 'Not proxied', FROM)).statusCode, 201);
        assert.equal(await lastSource(), FROM, 'not from the trusted proxy');
      } finally {
        await behindProxy.close();
      }
    });

    it('a session login is recorded with the session’s own address', async () => {
      await login(f, f.users.viewer);
      const [event] = await events('?action=session.open&actor=viewer');
      assert.equal(event?.source, '127.0.0.1');
    });
  });
}
