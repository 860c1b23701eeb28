// Property-based: random JSON bodies and path parameters to every mutating route, mostly
// as an admin (who gets furthest), else as an operator (through the lab-scoped checks), and
// random paths and queries to every other route the app registered (reads, HEAD, the web
// console's files, the API docs, the terminal endpoint; terminal-fuzz.test.ts goes deeper
// there). Whatever comes in: never a 5xx, the process never crashes, a request answered
// with 4xx changed nothing in the database, an accepted one is audited, a read changes
// nothing. Runs per route: scaled(200, 2000) (LABVIRT_RELIABILITY_LONG=1), or
// LABVIRT_FUZZ_RUNS.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageStore } from '../../src/images/image-store.js';
import { tempDir } from '../helpers/env.js';
import type { RegisteredRoute } from '../../src/controller/auth/plugin.js';
import {
  createApiFixture,
  fillPath,
  fingerprint,
  type ApiFixture,
  type ApiUser,
} from '../helpers/api.js';
import { validFields, type JsonSchema } from '../helpers/bad-input.js';
import { dialects } from '../helpers/databases.js';
import { hostileInputs, invariant } from './ledger.js';
import { assertProperty } from './matrix-ledger.js';
import { countFromEnv } from './scale.js';

const RUNS = countFromEnv('LABVIRT_FUZZ_RUNS', 200, 2000);
const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
// A terminal and a profile the path parameters sometimes name, so their routes get past 404.
const KNOWN_TERMINAL = '52:54:00:00:00:01';
const KNOWN_PROFILE = 'profile-one';

/** Values that are sometimes right: names that exist, allowed choices, edge numbers. */
function plausible(schema: JsonSchema | undefined, name: string): fc.Arbitrary<unknown> {
  const choices = (schema?.anyOf ?? [schema ?? {}]).flatMap((branch) =>
    branch.const !== undefined ? [branch.const] : (branch.anyOf ?? []).map((b) => b.const),
  );
  return fc.oneof(
    fc.constantFrom(
      validFields[name] ?? 'x',
      ...choices.filter((choice) => choice !== undefined),
      'lab-mine',
      'lab-other',
      'admin',
      'viewer',
      null,
      0,
      -1,
      2 ** 31,
      1e308,
      '',
      ' ',
      'ünïcødé ✓',
      '\u0000',
      'lone \ud800 surrogate',
      '../../etc/passwd',
      "'; drop table users; --",
      'a'.repeat(65),
    ),
    fc.string({ maxLength: 80 }),
    fc.string({ maxLength: 20, unit: 'binary' }),
    fc.integer(),
    fc.boolean(),
    fc.array(fc.string({ maxLength: 10 }), { maxLength: 5 }),
    fc.jsonValue({ maxDepth: 2 }),
  );
}

/** Mostly valid values for a field, so runs get past validation into the handlers. */
const validByName: Readonly<Record<string, fc.Arbitrary<unknown>>> = {
  name: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9 _.-]{0,20}$/),
  username: fc.stringMatching(/^[a-z0-9][a-z0-9_.@-]{0,15}$/),
  mac: fc
    .array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 })
    .map((bytes) => ['52', '54', ...bytes.map((b) => b.toString(16).padStart(2, '0'))].join(':')),
  // Mostly below the policy's minimum: a good one costs a slow scrypt hash.
  password: fc.oneof(
    { weight: 9, arbitrary: fc.string({ minLength: 1, maxLength: 9 }) },
    { weight: 1, arbitrary: fc.string({ minLength: 10, maxLength: 20 }) },
  ),
  currentPassword: fc.string({ minLength: 1, maxLength: 12 }),
  lab: fc.constantFrom('lab-mine', 'lab-other', 'no-such-lab'),
  labs: fc.array(fc.constantFrom('lab-mine', 'lab-other'), { maxLength: 2 }),
  timezone: fc.constantFrom('UTC', 'Europe/Madrid', 'America/Mexico_City', 'Nowhere/Else'),
};

function valid(schema: JsonSchema, name: string): fc.Arbitrary<unknown> {
  const byName = validByName[name];
  if (byName !== undefined) return byName;
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map((branch) => valid(branch, name)));
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  switch (schema.type) {
    case 'string':
      return fc.string({ minLength: schema.minLength ?? 0, maxLength: schema.maxLength ?? 20 });
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6 });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    default:
      return plausible(schema, name);
  }
}

