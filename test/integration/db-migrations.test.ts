// Migrations on both dialects: from empty, idempotent, atomic, and safe to run from
// several processes at once (a CLI and a server starting together).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { Migrator, sql, type Kysely, type Migration } from 'kysely';
import {
  isUniqueViolation,
  migrateToLatest,
  migrations,
  type Database,
} from '../../src/db/index.js';
import { migrationProvider } from '../../src/db/migrations/index.js';
import { dialects, rows, type TestDatabase } from '../helpers/databases.js';

// Every column of every table, checked against schema.ts by the compiler (satisfies
// rejects missing and extra keys) and against the migrated database below.
const columns = {
  hosts: {
    id: 1,
    name: 1,
    address: 1,
    is_local: 1,
    state: 1,
    state_reason: 1,
    cpus: 1,
    memory_mib: 1,
    monitoring_url: 1,
    last_seen_at: 1,
    created_at: 1,
    updated_at: 1,
    agent_certificate: 1,
    agent_secret_hash: 1,
    controller_secret: 1,
    join_token_hash: 1,
    join_expires_at: 1,
    maintenance: 1,
    cpu_ratio: 1,
    shared_store: 1,
  },
  host_images: { host_id: 1, version_id: 1, created_at: 1 },
  profiles: {
    id: 1,
    name: 1,
    description: 1,
    memory_mib: 1,
    cpus: 1,
    nic_model: 1,
    disk_bus: 1,
    display: 1,
    guest_port: 1,
    cdrom: 1,
    data_disks: 1,
    admin_policy: 1,
    published_version_id: 1,
    created_at: 1,
    updated_at: 1,
  },
  versions: {
    id: 1,
    profile_id: 1,
    number: 1,
    parent_version_id: 1,
    file: 1,
    format: 1,
    size_bytes: 1,
    sha256: 1,
    note: 1,
    created_by: 1,
    created_at: 1,
  },
  labs: {
    id: 1,
    name: 1,
    description: 1,
    timezone: 1,
    default_profile_id: 1,
    idle_minutes: 1,
    outside_slots: 1,
    address_pool: 1,
    placement: 1,
    created_at: 1,
    updated_at: 1,
  },
  lab_profiles: { lab_id: 1, profile_id: 1 },
  lab_slots: { id: 1, lab_id: 1, days: 1, start_minute: 1, end_minute: 1, profile_id: 1 },
  lab_subnets: { cidr: 1, lab_id: 1, created_at: 1 },
  profile_hosts: { profile_id: 1, host_id: 1 },
  terminal_addresses: { terminal_id: 1, ip: 1 },
  terminals: {
    id: 1,
    mac: 1,
    name: 1,
    lab_id: 1,
    enabled: 1,
    ip: 1,
    last_ip: 1,
    last_seen_at: 1,
    created_at: 1,
    updated_at: 1,
  },
  vms: {
    id: 1,
    name: 1,
    kind: 1,
    profile_id: 1,
    version_id: 1,
    terminal_id: 1,
    host_id: 1,
    state: 1,
    mac: 1,
    idle_since: 1,
    created_at: 1,
    updated_at: 1,
  },
  admin_sessions: {
    id: 1,
    profile_id: 1,
    base_version_id: 1,
    draft_file: 1,
    vm_id: 1,
    policy: 1,
    opened_by: 1,
    opened_at: 1,
  },
  users: {
    id: 1,
    username: 1,
    role: 1,
    password_hash: 1,
    language: 1,
    disabled: 1,
    created_at: 1,
    updated_at: 1,
  },
  user_labs: { user_id: 1, lab_id: 1 },
  api_tokens: {
    id: 1,
    user_id: 1,
    name: 1,
    token_hash: 1,
    created_at: 1,
    last_used_at: 1,
    expires_at: 1,
  },
  web_sessions: {
    id: 1,
    user_id: 1,
    token_hash: 1,
    csrf_token: 1,
    ip: 1,
    created_at: 1,
    last_seen_at: 1,
    expires_at: 1,
  },
  audit_events: {
    id: 1,
    at: 1,
    actor_user_id: 1,
    actor_name: 1,
    source_ip: 1,
    action: 1,
    target_type: 1,
    target_id: 1,
    details: 1,
  },
} satisfies { [T in keyof Database]: Record<keyof Database[T], 1> };

async function schemaOf(database: TestDatabase): Promise<Record<string, string[]>> {
  const tables = await database.db.introspection.getTables();
  return Object.fromEntries(
    tables.map((table) => [table.name, table.columns.map((column) => column.name).sort()]),
  );
}

