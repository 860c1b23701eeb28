// Invariant 7: every API route has an explicit authorization rule, and the app applies it.
// The routes come from the app itself (app.registeredRoutes), not from a list kept here,
// so a new route is checked the day it is added.
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import { buildApp } from '../../src/controller/app.js';
import type { RegisteredRoute } from '../../src/controller/auth/plugin.js';
import { roleAtLeast, roles } from '../../src/controller/auth/rules.js';
import { findLab } from '../../src/controller/services/labs.js';
import { addTerminal } from '../../src/controller/services/terminals.js';
import {
  createApiFixture,
  fillPath,
  fingerprint,
  problem,
  snapshot,
  type ApiFixture,
  type ApiUser,
} from '../helpers/api.js';
import { dialects, rows } from '../helpers/databases.js';
import { itHolds } from './matrix-ledger.js';

const MISSING = 'no-such-thing';
const missingParams = new Proxy({} as Record<string, string>, {
  get: (_target, name) => (name === '*' ? 'index.html' : MISSING),
});

/** Only these are open to anyone; everything else needs a login. */
function expectedPublic(route: RegisteredRoute): boolean {
  if (route.url === '/api/docs' || route.url.startsWith('/api/docs/')) return true;
  const key = `${route.method} ${route.url}`;
  return [
    'POST /api/v1/auth/login',
    'POST /api/v1/auth/tokens',
    // A one-time sign-in link (labvirt server --demo): the token is the credential.
    'POST /api/v1/auth/link',
    'GET /api/v1/health',
    'HEAD /api/v1/health',
    // A new host's agent enrols: the one-time join token is the credential.
    'POST /api/v1/agent/join',
    // The web console's files (its data comes from the API), and its catalogues, which the
    // login page needs before anyone is logged in.
    'GET /*',
    'HEAD /*',
    'GET /assets/*',
    'HEAD /assets/*',
    'GET /api/v1/i18n',
    'HEAD /api/v1/i18n',
    'GET /api/v1/i18n/:locale',
    'HEAD /api/v1/i18n/:locale',
    // The terminal endpoint: a terminal has no login; it learns only its own settings.
    'GET /terminal/v1/config',
    'HEAD /terminal/v1/config',
    'GET /terminal/v1/boot.sh',
    'HEAD /terminal/v1/boot.sh',
  ].includes(key);
}

/**
 * Who may call each API route, as reviewed: a rule weakened by mistake (or a new route)
 * fails here until someone decides. HEAD follows GET.
 */
const reviewedRules: Readonly<
  Record<string, 'public' | 'viewer' | 'operator' | 'admin' | 'lab' | 'agent'>
