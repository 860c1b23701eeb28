// An API under test: the controller app (buildApp, driven with inject) on a fresh test
// database of one dialect, with a user of each role and an API token for each, two labs
// (the operator is granted only the first) and a snapshot of every table for "nothing
// changed" checks. Users are created once per suite: scrypt is slow on purpose.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { buildApp, type ControllerDeps } from '../../src/controller/app.js';
import type { Actor } from '../../src/controller/services/audit.js';
import { createLab, type LabView } from '../../src/controller/services/labs.js';
import { createToken } from '../../src/controller/services/credentials.js';
import { createUser, findUser } from '../../src/controller/services/users.js';
import type { Role } from '../../src/controller/auth/rules.js';
import type { DialectUnderTest, TestDatabase } from './databases.js';

export const PASSWORD = 'correct horse battery staple';

export interface ApiUser {
  readonly id: string;
  readonly username: string;
  readonly role: Role;
  readonly password: string;
  /** An API token of this user. */
  readonly token: string;
}

export interface ApiFixture {
  readonly database: TestDatabase;
  readonly app: FastifyInstance;
  readonly users: {
    readonly admin: ApiUser;
    /** Granted labs.mine only. */
    readonly operator: ApiUser;
    /** Granted labs.other only. */
    readonly otherOperator: ApiUser;
    readonly viewer: ApiUser;
  };
  readonly labs: { readonly mine: LabView; readonly other: LabView };
  /** inject(), as a user (Bearer token) when `as` is given; JSON bodies by default. */
  request(options: InjectOptions & { as?: ApiUser }): Promise<LightMyRequestResponse>;
  /** Another API token of the user (for requests that may end the one they use). */
  freshToken(user: ApiUser): Promise<ApiUser>;
  close(): Promise<void>;
}

const setup: Actor = { principal: undefined, source: 'test' };

export async function createApiFixture(
  dialect: DialectUnderTest,
  deps: Partial<ControllerDeps> = {},
): Promise<ApiFixture> {
  const database = await dialect.create();
  const db = database.db;
  const now = new Date();
  const mine = await createLab(db, setup, { name: 'lab-mine' }, now);
  const other = await createLab(db, setup, { name: 'lab-other' }, now);
  const user = async (username: string, role: Role, labs: string[] = []): Promise<ApiUser> => {
    const created = await createUser(db, setup, { username, role, password: PASSWORD, labs }, now);
    const { token } = await createToken(db, setup, await findUser(db, created.id), 'test', now);
    return { id: created.id, username, role, password: PASSWORD, token };
  };
  const [admin, operator, otherOperator, viewer] = await Promise.all([
    user('admin', 'admin'),
    user('operator', 'operator', [mine.name]),
    user('other-operator', 'operator', [other.name]),
    user('viewer', 'viewer'),
  ]);
  const app = await buildApp({ db, ...deps });
  await app.ready();
  return {
    database,
    app,
    users: { admin, operator, otherOperator, viewer },
    labs: { mine, other },
    request: ({ as, headers, ...options }) =>
      app.inject({
        ...options,
        headers: {
          ...(as === undefined ? {} : { authorization: `Bearer ${as.token}` }),
          ...headers,
        },
      }),
    freshToken: async (user) => {
      const { token } = await createToken(db, setup, await findUser(db, user.id), 'extra', now);
      return { ...user, token };
    },
    close: async () => {
      await app.close();
      await database.drop();
    },
  };
}

/** Every row of every table, for "nothing changed" checks. */
export type Snapshot = Readonly<Record<string, readonly string[]>>;

// Columns that only record that a credential was used (written at most once a minute by
// the auth layer); reading with a token is not a change the caller made.
const touchColumns = new Set(['api_tokens.last_used_at', 'web_sessions.last_seen_at']);

interface TableInfo {
  readonly name: string;
  /** Its columns, less the touch columns. */
  readonly columns: readonly string[];
}

// The table list, read once per database (introspection is slow next to the snapshot).
const tableLists = new WeakMap<TestDatabase, Promise<TableInfo[]>>();

function tableInfo(database: TestDatabase): Promise<TableInfo[]> {
  let tables = tableLists.get(database);
  if (tables === undefined) {
    tables = database.db.introspection.getTables().then((all) => {
      const found = all
        .filter((table) => !table.name.startsWith('kysely_'))
        .map((table) => ({
          name: table.name,
          columns: table.columns
            .map((column) => column.name)
            .filter((column) => !touchColumns.has(`${table.name}.${column}`)),
        }))
        .sort((a, b) => a.name.localeCompare(b.name));
      const names = found.map((table) => table.name);
      assert.ok(names.includes('labs') && names.includes('audit_events'), 'tables found');
      return found;
    });
    tableLists.set(database, tables);
  }
  return tables;
}

