// Networking (issue 6): a lab's address pool (an IPv4 range "FIRST-LAST"), the address each
// terminal of such a lab is given (its VM's DHCP address), and VM MACs unique only among
// active VMs, so a terminal's VM keeps one MAC, and so its address, from session to session
// (ended rows stay as a record, with the MAC they had).
import { PostgresAdapter, sql, type Kysely } from 'kysely';

/** A VM that has not ended (ended: stopped, crashed, failed; src/domain/vm-lifecycle.ts). */
const ACTIVE = sql<boolean>`state not in ('stopped', 'crashed', 'failed')`;

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('labs').addColumn('address_pool', 'text').execute();

  await db.schema
    .createTable('terminal_addresses')
    .addColumn('terminal_id', 'text', (col) =>
      col.primaryKey().references('terminals.id').onDelete('cascade'),
    )
    .addColumn('ip', 'text', (col) => col.notNull().unique())
    .execute();

  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    await sql`alter table vms drop constraint vms_mac_key`.execute(db);
  } else {
    await rebuildSqliteVms(db, { macUnique: false });
  }
  await db.schema
    .createIndex('vms_active_mac_key')
    .unique()
    .on('vms')
    .column('mac')
    .where(ACTIVE)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  // Fails (and so changes nothing) when ended rows share a MAC: the old rule cannot hold them.
  await db.schema.dropIndex('vms_active_mac_key').execute();
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    await sql`alter table vms add constraint vms_mac_key unique (mac)`.execute(db);
  } else {
    await rebuildSqliteVms(db, { macUnique: true });
  }
  await db.schema.dropTable('terminal_addresses').execute();
  await db.schema.alterTable('labs').dropColumn('address_pool').execute();
}

/**
 * SQLite cannot drop a column's UNIQUE: the table is made again (the documented 12-step
 * way, https://sqlite.org/lang_altertable.html#otheralter), with the columns and
 * constraints of 0001 and 0003. Nothing references vms, so its rows move as they are;
 * the foreign keys it holds are checked afterwards (the migration's transaction keeps
 * them on, so the check is explicit).
 */
async function rebuildSqliteVms(
  db: Kysely<unknown>,
  options: { readonly macUnique: boolean },
): Promise<void> {
  await sql`create table vms_new (
    id text primary key,
    name text not null unique,
    kind text not null,
    profile_id text references profiles (id) on delete set null,
    version_id text,
    terminal_id text unique references terminals (id) on delete set null,
    host_id text references hosts (id) on delete set null,
    state text not null,
    mac text not null${sql.raw(options.macUnique ? ' unique' : '')},
    created_at text not null,
    updated_at text not null,
    idle_since text
  )`.execute(db);
  await sql`insert into vms_new (id, name, kind, profile_id, version_id, terminal_id, host_id,
    state, mac, created_at, updated_at, idle_since)
    select id, name, kind, profile_id, version_id, terminal_id, host_id,
    state, mac, created_at, updated_at, idle_since from vms`.execute(db);
  await sql`drop table vms`.execute(db);
  await sql`alter table vms_new rename to vms`.execute(db);
  for (const [name, column] of [
    ['vms_profile_id_idx', 'profile_id'],
    ['vms_host_id_idx', 'host_id'],
    ['vms_state_idx', 'state'],
  ] as const) {
    await db.schema.createIndex(name).on('vms').column(column).execute();
  }
  const broken = await sql`pragma foreign_key_check(vms)`.execute(db);
  if (broken.rows.length > 0) throw new Error('vms rows reference missing rows after the rebuild');
}