async function executedMigrations(db: Kysely<Database>): Promise<string[]> {
  const result = await sql<{
    name: string;
  }>`select name from kysely_migration order by name`.execute(db);
  return result.rows.map((row) => row.name);
}

const connectModule = fileURLToPath(new URL('../../src/db/index.js', import.meta.url));

// A child process that opens the database, waits for a shared start time (so the
// migrators really overlap), migrates and prints the report.
const childScript = `
const { openDatabase, migrateToLatest } = await import(process.argv[1]);
const database = await openDatabase(JSON.parse(process.argv[2]));
await new Promise((resolve) => setTimeout(resolve, Number(process.argv[3]) - Date.now()));
try {
  process.stdout.write(JSON.stringify(await migrateToLatest(database.db)));
} finally {
  await database.close();
}`;

function migrateInChild(database: TestDatabase, startAt: number): Promise<{ applied: string[] }> {
  const args = [
    '--input-type=module',
    '-e',
    childScript,
    '--',
    connectModule,
    JSON.stringify(database.options),
    String(startAt),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(JSON.parse(stdout) as { applied: string[] });
      else reject(new Error(`migrating child exited ${code}: ${stderr}`));
    });
  });
}

for (const dialect of dialects) {
  describe(`migrations on ${dialect.name}`, () => {
    it('apply every migration to an empty database, then have nothing left to do', async () => {
      const database = await dialect.create({ migrate: false });
      try {
        assert.deepEqual(await schemaOf(database), {});
        const first = await migrateToLatest(database.db);
        assert.deepEqual(first.applied, Object.keys(migrations).sort());
        const expected = Object.fromEntries(
          Object.entries(columns).map(([table, cols]) => [table, Object.keys(cols).sort()]),
        );
        assert.deepEqual(await schemaOf(database), expected);

        assert.deepEqual((await migrateToLatest(database.db)).applied, []);
        assert.deepEqual(await executedMigrations(database.db), Object.keys(migrations).sort());
      } finally {
        await database.drop();
      }
    });

    it('name the failing migration and roll back the whole batch', async () => {
      const database = await dialect.create({ migrate: false });
      const broken: Record<string, Migration> = {
        '0001-fine': {
          up: async (db: Kysely<unknown>) => {
            await db.schema.createTable('probe').addColumn('id', 'text').execute();
          },
        },
        '0002-broken': {
          up: async (db: Kysely<unknown>) => {
            await sql`select * from no_such_table`.execute(db);
          },
        },
      };
      try {
        await assert.rejects(migrateToLatest(database.db, broken), {
          message: /^database migration 0002-broken failed, nothing was applied: .*no_such_table/,
        });
        assert.deepEqual(await schemaOf(database), {});
        assert.deepEqual(await executedMigrations(database.db), []);
      } finally {
        await database.drop();
      }
    });

    it('apply the schema once when two processes migrate at the same moment', async () => {
      const database = await dialect.create({ migrate: false });
      try {
        // Far enough ahead for both children to have loaded and connected.
        const startAt = Date.now() + 1500;
        const reports = await Promise.all([
          migrateInChild(database, startAt),
          migrateInChild(database, startAt),
        ]);
        const applied = reports.map((report) => report.applied);
        const all = Object.keys(migrations).sort();
        // One child did all the work; the other found nothing pending.
        assert.deepEqual(
          applied.sort((a, b) => b.length - a.length),
          [all, []],
        );
        assert.deepEqual(await executedMigrations(database.db), all);
        assert.deepEqual(Object.keys(await schemaOf(database)).sort(), Object.keys(columns).sort());
      } finally {
        await database.drop();
      }
    });
  });
}

/** The migrations up to and including `last`. */
function upTo(last: string): Record<string, Migration> {
  return Object.fromEntries(Object.entries(migrations).filter(([name]) => name <= last));
}