/**
 * A digest of every table's rows (touch columns left out), computed in the database: the
 * same information as snapshot() for a fraction of the cost, for checks run thousands of
 * times. Returns one digest per table, so a difference names the table.
 */
export async function fingerprint(database: TestDatabase): Promise<Record<string, string>> {
  const tables = await tableInfo(database);
  const row = (table: TableInfo) =>
    database.dialect === 'postgres'
      ? sql.join(
          table.columns.map((column) => sql`coalesce(${sql.ref(column)}::text, '\N')`),
          sql` || ',' || `,
        )
      : sql.join(
          table.columns.map((column) => sql`quote(${sql.ref(column)})`),
          sql` || ',' || `,
        );
  const aggregate = (table: TableInfo) =>
    database.dialect === 'postgres'
      ? sql`(select md5(coalesce(string_agg(r, '|' order by r), '')) from (select ${row(table)} as r from ${sql.table(table.name)}) t)`
      : sql`(select coalesce(group_concat(r, '|'), '') from (select ${row(table)} as r from ${sql.table(table.name)} order by r))`;
  const query = sql<Record<string, string>>`select ${sql.join(
    tables.map((table) => sql`${aggregate(table)} as ${sql.ref(table.name)}`),
  )}`;
  const result = (await query.execute(database.db)).rows[0];
  assert.ok(result);
  return Object.fromEntries(
    tables.map((table) => [
      table.name,
      createHash('sha256').update(String(result[table.name])).digest('hex'),
    ]),
  );
}

export async function snapshot(database: TestDatabase): Promise<Snapshot> {
  const tables = (await tableInfo(database)).map((table) => table.name);
  const contents = await Promise.all(
    tables.map(async (table) => {
      // A dynamic table name: the typed builder cannot know it, so through the untyped door.
      const rows = (await database.db
        .selectFrom(table as 'labs')
        .selectAll()
        .execute()) as unknown as Record<string, unknown>[];
      const keep = ([column]: [string, unknown]) => !touchColumns.has(`${table}.${column}`);
      return rows.map((row) => JSON.stringify(Object.entries(row).filter(keep))).sort();
    }),
  );
  return Object.fromEntries(tables.map((table, index) => [table, contents[index]!]));
}

export interface ProblemBody {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: string;
  readonly field?: string;
  readonly instance: string;
}

/** Asserts an application/problem+json answer with this status (and code), and returns it. */
export function problem(
  response: LightMyRequestResponse,
  status: number,
  code?: string,
  context = '',
): ProblemBody {
  const where = `${context} → ${response.statusCode} ${response.body.slice(0, 300)}`;
  assert.equal(response.statusCode, status, where);
  assert.match(String(response.headers['content-type']), /^application\/problem\+json/, where);
  const body = response.json<ProblemBody>();
  assert.equal(body.status, status, where);
  assert.match(body.code, /^[A-Z][A-Z0-9_]*$/, where);
  assert.equal(typeof body.title, 'string');
  assert.equal(typeof body.detail, 'string');
  if (code !== undefined) assert.equal(body.code, code, where);
  return body;
}

/** Fills a route's path parameters (":lab", "*") from values by name. */
export function fillPath(url: string, values: Readonly<Record<string, string>>): string {
  return url.replace(/:(\w+)|\*/g, (whole, name: string | undefined) => {
    const value = values[name ?? '*'];
    if (value === undefined) throw new Error(`no value for ${whole} in ${url}`);
    return encodeURIComponent(value);
  });
}

export interface Session {
  readonly cookie: string;
  readonly csrfToken: string;
  readonly setCookie: string;
}

/** Logs in through the API; returns the session cookie and the CSRF token. */
export async function login(fixture: ApiFixture, user: ApiUser): Promise<Session> {
  const response = await fixture.request({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { username: user.username, password: user.password },
  });
  assert.equal(response.statusCode, 200, response.body);
  const setCookie = String(response.headers['set-cookie']);
  const match = /labvirt_session=([^;]+)/.exec(setCookie);
  assert.ok(match?.[1], `a session cookie in ${setCookie}`);
  return {
    cookie: `labvirt_session=${match[1]}`,
    csrfToken: response.json<{ csrfToken: string }>().csrfToken,
    setCookie,
  };
}
