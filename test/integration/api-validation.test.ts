// Invalid input to every route that takes input: 400 application/problem+json with a
// stable code and the field at fault, and nothing in the database changed. The cases are
// derived from each route's own schema (test/helpers/bad-input.ts), so a new route or a
// new field is covered without editing this file.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RegisteredRoute } from '../../src/controller/auth/plugin.js';
import { createApiFixture, fillPath, problem, snapshot, type ApiFixture } from '../helpers/api.js';
import { badInputs, minimalValid, type JsonSchema } from '../helpers/bad-input.js';
import { dialects } from '../helpers/databases.js';

const describeRoute = (route: RegisteredRoute) => `${route.method} ${route.url}`;
const anyParams = new Proxy({} as Record<string, string>, { get: () => 'some-ref' });

for (const dialect of dialects) {
  describe(`input validation on ${dialect.name}`, () => {
    let f: ApiFixture;
    before(async () => (f = await createApiFixture(dialect)));
    after(() => f?.close());
    const apiRoutes = () => f.app.registeredRoutes.filter((r) => r.url.startsWith('/api/v1/'));
    // The agents' routes refuse a user before reading any input (api-host-enrolment.test.ts).
    const forUsers = (route: RegisteredRoute) => route.config.auth?.access !== 'agent';
    const bodyRoutes = () =>
      apiRoutes().filter((route) => route.schema?.body !== undefined && forUsers(route));

    /** Sends a bad request as admin; asserts the problem and that no table changed. */
    async function refused(
      route: RegisteredRoute,
      request: { url?: string; payload?: unknown; headers?: Record<string, string> },
      status: number,
      code: string,
      field: string | undefined,
      context: string,
    ) {
      const before = await snapshot(f.database);
      const response = await f.request({
        method: route.method as 'POST',
        url: request.url ?? fillPath(route.url, anyParams),
        as: f.users.admin,
        ...(request.payload === undefined ? {} : { payload: request.payload as object }),
        ...(request.headers ? { headers: request.headers } : {}),
      });
      const body = problem(response, status, code, `${describeRoute(route)}: ${context}`);
      assert.equal(body.field, field, `${describeRoute(route)}: ${context}: field`);
      assert.deepEqual(await snapshot(f.database), before, `${describeRoute(route)}: ${context}`);
      return body;
    }

    it('every mutating route with input has a body schema that refuses unknown fields', () => {
      const mutating = apiRoutes().filter((r) => ['POST', 'PUT', 'PATCH'].includes(r.method));
      assert.ok(mutating.length >= 10);
      for (const route of mutating) {
        if (route.url === '/api/v1/auth/logout') continue; // takes no input
        // Takes a disk image (application/octet-stream, streamed), not JSON.
        if (route.url === '/api/v1/profiles/:profile/upload') continue;
        const body = route.schema?.body as JsonSchema | undefined;
        assert.ok(body, `${describeRoute(route)} has a body schema`);
        assert.equal(body.additionalProperties, false, `${describeRoute(route)} is strict`);
      }
    });

    it('bad bodies: 400 with the code and field at fault, nothing changed', async () => {
      let checked = 0;
      for (const route of bodyRoutes()) {
        const schema = route.schema!.body as JsonSchema;
        for (const bad of badInputs(schema, minimalValid(schema))) {
          const body = await refused(
            route,
            { payload: bad.value },
            400,
            bad.code,
            bad.field,
            bad.name,
          );
          for (const word of bad.mentions ?? [])
            assert.ok(body.detail.includes(word), `${bad.name}: "${body.detail}" names ${word}`);
          checked++;
        }
      }
      assert.ok(checked > 80, `${checked} cases`);
    });

    it('bodies that are not a JSON object', async () => {
      for (const route of bodyRoutes()) {
        await refused(route, { payload: [] }, 400, 'FIELD_TYPE', 'body', 'an array');
        await refused(
          route,
          { payload: '"text"', headers: { 'content-type': 'application/json' } },
          400,
          'FIELD_TYPE',
          'body',
          'a string',
        );
        await refused(
          route,
          { payload: '{"name":', headers: { 'content-type': 'application/json' } },
          400,
          'BODY_MALFORMED',
          'body',
          'broken JSON',
        );
        await refused(
          route,
          { payload: 'name=x', headers: { 'content-type': 'text/plain' } },
          415,
          'MEDIA_TYPE_UNSUPPORTED',
          'body',
          'not JSON',
        );
      }
      const [route] = bodyRoutes();
      const huge = JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) });
      await refused(
        route!,
        { payload: huge, headers: { 'content-type': 'application/json' } },
        413,
        'BODY_TOO_LARGE',
        'body',
        'too large',
      );
    });

    it('bad path parameters: 400 naming path.<param>', async () => {
      let checked = 0;
      for (const route of apiRoutes()) {
        const params = route.schema?.params as JsonSchema | undefined;
        if (params === undefined || route.method === 'HEAD' || !forUsers(route)) continue;
        const schema = route.schema?.body as JsonSchema | undefined;
        for (const name of Object.keys(params.properties ?? {})) {
          const url = fillPath(route.url, { ...anyParamsFor(route), [name]: 'x'.repeat(65) });
          await refused(
            route,
            { url, ...(schema ? { payload: minimalValid(schema) } : {}) },
            400,
            'FIELD_TOO_LONG',
            `path.${name}`,
            `${name} too long`,
          );
          checked++;
        }
      }
      assert.ok(checked >= 12, `${checked} cases`);
    });

    it('bad query strings: 400 naming query.<param>', async () => {
      let checked = 0;
      for (const route of apiRoutes()) {
        const query = route.schema?.querystring as JsonSchema | undefined;
        if (query === undefined || route.method === 'HEAD') continue;
        for (const bad of badInputs(query, {}, 'query.')) {
          // Query values arrive as strings: only the cases a URL can carry.
          if (Object.values(bad.value).some((value) => typeof value !== 'string')) continue;
          const url = `${route.url}?${new URLSearchParams(bad.value as Record<string, string>)}`;
          await refused(route, { url }, 400, bad.code, bad.field, bad.name);
          checked++;
        }
      }
      assert.ok(checked >= 5, `${checked} cases`);
    });

    it('URLs the router refuses are problems too', async () => {
      for (const as of [f.users.admin, undefined]) {
        for (const [url, status, code] of [
          ['/api/v1/labs/%', 400, 'URL_MALFORMED'],
          ['/api/v1/labs/%E0%A4%A', 400, 'URL_MALFORMED'],
          [`/api/v1/labs/${'a'.repeat(200)}`, 414, 'URL_TOO_LONG'],
        ] as const) {
          const response = await f.request({ method: 'DELETE', url, ...(as ? { as } : {}) });
          problem(response, status, code, url);
        }
      }
      const spanish = await f.request({
        method: 'GET',
        url: '/api/v1/labs/%',
        headers: { 'accept-language': 'es' },
      });
      assert.equal(spanish.headers['content-language'], 'es');
    });

    describe('input that passes the schema but not the rules', () => {
      const post = (url: string, payload: object) => ({
        route: { method: 'POST', url } as RegisteredRoute,
        payload,
      });
      const cases: {
        name: string;
        route: RegisteredRoute;
        payload: object | undefined;
        url?: string;
        status: number;
        code: string;
        field: string | undefined;
      }[] = [
        {
          name: 'a short password',
          ...post('/api/v1/users', { username: 'shorty', role: 'viewer', password: 'short' }),
          status: 400,
          code: 'PASSWORD_TOO_SHORT',
          field: 'password',
        },
        {
          name: 'an unknown time zone',
          ...post('/api/v1/labs', { name: 'Lab tz', timezone: 'Mars/Olympus_Mons' }),
          status: 400,
          code: 'TIMEZONE_UNKNOWN',
          field: 'timezone',
        },
        {
          name: 'a lab name taken',
          ...post('/api/v1/labs', { name: 'lab-mine' }),
          status: 409,
          code: 'LAB_EXISTS',
          field: 'name',
        },
        {
          name: 'a user name taken',
          ...post('/api/v1/users', {
            username: 'viewer',
            role: 'viewer',
            password: 'long enough password',
          }),
          status: 409,
          code: 'USER_EXISTS',
          field: 'username',
        },
        {
          name: 'a user granted an unknown lab',
          ...post('/api/v1/users', {
            username: 'granted',
            role: 'operator',
            password: 'long enough password',
            labs: ['lab-mine', 'nowhere'],
          }),
          status: 404,
          code: 'LAB_NOT_FOUND',
          field: 'labs',
        },
        {
          name: 'a terminal in an unknown lab',
          ...post('/api/v1/terminals', { mac: '52:54:00:00:00:99', lab: 'nowhere' }),
          status: 404,
          code: 'LAB_NOT_FOUND',
          field: 'lab',
        },
        {
          name: 'terminals of an unknown lab',
          route: { method: 'GET', url: '/api/v1/terminals' } as RegisteredRoute,
          url: '/api/v1/terminals?lab=nowhere',
          payload: undefined,
          status: 404,
          code: 'LAB_NOT_FOUND',
          field: 'query.lab',
        },
        {
          name: 'demoting the last admin',
          route: { method: 'PATCH', url: '/api/v1/users/:user' } as RegisteredRoute,
          url: '/api/v1/users/admin',
          payload: { role: 'viewer' },
          status: 409,
          code: 'LAST_ADMIN',
          field: undefined,
        },
      ];
      for (const testCase of cases) {
        it(`${testCase.name}: ${testCase.status} ${testCase.code}`, async () => {
          await refused(
            testCase.route,
            { payload: testCase.payload, ...(testCase.url ? { url: testCase.url } : {}) },
            testCase.status,
            testCase.code,
            testCase.field,
            testCase.name,
          );
        });
      }
    });
  });
}

/** Path values for a route's other parameters: any valid reference. */
function anyParamsFor(route: RegisteredRoute): Record<string, string> {
  return Object.fromEntries(
    [...route.url.matchAll(/:(\w+)/g)].map((match) => [match[1]!, 'some-ref']),
  );
}