for (const dialect of dialects) {
  describe(`migration 0004-networking on ${dialect.name}`, () => {
    it('keeps the rows, lets ended VMs share a MAC (active ones not), and goes back down', async () => {
      const database = await dialect.create({ migrate: false });
      const db = database.db;
      try {
        await migrateToLatest(db, upTo('0003-terminals'));
        const profile = rows.profile();
        const host = rows.host();
        const lab = rows.lab();
        const terminal = rows.terminal({ lab_id: lab.id });
        await db.insertInto('profiles').values(profile).execute();
        await db.insertInto('hosts').values(host).execute();
        await db.insertInto('labs').values(lab).execute();
        await db.insertInto('terminals').values(terminal).execute();
        const mac = '56:00:00:00:00:01';
        const ended = rows.vm({ mac, state: 'stopped', profile_id: profile.id, host_id: host.id });
        const active = rows.vm({
          mac: '52:54:00:00:00:02',
          state: 'running',
          profile_id: profile.id,
          host_id: host.id,
          terminal_id: terminal.id,
        });
        await db.insertInto('vms').values([ended, active]).execute();
        const before = await db.selectFrom('vms').selectAll().orderBy('id').execute();

        assert.deepEqual((await migrateToLatest(db, upTo('0004-networking'))).applied, [
          '0004-networking',
        ]);
        assert.deepEqual(await db.selectFrom('vms').selectAll().orderBy('id').execute(), before);
        const lab4 = await db.selectFrom('labs').select('address_pool').executeTakeFirstOrThrow();
        assert.equal(lab4.address_pool, null);

        // A terminal's VM keeps its MAC: an ended row with it does not stand in the way...
        await db
          .insertInto('vms')
          .values(rows.vm({ mac, state: 'failed' }))
          .execute();
        await db
          .insertInto('vms')
          .values(rows.vm({ mac, state: 'running' }))
          .execute();
        // ...an active one does.
        await assert.rejects(
          db
            .insertInto('vms')
            .values(rows.vm({ mac, state: 'starting' }))
            .execute(),
          (error: unknown) => isUniqueViolation(error),
        );
        // The other constraints of the rebuilt table hold as before.
        await assert.rejects(
          db
            .insertInto('vms')
            .values(rows.vm({ name: ended.name, mac: '52:54:00:00:00:09' }))
            .execute(),
          (error: unknown) => isUniqueViolation(error),
        );
        await assert.rejects(
          db
            .insertInto('vms')
            .values(rows.vm({ terminal_id: terminal.id, mac: '52:54:00:00:00:0a' }))
            .execute(),
          (error: unknown) => isUniqueViolation(error),
        );
        await assert.rejects(
          db
            .insertInto('vms')
            .values(rows.vm({ host_id: 'no-such-host' }))
            .execute(),
        );
        // Foreign keys still act: a removed terminal or profile lets its VMs go.
        await db.deleteFrom('terminals').where('id', '=', terminal.id).execute();
        await db.deleteFrom('profiles').where('id', '=', profile.id).execute();
        const kept = await db
          .selectFrom('vms')
          .select(['terminal_id', 'profile_id'])
          .where('id', '=', active.id)
          .executeTakeFirstOrThrow();
        assert.deepEqual(kept, { terminal_id: null, profile_id: null });
        // The addresses table: one terminal per address, gone with its terminal.
        const t1 = rows.terminal();
        const t2 = rows.terminal();
        await db.insertInto('terminals').values([t1, t2]).execute();
        await db
          .insertInto('terminal_addresses')
          .values({ terminal_id: t1.id, ip: '10.0.0.1' })
          .execute();
        await assert.rejects(
          db
            .insertInto('terminal_addresses')
            .values({ terminal_id: t2.id, ip: '10.0.0.1' })
            .execute(),
          (error: unknown) => isUniqueViolation(error),
        );
        await db.deleteFrom('terminals').where('id', '=', t1.id).execute();
        assert.deepEqual(await db.selectFrom('terminal_addresses').selectAll().execute(), []);

        // Down: only while no two rows share a MAC (the old rule could not hold them).
        await db.deleteFrom('vms').where('mac', '=', mac).where('id', '!=', ended.id).execute();
        const migrator = new Migrator({ db, provider: migrationProvider() });
        const down = await migrator.migrateTo('0003-terminals');
        assert.equal(down.error, undefined);
        assert.deepEqual(await executedMigrations(db), Object.keys(upTo('0003-terminals')));
        const schema = await schemaOf(database);
        assert.equal(schema['terminal_addresses'], undefined);
        assert.ok(!schema['labs']?.includes('address_pool'));
        assert.deepEqual(
          (await db.selectFrom('vms').select(['id', 'mac']).orderBy('id').execute()).map(
            (row) => `${row.id} ${row.mac}`,
          ),
          before.map((row) => `${row.id} ${row.mac}`).sort(),
        );
        // The MAC is unique among every row again.
        await assert.rejects(
          db
            .insertInto('vms')
            .values(rows.vm({ mac, state: 'stopped' }))
            .execute(),
          (error: unknown) => isUniqueViolation(error),
        );
        assert.deepEqual((await migrateToLatest(db, upTo('0004-networking'))).applied, [
          '0004-networking',
        ]);
      } finally {
        await database.drop();
      }
    });
  });
}