/**
 * Random bodies: mostly shaped like the route's input (valid, or valid but for one field),
 * else anything JSON.
 */
function bodies(schema: JsonSchema): fc.Arbitrary<unknown> {
  const fields = Object.entries(schema.properties ?? {});
  const required = schema.required ?? [];
  const validBody = fc.record(
    Object.fromEntries(fields.map(([name, property]) => [name, valid(property, name)])),
    { requiredKeys: [...required] },
  );
  const shaped = fc.record(
    Object.fromEntries(fields.map(([name, property]) => [name, plausible(property, name)])),
    { requiredKeys: [] },
  );
  const oneWrong = fc
    .tuple(
      validBody,
      fc.constantFrom('unexpected', ...fields.map(([name]) => name)),
      plausible(undefined, ''),
    )
    .map(([body, key, value]) => ({ ...(body as object), [key]: value }));
  return fc.oneof(
    { weight: 3, arbitrary: validBody },
    { weight: 3, arbitrary: oneWrong },
    { weight: 2, arbitrary: shaped },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    {
      weight: 1,
      arbitrary: fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 })),
    },
  );
}

/** Fills path parameters as they are, without escaping. */
function rawPath(url: string, values: Readonly<Record<string, string>>): string {
  return url.replace(/:(\w+)/g, (_whole, name: string) => values[name] ?? '');
}

const params = fc.oneof(
  fc.constantFrom(
    'lab-mine',
    'lab-other',
    'viewer',
    'operator',
    KNOWN_TERMINAL,
    KNOWN_PROFILE,
    'no-such',
    'a'.repeat(65),
    '%',
    '.',
  ),
  fc.string({ minLength: 1, maxLength: 80 }),
  fc.string({ minLength: 1, maxLength: 10, unit: 'binary' }),
);