> = {
  'POST /api/v1/auth/login': 'public',
  'POST /api/v1/auth/tokens': 'public',
  'POST /api/v1/auth/link': 'public',
  'GET /api/v1/health': 'public',
  'GET /api/v1/i18n': 'public', // the web console's catalogues, needed before log-in
  'GET /api/v1/i18n/:locale': 'public',
  'POST /api/v1/auth/logout': 'viewer',
  'GET /api/v1/auth/me': 'viewer',
  'GET /api/v1/auth/session': 'viewer',
  'PATCH /api/v1/auth/me': 'viewer',
  'GET /api/v1/auth/tokens': 'viewer',
  'DELETE /api/v1/auth/tokens/:token': 'viewer',
  'PUT /api/v1/users/:user/password': 'viewer', // their own; admins anyone's (in the handler)
  'GET /api/v1/users': 'admin',
  'POST /api/v1/users': 'admin',
  'GET /api/v1/users/:user': 'admin',
  'PATCH /api/v1/users/:user': 'admin',
  'DELETE /api/v1/users/:user': 'admin',
  'GET /api/v1/labs': 'viewer',
  'GET /api/v1/labs/:lab': 'viewer',
  'POST /api/v1/labs': 'admin',
  'PATCH /api/v1/labs/:lab': 'admin',
  'DELETE /api/v1/labs/:lab': 'admin',
  'PUT /api/v1/labs/:lab/profiles': 'admin',
  'GET /api/v1/labs/:lab/timetable': 'viewer',
  'PUT /api/v1/labs/:lab/timetable': 'admin',
  'PUT /api/v1/labs/:lab/subnets': 'admin',
  'PUT /api/v1/labs/:lab/address-pool': 'admin',
  // Who reads labs (their pools, terminals and addresses) may read what DHCP is told.
  'GET /api/v1/dhcp/hosts': 'viewer',
  'POST /api/v1/labs/:lab/start': 'lab',
  'POST /api/v1/labs/:lab/stop': 'lab',
  'GET /api/v1/terminals': 'viewer',
  'GET /api/v1/terminals/:terminal': 'viewer',
  'POST /api/v1/terminals': 'lab',
  'PATCH /api/v1/terminals/:terminal': 'lab',
  'DELETE /api/v1/terminals/:terminal': 'lab',
  'POST /api/v1/terminals/:terminal/enrol': 'lab', // the lab it is enrolled into
  'GET /api/v1/profiles': 'viewer',
  'GET /api/v1/profiles/:profile': 'viewer',
  'POST /api/v1/profiles': 'admin',
  'PATCH /api/v1/profiles/:profile': 'admin',
  'DELETE /api/v1/profiles/:profile': 'admin',
  'GET /api/v1/profiles/:profile/versions': 'viewer',
  'POST /api/v1/profiles/:profile/rollback': 'admin',
  'DELETE /api/v1/profiles/:profile/versions/:version': 'admin',
  'POST /api/v1/profiles/:profile/flatten': 'admin',
  'POST /api/v1/profiles/:profile/import': 'admin',
  'PUT /api/v1/profiles/:profile/upload': 'admin',
  'POST /api/v1/profiles/:profile/clone': 'admin',
  'GET /api/v1/jobs': 'viewer', // every job's target is a profile, which viewers see
  'GET /api/v1/jobs/:job': 'viewer',
  'GET /api/v1/hosts': 'viewer',
  'GET /api/v1/hosts/:host': 'viewer',
  'GET /api/v1/hosts/:host/metrics': 'viewer',
  'POST /api/v1/hosts': 'admin',
  'PATCH /api/v1/hosts/:host': 'admin',
  'DELETE /api/v1/hosts/:host': 'admin',
  'POST /api/v1/agent/join': 'public', // the one-time join token is checked in the handler
  'POST /api/v1/agent/hello': 'agent', // an enrolled host's agent secret, for its own id
  'GET /api/v1/agent/images/:versionId': 'agent', // an image version's file for a host's store
  'GET /api/v1/events': 'viewer',
  'GET /api/v1/vms': 'viewer',
  'POST /api/v1/vms': 'operator',
  'GET /api/v1/vms/:vm': 'viewer',
  'POST /api/v1/vms/:vm/stop': 'operator', // the admin VM: admins only (in the handler)
  'GET /api/v1/vms/:vm/serial': 'viewer',
  'POST /api/v1/vms/:vm/reset': 'operator', // the admin VM: admins only (in the handler)
  'POST /api/v1/vms/:vm/console': 'viewer', // the admin VM: admins only (in the handler)
  'GET /api/v1/vms/:vm/console/ws': 'viewer', // and a ticket from POST …/console
  'GET /api/v1/profiles/:profile/admin-session': 'viewer',
  'POST /api/v1/profiles/:profile/admin-session': 'admin',
  'POST /api/v1/profiles/:profile/admin-session/boot': 'admin',
  'POST /api/v1/profiles/:profile/admin-session/publish': 'admin',
  'POST /api/v1/profiles/:profile/admin-session/discard': 'admin',
  'GET /api/v1/audit': 'admin',
};

/** A console WebSocket asked without a ticket (nor the Origin a browser sends). */
const CONSOLE_WS_WITHOUT_TICKET = '403 CONSOLE_ORIGIN_REFUSED';

const hasBody = (route: RegisteredRoute) => route.schema?.body !== undefined;
const describeRoute = (route: RegisteredRoute) => `${route.method} ${route.url}`;

let macCounter = 0;
const nextMac = () => `52:54:00:00:0a:${(macCounter++ % 256).toString(16).padStart(2, '0')}`;

