// The web console's session bootstrap (GET /auth/session) and the demo's one-time sign-in
// link (POST /auth/link): a link logs in exactly as a password does, once, within the hour.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildApp } from '../../src/controller/app.js';
import { LoginLimiter } from '../../src/controller/auth/login-limiter.js';
import { SignInLinks } from '../../src/controller/auth/sign-in-links.js';
import { createApiFixture, problem, type ApiFixture } from '../helpers/api.js';
import { dialects } from '../helpers/databases.js';

interface LoginAnswer {
  readonly user: { id: string; username: string; role: string };
  readonly csrfToken: string;
  readonly expiresAt: string;
}

function sessionCookie(setCookie: unknown): string {
  const match = /^labvirt_session=([^;]+)/.exec(String(setCookie));
  assert.ok(match, `a session cookie: ${String(setCookie)}`);
  return match[1]!;
}

for (const dialect of dialects) {
  describe(`session bootstrap and sign-in links on ${dialect.name}`, () => {
    let f: ApiFixture;
    let now = Date.now();
    const links = new SignInLinks({ now: () => new Date(now) });
    before(async () => (f = await createApiFixture(dialect, { signInLinks: links })));
    after(() => f?.close());

    const useLink = (token: string, remoteAddress = '192.0.2.10') =>
      f.app.inject({
        method: 'POST',
        url: '/api/v1/auth/link',
        payload: { token },
        remoteAddress,
      });

    it('GET /auth/session gives the user and the session’s CSRF token (null with a bearer token)', async () => {
      const login = await f.request({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { username: 'operator', password: f.users.operator.password },
      });
      assert.equal(login.statusCode, 200, login.body);
      const cookie = sessionCookie(login.headers['set-cookie']);
      const withCookie = await f.request({
        method: 'GET',
        url: '/api/v1/auth/session',
        cookies: { labvirt_session: cookie },
      });
      assert.equal(withCookie.statusCode, 200, withCookie.body);
      const body = withCookie.json<{
        user: { username: string; role: string };
        csrfToken: string;
      }>();
      assert.equal(body.user.username, 'operator');
      assert.equal(body.user.role, 'operator');
      assert.equal(body.csrfToken, login.json<LoginAnswer>().csrfToken);

      const withToken = await f.request({
        method: 'GET',
        url: '/api/v1/auth/session',
        as: f.users.viewer,
      });
      assert.equal(withToken.statusCode, 200, withToken.body);
      assert.deepEqual(
        { ...withToken.json<{ user: { username: string }; csrfToken: null }>(), user: undefined },
        { user: undefined, csrfToken: null },
      );
      assert.equal(withToken.json<{ user: { username: string } }>().user.username, 'viewer');

      problem(
        await f.request({ method: 'GET', url: '/api/v1/auth/session' }),
        401,
        'AUTH_REQUIRED',
      );
      problem(
        await f.request({
          method: 'GET',
          url: '/api/v1/auth/session',
          cookies: { labvirt_session: 'not-a-session' },
        }),
        401,
        'AUTH_REQUIRED',
      );
    });

    it('a link logs its user in as /auth/login does: cookie, CSRF token, audited; once', async () => {
      const link = links.create(f.users.admin.id);
      const response = await useLink(link.token);
      assert.equal(response.statusCode, 200, response.body);
      const body = response.json<LoginAnswer>();
      assert.equal(body.user.username, 'admin');
      assert.equal(body.user.role, 'admin');
      assert.ok(body.csrfToken.length >= 32);
      assert.ok(Date.parse(body.expiresAt) > Date.now());
      const setCookie = String(response.headers['set-cookie']);
      assert.match(setCookie, /HttpOnly/i);
      assert.match(setCookie, /SameSite=Strict/i);
      const cookie = sessionCookie(setCookie);

      // The session works, for changes too (with its CSRF token).
      const session = await f.request({
        method: 'GET',
        url: '/api/v1/auth/session',
        cookies: { labvirt_session: cookie },
      });
      assert.equal(session.json<{ csrfToken: string }>().csrfToken, body.csrfToken);
      const change = await f.request({
        method: 'PATCH',
        url: '/api/v1/auth/me',
        payload: { language: null },
        cookies: { labvirt_session: cookie },
        headers: { 'x-csrf-token': body.csrfToken },
      });
      assert.equal(change.statusCode, 200, change.body);

      const audited = await f.database.db
        .selectFrom('audit_events')
        .selectAll()
        .where('action', '=', 'session.open')
        .where('target_id', '=', f.users.admin.id)
        .execute();
      assert.equal(audited.length, 1);
      assert.equal(audited[0]!.actor_name, 'admin');
      assert.equal(audited[0]!.source_ip, '192.0.2.10');

      problem(await useLink(link.token), 401, 'SIGN_IN_LINK_INVALID');
    });

    it('an unknown, expired or disabled user’s link is refused with 401 and no cookie', async () => {
      const unknown = await useLink('x'.repeat(43));
      problem(unknown, 401, 'SIGN_IN_LINK_INVALID');
      assert.equal(unknown.headers['set-cookie'], undefined);

      const expiring = links.create(f.users.viewer.id);
      now += 3600_000;
      try {
        problem(await useLink(expiring.token), 401, 'SIGN_IN_LINK_INVALID');
      } finally {
        now -= 3600_000;
      }

      const disabledUser = await f.request({
        method: 'POST',
        url: '/api/v1/users',
        payload: { username: 'link-disabled', role: 'viewer', password: 'a long password here' },
        as: f.users.admin,
      });
      assert.equal(disabledUser.statusCode, 201, disabledUser.body);
      const id = disabledUser.json<{ id: string }>().id;
      const link = links.create(id);
      const disable = await f.request({
        method: 'PATCH',
        url: `/api/v1/users/${id}`,
        payload: { disabled: true },
        as: f.users.admin,
      });
      assert.equal(disable.statusCode, 200, disable.body);
      problem(await useLink(link.token), 401, 'SIGN_IN_LINK_INVALID');

      problem(await f.app.inject({ method: 'POST', url: '/api/v1/auth/link', payload: {} }), 400);
    });

    it('failed links are rate-limited per address like logins; other addresses are not', async () => {
      let clock = 1_000_000;
      const limiter = new LoginLimiter({ maxFailures: 3, windowMs: 60_000, now: () => clock });
      const own = new SignInLinks();
      const app = await buildApp({ db: f.database.db, loginLimiter: limiter, signInLinks: own });
      try {
        const attempt = (token: string, remoteAddress: string) =>
          app.inject({
            method: 'POST',
            url: '/api/v1/auth/link',
            payload: { token },
            remoteAddress,
          });
        for (let i = 0; i < 3; i++)
          problem(await attempt(`guess-${i}`, '192.0.2.1'), 401, 'SIGN_IN_LINK_INVALID');
        const good = own.create(f.users.viewer.id);
        // Even a good link: the guesser must not learn it is good (and it is not used up).
        const limited = await attempt(good.token, '192.0.2.1');
        problem(limited, 429, 'LOGIN_RATE_LIMITED');
        assert.ok(Number(limited.headers['retry-after']) > 0);
        assert.equal((await attempt(good.token, '192.0.2.2')).statusCode, 200);
        clock += 61_000;
        const again = own.create(f.users.viewer.id);
        assert.equal((await attempt(again.token, '192.0.2.1')).statusCode, 200);
      } finally {
        await app.close();
      }
    });
  });
}