for (const dialect of dialects) {
  describe(`random input on ${dialect.name}`, () => {
    let f: ApiFixture;
    let admin: ApiUser;
    let operator: ApiUser;
    let baseline: Record<string, string>;
    let auditedBefore: number;
    const crashes: unknown[] = [];
    const onCrash = (error: unknown) => crashes.push(error);
    let images: Awaited<ReturnType<typeof tempDir>> | undefined;
    before(async () => {
      // An image store with an empty import directory: the image routes get past their
      // checks, and no random path can start a real import.
      images = await tempDir('lv-fuzz-');
      await mkdir(join(images.path, 'import'));
      f = await createApiFixture(dialect, {
        images: new ImageStore({
          root: join(images.path, 'store'),
          importDirs: [join(images.path, 'import')],
          uploadLimit: 1024,
        }),
        isoDir: join(images.path, 'iso'),
      });
      admin = f.users.admin;
      operator = f.users.operator;
      for (const [url, payload] of [
        ['/api/v1/terminals', { mac: KNOWN_TERMINAL, lab: 'lab-mine' }],
        ['/api/v1/profiles', { name: KNOWN_PROFILE }],
      ] as const) {
        const created = await f.request({ method: 'POST', url, payload, as: admin });
        assert.equal(created.statusCode, 201, created.body);
      }
      baseline = await fingerprint(f.database);
      auditedBefore = await auditCount();
      process.on('uncaughtException', onCrash).on('unhandledRejection', onCrash);
    });
    after(async () => {
      process.off('uncaughtException', onCrash).off('unhandledRejection', onCrash);
      await f?.close();
      await images?.cleanup();
    });

    // Creations first, renames and deletions last, so most routes still find the labs
    // and users the fixture made.
    const order = ['POST', 'PUT', 'PATCH', 'DELETE'];
    const mutating = (): RegisteredRoute[] =>
      f.app.registeredRoutes
        .filter((r) => r.url.startsWith('/api/v1/') && MUTATING.has(r.method))
        .sort((a, b) => order.indexOf(a.method) - order.indexOf(b.method));

    it('covers the mutating routes', () => assert.ok(mutating().length >= 15));

    it('the fingerprint sees a change in any table, and only there', async () => {
      const db = f.database.db;
      const before = await fingerprint(f.database);
      assert.deepEqual(await fingerprint(f.database), before, 'stable');
      await db
        .updateTable('labs')
        .set({ description: 'changed' })
        .where('name', '=', 'lab-mine')
        .execute();
      const changed = await fingerprint(f.database);
      const differ = Object.keys(before).filter((table) => before[table] !== changed[table]);
      assert.deepEqual(differ, ['labs']);
      await db
        .updateTable('labs')
        .set({ description: '' })
        .where('name', '=', 'lab-mine')
        .execute();
      assert.deepEqual(await fingerprint(f.database), before, 'back as it was');
      await db
        .updateTable('labs')
        .set({ idle_minutes: 5 })
        .where('name', '=', 'lab-mine')
        .execute();
      assert.notDeepEqual(await fingerprint(f.database), before, 'null → 5');
      await db
        .updateTable('labs')
        .set({ idle_minutes: null })
        .where('name', '=', 'lab-mine')
        .execute();
      // Using a token is not a change.
      await db.updateTable('api_tokens').set({ last_used_at: new Date().toISOString() }).execute();
      assert.deepEqual(await fingerprint(f.database), before, 'touch columns left out');
      baseline = before;
    });

    it(`never a 5xx, and a refused request changes nothing (${RUNS} runs per route)`, async () => {
      const counts: Record<string, Record<number, number>> = {};
      let fuzzed = 0;
      try {
        await invariant(
          'no 5xx from fuzzed input; a refused request changes nothing; an accepted one is audited',
          async () => {
            for (const route of mutating()) {
              const started = Date.now();
              let injectMs = 0;
              let checkMs = 0;
              const names = [...route.url.matchAll(/:(\w+)/g)].map((match) => match[1]!);
              const schema = route.schema?.body as JsonSchema | undefined;
              const count: Record<number, number> = (counts[`${route.method} ${route.url}`] = {});
              await assertProperty(
                fc.asyncProperty(
                  fc.array(params, { minLength: names.length, maxLength: names.length }),
                  schema === undefined ? fc.constant(undefined) : bodies(schema),
                  fc.boolean(),
                  fc.constantFrom('admin', 'admin', 'operator'),
                  async (values, body, raw, caller) => {
                    // Now and then the values go into the path unescaped, as a careless client would.
                    const url = (raw ? rawPath : fillPath)(
                      route.url,
                      Object.fromEntries(names.map((n, i) => [n, values[i]!])),
                    );
                    const sent = Date.now();
                    const response = await f.request({
                      method: route.method as 'POST',
                      url,
                      as: caller === 'admin' ? admin : operator,
                      ...(body === undefined
                        ? {}
                        : {
                            payload: JSON.stringify(body),
                            headers: { 'content-type': 'application/json' },
                          }),
                    });
                    injectMs += Date.now() - sent;
                    fuzzed++;
                    const status = response.statusCode;
                    count[status] = (count[status] ?? 0) + 1;
                    assert.ok(status < 500, `${route.method} ${url} → ${status} ${response.body}`);
                    const checked = Date.now();
                    if (status >= 400) {
                      assert.match(
                        String(response.headers['content-type']),
                        /^application\/problem\+json/,
                      );
                      const now = await fingerprint(f.database);
                      // A refused join is audited (host.join-refused), and that is all it changes.
                      if (
                        route.url === '/api/v1/agent/join' &&
                        (status === 401 || status === 403)
                      ) {
                        assert.deepEqual(
                          { ...now, audit_events: '' },
                          { ...baseline, audit_events: '' },
                          `${route.method} ${url} ${status}`,
                        );
                        baseline = now;
                      } else assert.deepEqual(now, baseline, `${route.method} ${url} ${status}`);
                    } else {
                      // Accepted: the change is legitimate, and audited.
                      const audited = await auditCount();
                      assert.ok(
                        audited > auditedBefore,
                        `${route.method} ${url} ${status} not audited`,
                      );
                      // The caller may have ended its own token (logout), or had its password set
                      // (which ends all its tokens).
                      admin = await tokenStillValid(admin);
                      operator = await tokenStillValid(operator);
                      baseline = await fingerprint(f.database);
                      auditedBefore = await auditCount();
                    }
                    checkMs += Date.now() - checked;
                  },
                ),
                { numRuns: RUNS },
              );
              if (process.env['LABVIRT_FUZZ_VERBOSE'])
                console.log(
                  route.method,
                  route.url,
                  Date.now() - started,
                  injectMs,
                  checkMs,
                  JSON.stringify(count),
                );
            }
          },
        );
      } finally {
        hostileInputs('fuzzed request', fuzzed);
      }
      await invariant('no crash from fuzzed input', async () => {
        assert.deepEqual(crashes, []);
        const health = await f.request({ method: 'GET', url: '/api/v1/health' });
        assert.equal(health.statusCode, 200);
      });
      // The runs reached past validation on most routes (not just 400 everywhere).
      const reachedHandlers = Object.values(counts).filter((byStatus) =>
        Object.keys(byStatus).some((status) => status !== '400'),
      );
      assert.ok(reachedHandlers.length >= mutating().length / 2, JSON.stringify(counts));
    });

    it(`every other route: never a 5xx, never a change, whatever the path and query (${Math.ceil(RUNS / 2)} runs per route)`, async () => {
      const fuzzedMutating = new Set(mutating());
      const others = f.app.registeredRoutes.filter((route) => !fuzzedMutating.has(route));
      // Every route the app registered is fuzzed: here, or above with bodies.
      assert.equal(others.length + fuzzedMutating.size, f.app.registeredRoutes.length);
      assert.ok(others.some((route) => route.method === 'HEAD'));
      assert.ok(others.some((route) => route.url.startsWith('/terminal/v1/')));
      assert.ok(others.some((route) => route.url === '/*'));
      admin = await tokenStillValid(admin);
      const before = await fingerprint(f.database);
      let fuzzed = 0;
      try {
        await invariant('no 5xx from fuzzed input; a fuzzed read changes nothing', async () => {
          for (const route of others) await fuzzRead(route, () => fuzzed++);
          assert.deepEqual(await fingerprint(f.database), before);
        });
      } finally {
        hostileInputs('fuzzed request', fuzzed);
      }
    });

    /** Random path parameters and query to a route that takes no body, as the admin. */
    async function fuzzRead(route: RegisteredRoute, sent: () => void): Promise<void> {
      const names = [...route.url.matchAll(/:(\w+)|\*/g)].map((match) => match[1] ?? '*');
      const known = Object.keys(
        (route.schema?.querystring as JsonSchema | undefined)?.properties ?? {},
      );
      const queryKey = fc.oneof(fc.constantFrom(...known, 'lab'), fc.string({ maxLength: 8 }));
      // The two routes a browser opens as streams refuse a plain GET: the event stream
      // without Accept: text/event-stream (406), the console's WebSocket without its page's
      // Origin and a ticket (401/403). Agents' routes refuse every user (401: only a host's
      // agent secret opens them). The terminal endpoint answers a terminal that is not
      // served with 403 or 409, and is rate-limited per address (429).
      const refusals = route.url.endsWith('/console/ws')
        ? [401, 403]
        : route.url.endsWith('/events')
          ? [406]
          : route.url.startsWith('/api/v1/agent/')
            ? [401]
            : route.url.startsWith('/terminal/')
              ? [403, 409, 429]
              : [];
      await assertProperty(
        fc.asyncProperty(
          fc.array(params, { minLength: names.length, maxLength: names.length }),
          fc.dictionary(
            queryKey,
            fc.oneof(params, fc.constantFrom('1', '0', '1000', 'enrolled', '2031-01-01T00:00:00Z')),
            { maxKeys: 4 },
          ),
          async (values, query) => {
            const path = fillPath(
              route.url,
              Object.fromEntries(names.map((n, i) => [n, values[i]!])),
            );
            const url = `${path}?${new URLSearchParams(query)}`;
            const response = await f.request({ method: route.method as 'GET', url, as: admin });
            sent();
            const where = `${route.method} ${url} → ${response.statusCode} ${response.body.slice(0, 300)}`;
            assert.ok(response.statusCode < 500, where);
            assert.ok(
              [200, 301, 302, 304, 400, 404, ...refusals].includes(response.statusCode),
              where,
            );
          },
        ),
        { numRuns: Math.ceil(RUNS / 2) },
      );
    }

    async function auditCount(): Promise<number> {
      const row = await f.database.db
        .selectFrom('audit_events')
        .select((eb) => eb.fn.countAll<number>().as('count'))
        .executeTakeFirstOrThrow();
      return Number(row.count);
    }

    async function tokenStillValid(user: ApiUser): Promise<ApiUser> {
      const me = await f.request({ method: 'GET', url: '/api/v1/auth/me', as: user });
      // A user deleted by an earlier run keeps its dead token (its requests are 401s).
      return me.statusCode === 200 ? user : f.freshToken(user).catch(() => user);
    }
  });
}