for (const dialect of dialects) {
  describe(`authorization on ${dialect.name}`, () => {
    let f: ApiFixture;
    before(async () => (f = await createApiFixture(dialect)));
    after(() => f?.close());
    const routes = () => f.app.registeredRoutes;
    const asUser = (route: RegisteredRoute, user: ApiUser | undefined, url?: string) =>
      f.request({
        method: route.method as 'GET',
        url: url ?? fillPath(route.url, missingParams),
        ...(user === undefined ? {} : { as: user }),
        ...(hasBody(route) ? { payload: {} } : {}),
      });

    itHolds('inv7: every route has a rule, and exactly the expected ones are public', () => {
      assert.ok(routes().length > 40, 'the routes were found');
      const publicRoutes = routes().filter((route) => route.config.auth?.access === 'public');
      for (const route of routes()) {
        assert.ok(route.config.auth, `${describeRoute(route)} has a rule`);
        assert.equal(
          route.config.auth.access === 'public',
          expectedPublic(route),
          `${describeRoute(route)} is ${route.config.auth.access}`,
        );
      }
      assert.ok(publicRoutes.some((route) => route.url === '/api/docs/json'));
      assert.ok(publicRoutes.some((route) => route.url === '/api/v1/auth/login'));
    });

    itHolds('inv7: every API route has the rule it was reviewed with', () => {
      const actual: Record<string, string | undefined> = {};
      for (const route of routes().filter((r) => r.url.startsWith('/api/v1/'))) {
        const auth = route.config.auth;
        const rule = auth?.access === 'role' ? auth.role : auth?.access;
        const key = `${route.method === 'HEAD' ? 'GET' : route.method} ${route.url}`;
        if (key in actual) assert.equal(rule, actual[key], `HEAD and GET ${route.url} agree`);
        actual[key] = rule;
      }
      assert.deepEqual(actual, reviewedRules);
    });

    itHolds('inv7: anonymous callers get 401 AUTH_REQUIRED on every non-public route', async () => {
      let checked = 0;
      for (const route of routes()) {
        if (route.config.auth?.access === 'public') continue;
        for (const headers of [
          {},
          { authorization: 'Bearer lvt_forged' },
          { cookie: 'labvirt_session=forged' },
        ]) {
          const response = await f.request({
            method: route.method as 'GET',
            url: fillPath(route.url, missingParams),
            headers,
            ...(hasBody(route) ? { payload: {} } : {}),
          });
          if (route.method === 'HEAD') {
            assert.equal(response.statusCode, 401, describeRoute(route));
            assert.match(String(response.headers['content-type']), /problem\+json/);
          } else {
            // The agents' routes take an agent's secret, not a user's: refused as such.
            const code =
              route.config.auth?.access === 'agent' ? 'AGENT_CREDENTIAL_INVALID' : 'AUTH_REQUIRED';
            problem(response, 401, code, describeRoute(route));
          }
          checked++;
        }
      }
      assert.ok(checked > 100);
    });

    itHolds('inv7: public routes answer anonymous callers', async () => {
      for (const route of routes()) {
        if (route.config.auth?.access !== 'public') continue;
        const response = await asUser(route, undefined);
        assert.ok(
          ![401, 403].includes(response.statusCode) && response.statusCode < 500,
          `${describeRoute(route)} → ${response.statusCode}`,
        );
      }
    });

    itHolds(
      'inv7: a role below the rule gets 403 FORBIDDEN, before its input is even read',
      async () => {
        let checked = 0;
        for (const route of routes()) {
          const auth = route.config.auth;
          if (auth === undefined || auth.access === 'public' || auth.access === 'agent') continue;
          const minimum = auth.access === 'role' ? auth.role : 'operator';
          for (const role of roles) {
            if (roleAtLeast(role, minimum)) continue;
            const user = Object.values(f.users).find((candidate) => candidate.role === role)!;
            const before = await snapshot(f.database);
            const response = await asUser(route, user);
            if (route.method === 'HEAD') assert.equal(response.statusCode, 403);
            else problem(response, 403, 'FORBIDDEN', `${role}: ${describeRoute(route)}`);
            assert.deepEqual(await snapshot(f.database), before, describeRoute(route));
            checked++;
          }
        }
        assert.ok(checked > 15, `${checked} refusals checked`);
      },
    );

    itHolds(
      'inv7: no user of any role gets past an agent route: 401 AGENT_CREDENTIAL_INVALID',
      async () => {
        const agentRoutes = routes().filter((route) => route.config.auth?.access === 'agent');
        assert.ok(agentRoutes.length > 0);
        for (const route of agentRoutes) {
          for (const user of Object.values(f.users)) {
            const response = await asUser(route, user);
            if (route.method === 'HEAD') assert.equal(response.statusCode, 401);
            else problem(response, 401, 'AGENT_CREDENTIAL_INVALID', describeRoute(route));
          }
        }
      },
    );

    itHolds('inv7: the rule’s role and those above it get past authorization', async () => {
      for (const route of routes()) {
        const auth = route.config.auth;
        if (auth === undefined || auth.access !== 'role') continue;
        // The console's WebSocket also needs a ticket and its page's Origin, refused with
        // 401/403 too (test/integration/console-ws.test.ts).
        if (route.url.endsWith('/console/ws')) continue;
        for (const role of roles) {
          if (!roleAtLeast(role, auth.role)) continue;
          // A token of its own: POST /auth/logout revokes the token it is called with.
          const user = await f.freshToken(
            Object.values(f.users).find((candidate) => candidate.role === role)!,
          );
          const response = await asUser(route, user);
          assert.ok(
            ![401, 403].includes(response.statusCode) && response.statusCode < 500,
            `${role}: ${describeRoute(route)} → ${response.statusCode} ${response.body}`,
          );
        }
      }
    });

    describe('lab-scoped routes', () => {
      // A valid request about a lab, per lab-scoped route; the test below fails when a
      // lab-scoped route is added without a case here.
      const cases: Record<
        string,
        (lab: string) => Promise<{ url: string; payload?: Record<string, unknown> }>
      > = {
        'POST /api/v1/terminals': async (lab) => ({
          url: '/api/v1/terminals',
          payload: { mac: nextMac(), lab },
        }),
        'PATCH /api/v1/terminals/:terminal': async (lab) => ({
          url: `/api/v1/terminals/${await terminalIn(lab)}`,
          payload: { name: 'renamed' },
        }),
        'DELETE /api/v1/terminals/:terminal': async (lab) => ({
          url: `/api/v1/terminals/${await terminalIn(lab)}`,
        }),
        'POST /api/v1/terminals/:terminal/enrol': async (lab) => ({
          url: `/api/v1/terminals/${await pendingTerminal()}/enrol`,
          payload: { lab },
        }),
        'POST /api/v1/labs/:lab/start': async (lab) => ({
          url: `/api/v1/labs/${encodeURIComponent(await openLab(lab))}/start`,
          payload: {},
        }),
        'POST /api/v1/labs/:lab/stop': async (lab) => ({
          url: `/api/v1/labs/${encodeURIComponent(lab)}/stop`,
          payload: {},
        }),
      };
      /** Gives the lab a default profile (without an image), so it is open: start gets going. */
      async function openLab(ref: string): Promise<string> {
        const db = f.database.db;
        const lab = await findLab(db, ref);
        if (lab.default_profile_id === null) {
          const profile = rows.profile();
          await db.insertInto('profiles').values(profile).execute();
          await db
            .insertInto('lab_profiles')
            .values({ lab_id: lab.id, profile_id: profile.id })
            .execute();
          await db
            .updateTable('labs')
            .set({ default_profile_id: profile.id })
            .where('id', '=', lab.id)
            .execute();
        }
        return ref;
      }
      async function pendingTerminal(): Promise<string> {
        const row = rows.terminal({ mac: nextMac(), lab_id: null });
        await f.database.db.insertInto('terminals').values(row).execute();
        return row.id;
      }
      async function terminalIn(lab: string): Promise<string> {
        const actor = { principal: undefined, source: 'test' };
        return (await addTerminal(f.database.db, actor, { mac: nextMac(), lab }, new Date())).id;
      }
      const labRoutes = () => routes().filter((route) => route.config.auth?.access === 'lab');

      itHolds('inv7: every lab-scoped route has a case here', () => {
        assert.deepEqual(labRoutes().map(describeRoute).sort(), Object.keys(cases).sort());
      });

      itHolds(
        'inv7: an operator of another lab gets 403 LAB_FORBIDDEN and nothing changes',
        async () => {
          for (const route of labRoutes()) {
            const request = await cases[describeRoute(route)]!(f.labs.mine.name);
            const before = await snapshot(f.database);
            const response = await f.request({
              method: route.method as 'POST',
              ...request,
              as: f.users.otherOperator,
            });
            problem(response, 403, 'LAB_FORBIDDEN', describeRoute(route));
            assert.deepEqual(await snapshot(f.database), before);
          }
        },
      );

      itHolds('inv7: the operator granted the lab, and any admin, may', async () => {
        for (const route of labRoutes()) {
          for (const user of [f.users.operator, f.users.admin]) {
            for (const lab of [f.labs.mine.name, f.labs.mine.id]) {
              const request = await cases[describeRoute(route)]!(lab);
              const response = await f.request({
                method: route.method as 'POST',
                ...request,
                as: user,
              });
              assert.ok(
                response.statusCode >= 200 && response.statusCode < 300,
                `${user.username}: ${describeRoute(route)} → ${response.statusCode} ${response.body}`,
              );
            }
          }
          // The admin, in a lab no operator here is granted.
          const request = await cases[describeRoute(route)]!(f.labs.other.name);
          const response = await f.request({
            method: route.method as 'POST',
            ...request,
            as: f.users.admin,
          });
          assert.ok(response.statusCode < 300, response.body);
        }
      });

      itHolds(
        'inv7: every route × (anonymous, viewer, operator of another lab, operator, admin) gets the expected answer',
        async () => {
          // The whole matrix, compared at once: a cell that differs names its route and caller.
          const callers = {
            anonymous: undefined,
            viewer: f.users.viewer,
            'operator of another lab': f.users.otherOperator,
            operator: f.users.operator,
            admin: f.users.admin,
          } as const;
          const expected: Record<string, Record<string, string>> = {};
          const actual: Record<string, Record<string, string>> = {};
          let refusals = 0;
          for (const route of routes()) {
            const key = describeRoute(route);
            const head = route.method === 'HEAD';
            const rowExpected: Record<string, string> = (expected[key] = {});
            const rowActual: Record<string, string> = (actual[key] = {});
            // Expected refusals first, checked against one fingerprint taken before them: a
            // refused request changed nothing (a refused agent join is only audited).
            const cells = Object.entries(callers)
              .map(([name, caller]) => ({ name, caller, want: expectedCell(route, caller) }))
              .sort((a, b) => Number(a.want === 'allowed') - Number(b.want === 'allowed'));
            let before = await fingerprint(f.database);
            for (const { name, caller, want } of cells) {
              rowExpected[name] = head ? want.split(' ')[0]! : want;
              // POST /auth/logout and the like end the token they are called with.
              const user =
                caller === undefined
                  ? undefined
                  : route.url.includes('/auth/') || route.url.includes('/password')
                    ? await f.freshToken(caller)
                    : caller;
              const labCase = cases[key];
              const request =
                labCase === undefined
                  ? { url: fillPath(route.url, missingParams) }
                  : await labCase(f.labs.mine.name);
              if (labCase !== undefined) before = await fingerprint(f.database);
              const response = await f.request({
                method: route.method as 'POST',
                ...(hasBody(route) ? { payload: {} } : {}),
                ...request,
                ...(user === undefined ? {} : { as: user }),
              });
              const status = response.statusCode;
              const refused = status === 401 || status === 403;
              let cell = status >= 500 || refused ? `${status}` : 'allowed';
              if (!head && refused)
                cell += ` ${problem(response, status, undefined, `${name}: ${key}`).code}`;
              rowActual[name] = cell;
              if (!refused) continue;
              refusals++;
              const now = await fingerprint(f.database);
              if (route.url === '/api/v1/agent/join') now['audit_events'] = before['audit_events']!;
              assert.deepEqual(now, before, `${name}: ${key} → ${status} changed the database`);
            }
          }
          assert.deepEqual(actual, expected);
          assert.ok(Object.keys(actual).length > 40 && refusals > 150, `${refusals} refusals`);
        },
      );
      /** What the caller should get from the route asked as the matrix asks (path parameters
       * that name nothing, an empty body; a lab route with a valid request about lab-mine). */
      function expectedCell(route: RegisteredRoute, caller: ApiUser | undefined): string {
        const auth = route.config.auth;
        assert.ok(auth, `${describeRoute(route)} has a rule`);
        if (auth.access === 'public') return 'allowed';
        if (auth.access === 'agent') return '401 AGENT_CREDENTIAL_INVALID';
        if (caller === undefined) return '401 AUTH_REQUIRED';
        const minimum = auth.access === 'role' ? auth.role : 'operator';
        if (!roleAtLeast(caller.role, minimum)) return '403 FORBIDDEN';
        if (auth.access === 'lab' && caller === f.users.otherOperator) return '403 LAB_FORBIDDEN';
        // Past authorization, the console's WebSocket still wants a ticket and its page's
        // Origin (test/reliability/console-ws-refusals.test.ts covers those refusals).
        if (route.url.endsWith('/console/ws')) return CONSOLE_WS_WITHOUT_TICKET;
        return 'allowed';
      }

      itHolds(
        'inv7: an operator cannot move a terminal out of their lab, nor un-enrol it',
        async () => {
          const terminal = await terminalIn(f.labs.mine.name);
          for (const [lab, code] of [
            [f.labs.other.name, 'LAB_FORBIDDEN'],
            [null, 'FORBIDDEN'],
          ] as const) {
            const before = await snapshot(f.database);
            const response = await f.request({
              method: 'PATCH',
              url: `/api/v1/terminals/${terminal}`,
              payload: { lab },
              as: f.users.operator,
            });
            problem(response, 403, code, `move to ${lab}`);
            assert.deepEqual(await snapshot(f.database), before);
          }
          const moved = await f.request({
            method: 'PATCH',
            url: `/api/v1/terminals/${terminal}`,
            payload: { lab: f.labs.other.name },
            as: f.users.admin,
          });
          assert.equal(moved.statusCode, 200, moved.body);
          assert.equal(moved.json<{ lab: string }>().lab, f.labs.other.name);
        },
      );

      itHolds('inv7: operator lab grants are managed through the users API', async () => {
        const terminal = await terminalIn(f.labs.other.name);
        const tryRename = () =>
          f.request({
            method: 'PATCH',
            url: `/api/v1/terminals/${terminal}`,
            payload: { name: 'granted' },
            as: f.users.operator,
          });
        problem(await tryRename(), 403, 'LAB_FORBIDDEN');
        const grant = await f.request({
          method: 'PATCH',
          url: `/api/v1/users/${f.users.operator.username}`,
          payload: { labs: [f.labs.mine.name, f.labs.other.name] },
          as: f.users.admin,
        });
        assert.equal(grant.statusCode, 200, grant.body);
        assert.deepEqual(grant.json<{ labs: string[] }>().labs, ['lab-mine', 'lab-other']);
        assert.equal((await tryRename()).statusCode, 200);
        const revoke = await f.request({
          method: 'PATCH',
          url: `/api/v1/users/${f.users.operator.username}`,
          payload: { labs: [f.labs.mine.name] },
          as: f.users.admin,
        });
        assert.equal(revoke.statusCode, 200, revoke.body);
        problem(await tryRename(), 403, 'LAB_FORBIDDEN');
      });
    });

    itHolds('inv7: an unknown route is a 404 problem', async () => {
      problem(await f.request({ method: 'GET', url: '/api/v1/nothing' }), 404, 'ROUTE_NOT_FOUND');
    });
  });
}

