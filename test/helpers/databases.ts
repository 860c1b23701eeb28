// The per-dialect test matrix (after kysely's own): every database test runs on SQLite and
// on PostgreSQL. PostgreSQL is not optional: without LABVIRT_TEST_DATABASE_URL its entry
// fails rather than skips, so a green run always means both dialects were tested.
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import {
  migrateToLatest,
  openDatabase,
  type DialectName,
  type LabvirtDb,
  type OpenDatabaseOptions,
} from '../../src/db/index.js';
import type {
  NewHost,
  NewLab,
  NewProfile,
  NewTerminal,
  NewUser,
  NewVm,
} from '../../src/db/index.js';
import { tempDir } from './env.js';

export interface TestDatabase extends LabvirtDb {
  /** Opens this same database again (another pool, another process). */
  readonly options: OpenDatabaseOptions;
  /** Closes the connection and deletes the database. */
  drop(): Promise<void>;
}

export interface DialectUnderTest {
  readonly name: DialectName;
  /** A fresh, empty database, migrated to latest unless migrate is false. */
  create(options?: { migrate?: boolean }): Promise<TestDatabase>;
}

async function prepare(
  database: LabvirtDb,
  options: OpenDatabaseOptions,
  remove: () => Promise<void>,
  migrate: boolean,
): Promise<TestDatabase> {
  const drop = async () => {
    await database.close();
    await remove();
  };
  if (migrate)
    await migrateToLatest(database.db).catch((error: unknown) =>
      drop().then(() => Promise.reject(error)),
    );
  return { ...database, options, drop };
}

const sqlite: DialectUnderTest = {
  name: 'sqlite',
  async create({ migrate = true } = {}) {
    const dir = await tempDir('lv-db-');
    const options = { dataDir: dir.path };
    return prepare(await openDatabase(options), options, dir.cleanup, migrate);
  },
};

function serverUrl(): string {
  const url = process.env['LABVIRT_TEST_DATABASE_URL'];
  if (!url) {
    throw new Error(
      'LABVIRT_TEST_DATABASE_URL is not set, so the PostgreSQL tests cannot run. ' +
        'Use `npm test`, or `export LABVIRT_TEST_DATABASE_URL=$(scripts/test-postgres.sh)`.',
    );
  }
  return url;
}

/** Runs one statement on the server's maintenance database (CREATE/DROP DATABASE). */
async function onServer(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl() });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

const postgres: DialectUnderTest = {
  name: 'postgres',
  async create({ migrate = true } = {}) {
    const name = `labvirt_test_${randomBytes(8).toString('hex')}`;
    await onServer(`create database ${name}`);
    const url = new URL(serverUrl());
    url.pathname = `/${name}`;
    const options = { url: url.toString() };
    // FORCE: a test that failed half-way may have left a connection open.
    const remove = () => onServer(`drop database if exists ${name} with (force)`);
    return prepare(await openDatabase(options), options, remove, migrate);
  },
};

export const dialects: readonly DialectUnderTest[] = [sqlite, postgres];

// Minimal valid rows with unique ids and names; pass overrides for what a test cares about.
const now = () => new Date().toISOString();
const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;
const randomMac = () =>
  [0x52, 0x54, ...randomBytes(4)].map((b) => b.toString(16).padStart(2, '0')).join(':');

export const rows = {
  host: (o: Partial<NewHost> = {}): NewHost => ({
    id: randomUUID(),
    name: unique('host'),
    address: 'local',
    is_local: 1,
    state: 'online',
    created_at: now(),
    updated_at: now(),
    ...o,
  }),
  profile: (o: Partial<NewProfile> = {}): NewProfile => ({
    id: randomUUID(),
    name: unique('profile'),
    memory_mib: 2048,
    cpus: 2,
    nic_model: 'virtio',
    disk_bus: 'virtio',
    display: 'spice',
    admin_policy: 'shared',
    created_at: now(),
    updated_at: now(),
    ...o,
  }),
  lab: (o: Partial<NewLab> = {}): NewLab => ({
    id: randomUUID(),
    name: unique('lab'),
    created_at: now(),
    updated_at: now(),
    ...o,
  }),
  terminal: (o: Partial<NewTerminal> = {}): NewTerminal => ({
    id: randomUUID(),
    mac: randomMac(),
    name: unique('terminal'),
    lab_id: null,
    created_at: now(),
    updated_at: now(),
    ...o,
  }),
  vm: (o: Partial<NewVm> = {}): NewVm => ({
    id: randomUUID(),
    name: unique('vm'),
    kind: 'client',
    state: 'stopped',
    mac: randomMac(),
    created_at: now(),
    updated_at: now(),
    ...o,
  }),
  user: (o: Partial<NewUser> = {}): NewUser => ({
    id: randomUUID(),
    username: unique('user'),
    role: 'operator',
    password_hash: 'x',
    created_at: now(),
    updated_at: now(),
    ...o,
  }),
};
