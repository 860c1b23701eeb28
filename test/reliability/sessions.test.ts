// Logging in and out: the session cookie's attributes, CSRF protection of cookie-borne
// changes, logout that really ends the session, the login rate limit, API tokens, and a
// password change or a disabled account ending every session and token of the user.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/controller/app.js';
import { LoginLimiter } from '../../src/controller/auth/login-limiter.js';
import {
  createApiFixture,
  fillPath,
  login,
  problem,
  snapshot,
  type ApiFixture,
  type ApiUser,
} from '../helpers/api.js';
import { dialects } from '../helpers/databases.js';
import { itHolds } from './matrix-ledger.js';
import { tempDir } from '../helpers/env.js';

/** The attributes of the labvirt_session Set-Cookie, lower-cased names. */
function cookieAttributes(setCookie: string): Map<string, string> {
  const [, ...attributes] = setCookie.split(';').map((part) => part.trim());
  return new Map(
    attributes.map((attribute) => {
      const [name = '', value = ''] = attribute.split('=');
      return [name.toLowerCase(), value];
    }),
  );
}

async function loginWith(app: FastifyInstance, user: ApiUser) {
  return app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { username: user.username, password: user.password },
  });
}

for (const dialect of dialects) {
  describe(`sessions and tokens on ${dialect.name}`, () => {
    let f: ApiFixture;
    before(async () => (f = await createApiFixture(dialect)));
    after(() => f?.close());

    /** A new user of this role, made through the API (for tests that end its sessions). */
    async function newUser(username: string, role = 'viewer'): Promise<ApiUser> {
      const password = 'first password of ' + username;
      const created = await f.request({
        method: 'POST',
        url: '/api/v1/users',
        payload: { username, role, password },
        as: f.users.admin,
      });
      assert.equal(created.statusCode, 201, created.body);
      const token = await f.request({
        method: 'POST',
        url: '/api/v1/auth/tokens',
        payload: { username, password },
      });
      assert.equal(token.statusCode, 201, token.body);
      return {
        id: created.json<{ id: string }>().id,
        username,
        role: role as ApiUser['role'],
        password,
        token: token.json<{ token: string }>().token,
      };
    }

    itHolds(
      'login sets an HttpOnly, SameSite=Strict session cookie (not Secure over plain HTTP)',
      async () => {
        const response = await loginWith(f.app, f.users.viewer);
        assert.equal(response.statusCode, 200, response.body);
        const body = response.json<{
          user: { username: string };
          csrfToken: string;
          expiresAt: string;
        }>();
        assert.equal(body.user.username, 'viewer');
        assert.ok(body.csrfToken.length >= 32);
        assert.ok(Date.parse(body.expiresAt) > Date.now());
        const setCookie = String(response.headers['set-cookie']);
        assert.match(setCookie, /^labvirt_session=[\w-]{32,};/);
        const attributes = cookieAttributes(setCookie);
        assert.ok(attributes.has('httponly'), setCookie);
        assert.equal(attributes.get('samesite'), 'Strict');
        assert.equal(attributes.get('path'), '/');
        assert.ok(Number(attributes.get('max-age')) > 0);
        assert.ok(!attributes.has('secure'), setCookie);
        // The secret is not what is stored.
        const secret = /^labvirt_session=([^;]+)/.exec(setCookie)![1]!;
        const stored = await f.database.db
          .selectFrom('web_sessions')
          .select('token_hash')
          .execute();
        assert.ok(stored.length > 0 && stored.every((row) => row.token_hash !== secret));
      },
    );

    itHolds('the cookie is Secure when secureCookies is set, and under TLS', async () => {
      const secure = await buildApp({ db: f.database.db, secureCookies: true });
      const dir = await tempDir('lv-tls-');
      try {
        const key = join(dir.path, 'key.pem');
        const cert = join(dir.path, 'cert.pem');
        execFileSync(
          'openssl',
          [
            'req',
            '-x509',
            '-newkey',
            'rsa:2048',
            '-nodes',
            '-days',
            '1',
            '-subj',
            '/CN=localhost',
            '-keyout',
            key,
            '-out',
            cert,
          ],
          { stdio: 'ignore' },
        );
        const tls = await buildApp({
          db: f.database.db,
          https: { key: readFileSync(key), cert: readFileSync(cert) },
        });
        for (const app of [secure, tls]) {
          const response = await loginWith(app, f.users.viewer);
          assert.equal(response.statusCode, 200, response.body);
          assert.ok(cookieAttributes(String(response.headers['set-cookie'])).has('secure'));
          await app.close();
        }
      } finally {
        await dir.cleanup();
      }
    });

    itHolds('wrong passwords and unknown users get the same 401 LOGIN_FAILED', async () => {
      for (const payload of [
        { username: 'viewer', password: 'not the password' },
        { username: 'nobody-at-all', password: 'not the password' },
      ]) {
        const before = await snapshot(f.database);
        const response = await f.request({ method: 'POST', url: '/api/v1/auth/login', payload });
        problem(response, 401, 'LOGIN_FAILED');
        assert.equal(response.headers['set-cookie'], undefined);
        assert.deepEqual(await snapshot(f.database), before);
      }
    });

    itHolds('a cookie-borne change needs the session’s X-CSRF-Token', async () => {
      const session = await login(f, f.users.admin);
      const other = await login(f, f.users.admin);
      const create = (headers: Record<string, string>, name: string) =>
        f.request({
          method: 'POST',
          url: '/api/v1/labs',
          payload: { name },
          headers: { cookie: session.cookie, ...headers },
        });
      // Reading needs no token.
      const read = await f.request({
        method: 'GET',
        url: '/api/v1/labs',
        headers: { cookie: session.cookie },
      });
      assert.equal(read.statusCode, 200);
      for (const headers of [
        {},
        { 'x-csrf-token': 'wrong' },
        { 'x-csrf-token': '' },
        { 'x-csrf-token': other.csrfToken },
        { 'x-csrf-token': session.csrfToken.slice(0, -1) },
      ]) {
        const before = await snapshot(f.database);
        problem(await create(headers, 'csrf-lab'), 403, 'CSRF_FAILED', JSON.stringify(headers));
        assert.deepEqual(await snapshot(f.database), before);
      }
      const made = await create({ 'x-csrf-token': session.csrfToken }, 'csrf-lab');
      assert.equal(made.statusCode, 201, made.body);
      // A Bearer token is not sent by browsers on their own: no CSRF token needed.
      const viaToken = await f.request({
        method: 'DELETE',
        url: '/api/v1/labs/csrf-lab',
        as: f.users.admin,
      });
      assert.equal(viaToken.statusCode, 204);
    });

    itHolds('on every route: cookie-borne changes need the CSRF token, reads do not', async () => {
      const session = await login(f, f.users.admin);
      const before = await snapshot(f.database);
      let changes = 0;
      for (const route of f.app.registeredRoutes) {
        if (route.config.auth?.access === 'public' || !route.url.startsWith('/api/v1/')) continue;
        // The console's WebSocket is a read that needs a ticket as well (console-ws.test.ts).
        if (route.url.endsWith('/console/ws')) continue;
        // The agents' routes take no session at all (api-host-enrolment.test.ts).
        if (route.config.auth?.access === 'agent') continue;
        const url = fillPath(route.url, new Proxy({}, { get: () => 'no-such-thing' }));
        const payload = route.schema?.body !== undefined ? { payload: {} } : {};
        const response = await f.request({
          method: route.method as 'GET',
          url,
          headers: { cookie: session.cookie },
          ...payload,
        });
        if (['GET', 'HEAD'].includes(route.method)) {
          assert.ok(![401, 403].includes(response.statusCode), `${route.method} ${url}`);
        } else {
          problem(response, 403, 'CSRF_FAILED', `${route.method} ${url}`);
          changes++;
        }
      }
      assert.ok(changes >= 15, `${changes} changing routes checked`);
      assert.deepEqual(await snapshot(f.database), before);
    });

    itHolds('logout ends the session: the cookie no longer works', async () => {
      const session = await login(f, f.users.operator);
      const me = () =>
        f.request({ method: 'GET', url: '/api/v1/auth/me', headers: { cookie: session.cookie } });
      assert.equal((await me()).statusCode, 200);
      problem(
        await f.request({
          method: 'POST',
          url: '/api/v1/auth/logout',
          headers: { cookie: session.cookie },
        }),
        403,
        'CSRF_FAILED',
      );
      assert.equal((await me()).statusCode, 200, 'a forged logout did not end it');
      const out = await f.request({
        method: 'POST',
        url: '/api/v1/auth/logout',
        headers: { cookie: session.cookie, 'x-csrf-token': session.csrfToken },
      });
      assert.equal(out.statusCode, 204);
      assert.match(
        String(out.headers['set-cookie']),
        /labvirt_session=;.*Expires=Thu, 01 Jan 1970/,
      );
      problem(await me(), 401, 'AUTH_REQUIRED');
      // The operator's other credentials are untouched.
      assert.equal(
        (await f.request({ method: 'GET', url: '/api/v1/auth/me', as: f.users.operator }))
          .statusCode,
        200,
      );
    });

    itHolds('logout with an API token revokes that token', async () => {
      const spare = await f.freshToken(f.users.viewer);
      assert.equal(
        (await f.request({ method: 'POST', url: '/api/v1/auth/logout', as: spare })).statusCode,
        204,
      );
      problem(
        await f.request({ method: 'GET', url: '/api/v1/auth/me', as: spare }),
        401,
        'AUTH_REQUIRED',
      );
      assert.equal(
        (await f.request({ method: 'GET', url: '/api/v1/auth/me', as: f.users.viewer })).statusCode,
        200,
      );
    });

    itHolds(
      'API tokens: created with a password, listed without their secret, revoked',
      async () => {
        const made = await f.request({
          method: 'POST',
          url: '/api/v1/auth/tokens',
          payload: { username: 'operator', password: f.users.operator.password, name: 'laptop' },
        });
        assert.equal(made.statusCode, 201, made.body);
        const { id, token, name } = made.json<{ id: string; token: string; name: string }>();
        assert.equal(name, 'laptop');
        assert.match(token, /^lvt_/);
        const operator = { ...f.users.operator, token };
        const list = await f.request({ method: 'GET', url: '/api/v1/auth/tokens', as: operator });
        assert.equal(list.statusCode, 200);
        assert.ok(list.json<{ id: string }[]>().some((entry) => entry.id === id));
        assert.ok(!list.body.includes(token), 'the secret is shown once, at creation');
        // Another user's token is not theirs to revoke (and not even shown to exist).
        problem(
          await f.request({
            method: 'DELETE',
            url: `/api/v1/auth/tokens/${id}`,
            as: f.users.viewer,
          }),
          404,
          'TOKEN_NOT_FOUND',
        );
        assert.equal(
          (await f.request({ method: 'DELETE', url: `/api/v1/auth/tokens/${id}`, as: operator }))
            .statusCode,
          204,
        );
        problem(
          await f.request({ method: 'GET', url: '/api/v1/auth/me', as: operator }),
          401,
          'AUTH_REQUIRED',
        );
        // An admin may revoke anyone's.
        const spare = await f.freshToken(f.users.viewer);
        const spareId = (
          await f.database.db
            .selectFrom('api_tokens')
            .select('id')
            .where('name', '=', 'extra')
            .where('user_id', '=', spare.id)
            .executeTakeFirstOrThrow()
        ).id;
        assert.equal(
          (
            await f.request({
              method: 'DELETE',
              url: `/api/v1/auth/tokens/${spareId}`,
              as: f.users.admin,
            })
          ).statusCode,
          204,
        );
        problem(await f.request({ method: 'GET', url: '/api/v1/auth/me', as: spare }), 401);
      },
    );

    itHolds('a password change ends every session and token of the user', async () => {
      const user = await newUser('changer');
      const session = await login(f, user);
      const path = `/api/v1/users/${user.username}/password`;
      const change = (payload: object, as: ApiUser = user) =>
        f.request({ method: 'PUT', url: path, payload, as });
      problem(await change({ password: 'a brand new password' }), 400, 'FIELD_REQUIRED');
      problem(
        await change({ password: 'a brand new password', currentPassword: 'wrong one!' }),
        403,
        'PASSWORD_WRONG',
      );
      problem(
        await change({ password: 'short', currentPassword: user.password }),
        400,
        'PASSWORD_TOO_SHORT',
      );
      problem(
        await change({ password: 'a brand new password' }, f.users.operator),
        403,
        'FORBIDDEN',
      );
      // Whether the user exists or not: a non-admin learns nothing about other users.
      const elsewhere = await f.request({
        method: 'PUT',
        url: '/api/v1/users/nobody-here/password',
        payload: { password: 'a brand new password' },
        as: f.users.operator,
      });
      problem(elsewhere, 403, 'FORBIDDEN');
      const done = await change({
        password: 'a brand new password',
        currentPassword: user.password,
      });
      assert.equal(done.statusCode, 204, done.body);
      problem(
        await f.request({ method: 'GET', url: '/api/v1/auth/me', as: user }),
        401,
        'AUTH_REQUIRED',
      );
      problem(
        await f.request({
          method: 'GET',
          url: '/api/v1/auth/me',
          headers: { cookie: session.cookie },
        }),
        401,
        'AUTH_REQUIRED',
      );
      problem(await loginWith(f.app, user), 401, 'LOGIN_FAILED');
      const again = await loginWith(f.app, { ...user, password: 'a brand new password' });
      assert.equal(again.statusCode, 200);
      // An admin sets anyone's password without the current one; that ends theirs too.
      const newSession = await login(f, { ...user, password: 'a brand new password' });
      const byAdmin = await change({ password: 'set by the admin' }, f.users.admin);
      assert.equal(byAdmin.statusCode, 204, byAdmin.body);
      problem(
        await f.request({
          method: 'GET',
          url: '/api/v1/auth/me',
          headers: { cookie: newSession.cookie },
        }),
        401,
      );
    });

    itHolds('disabling a user ends their sessions and tokens and refuses their login', async () => {
      const user = await newUser('leaver');
      const session = await login(f, user);
      const disable = await f.request({
        method: 'PATCH',
        url: `/api/v1/users/${user.username}`,
        payload: { disabled: true },
        as: f.users.admin,
      });
      assert.equal(disable.statusCode, 200, disable.body);
      problem(await f.request({ method: 'GET', url: '/api/v1/auth/me', as: user }), 401);
      problem(
        await f.request({
          method: 'GET',
          url: '/api/v1/auth/me',
          headers: { cookie: session.cookie },
        }),
        401,
      );
      problem(await loginWith(f.app, user), 401, 'LOGIN_FAILED');
      // Enabled again, the account needs new credentials: the old ones stay dead.
      const enable = await f.request({
        method: 'PATCH',
        url: `/api/v1/users/${user.username}`,
        payload: { disabled: false },
        as: f.users.admin,
      });
      assert.equal(enable.statusCode, 200, enable.body);
      problem(await f.request({ method: 'GET', url: '/api/v1/auth/me', as: user }), 401);
      problem(
        await f.request({
          method: 'GET',
          url: '/api/v1/auth/me',
          headers: { cookie: session.cookie },
        }),
        401,
      );
      assert.equal((await loginWith(f.app, user)).statusCode, 200);
    });

    itHolds('an idle or old session ends on its own', async () => {
      let now = Date.now();
      const app = await buildApp({ db: f.database.db, now: () => new Date(now) });
      try {
        const response = await loginWith(app, f.users.viewer);
        const cookie = String(response.headers['set-cookie']).split(';')[0]!;
        const me = () => app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { cookie } });
        now += 90 * 60_000;
        assert.equal((await me()).statusCode, 200, 'used within the idle limit');
        now += 3 * 3600_000;
        problem(await me(), 401, 'AUTH_REQUIRED');
      } finally {
        await app.close();
      }
    });

    itHolds(
      'failed logins are limited: 429 with Retry-After, per address and per user',
      async () => {
        let now = 1_000_000;
        const limiter = new LoginLimiter({ maxFailures: 3, windowMs: 60_000, now: () => now });
        const app = await buildApp({ db: f.database.db, loginLimiter: limiter });
        try {
          const attempt = (
            username: string,
            password: string,
            remoteAddress = '192.0.2.1',
            url = '/api/v1/auth/login',
          ) => app.inject({ method: 'POST', url, payload: { username, password }, remoteAddress });
          for (let i = 0; i < 3; i++)
            problem(await attempt('viewer', 'guessing wrong'), 401, 'LOGIN_FAILED');
          for (const url of ['/api/v1/auth/login', '/api/v1/auth/tokens']) {
            // Even the right password: the guesser must not learn it is right.
            const limited = await attempt('viewer', f.users.viewer.password, '192.0.2.1', url);
            const body = problem(limited, 429, 'LOGIN_RATE_LIMITED');
            const retryAfter = Number(limited.headers['retry-after']);
            assert.ok(
              retryAfter > 0 && retryAfter <= 60,
              `Retry-After: ${limited.headers['retry-after']}`,
            );
            assert.ok(body.detail.includes(String(retryAfter)), body.detail);
          }
          // Another address, same user: the user is limited too.
          problem(await attempt('viewer', f.users.viewer.password, '192.0.2.2'), 429);
          // Same address, another user: the address is limited.
          problem(await attempt('operator', f.users.operator.password, '192.0.2.1'), 429);
          // Another user from another address is not affected.
          assert.equal(
            (await attempt('operator', f.users.operator.password, '192.0.2.3')).statusCode,
            200,
          );
          now += 61_000;
          assert.equal(
            (await attempt('viewer', f.users.viewer.password, '192.0.2.1')).statusCode,
            200,
          );
        } finally {
          await app.close();
        }
      },
    );
  });
}