describe('routes without a rule', () => {
  itHolds('inv7: an app with a route lacking an authorization rule refuses to start', async () => {
    const database = await dialects[0]!.create();
    try {
      const app = await buildApp({ db: database.db });
      app.get('/api/v1/forgotten', async () => ({ secret: true }));
      await app.register(
        async (child) => {
          child.post('/also-forgotten', async () => ({}));
        },
        { prefix: '/api/v1/nested' },
      );
      await assert.rejects(
        async () => void (await app.ready()),
        (error: Error) => {
          assert.match(error.message, /without an authorization rule/);
          assert.match(error.message, /GET \/api\/v1\/forgotten/);
          assert.match(error.message, /POST \/api\/v1\/nested\/also-forgotten/);
          return true;
        },
      );
      await app.close().catch(() => undefined);
    } finally {
      await database.drop();
    }
  });

  itHolds('inv7: the same app with a rule on the route starts', async () => {
    const database = await dialects[0]!.create();
    try {
      const app = await buildApp({ db: database.db });
      app.get('/api/v1/remembered', { config: { auth: { access: 'public' } } }, async () => ({}));
      await app.ready();
      assert.equal((await app.inject({ url: '/api/v1/remembered' })).statusCode, 200);
      await app.close();
    } finally {
      await database.drop();
    }
  });
});
