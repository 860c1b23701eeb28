// Labs and terminals at work (issue 5): a lab's weekly timetable, the subnets whose unknown
// terminals are enrolled at once, what a lab does outside its timetable, a terminal's
// registered address apart from the one it last asked from, and when a VM was last seen
// without a connected terminal (the idle policy).
import { sql, type ColumnDefinitionBuilder, type Kysely } from 'kysely';

const required = (col: ColumnDefinitionBuilder) => col.notNull();

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('lab_slots')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('lab_id', 'text', (col) => col.notNull().references('labs.id').onDelete('cascade'))
    // A bit per weekday: Monday 1, Tuesday 2 ... Sunday 64 (ISO order).
    .addColumn('days', 'integer', (col) => col.notNull().check(sql`days between 1 and 127`))
    // Minutes since midnight in the lab's time zone; the slot is [start, end).
    .addColumn('start_minute', 'integer', (col) =>
      col.notNull().check(sql`start_minute between 0 and 1439`),
    )
    .addColumn('end_minute', 'integer', (col) =>
      col.notNull().check(sql`end_minute between 1 and 1440 and end_minute > start_minute`),
    )
    .addColumn('profile_id', 'text', (col) =>
      col.notNull().references('profiles.id').onDelete('cascade'),
    )
    .execute();
  await db.schema.createIndex('lab_slots_lab_id_idx').on('lab_slots').column('lab_id').execute();

  await db.schema
    .createTable('lab_subnets')
    .addColumn('cidr', 'text', (col) => col.primaryKey())
    .addColumn('lab_id', 'text', (col) => col.notNull().references('labs.id').onDelete('cascade'))
    .addColumn('created_at', 'text', required)
    .execute();

  // 'default': the default profile outside the timetable's slots; 'closed': no VM then.
  await db.schema
    .alterTable('labs')
    .addColumn('outside_slots', 'text', (col) =>
      col
        .notNull()
        .defaultTo('default')
        .check(sql`outside_slots in ('default', 'closed')`),
    )
    .execute();

  // The address a terminal last asked from (terminals.ip is the one it is registered by).
  await db.schema.alterTable('terminals').addColumn('last_ip', 'text').execute();
  // Unique (NULLs apart, on both dialects): a terminal asking without a MAC is found by it.
  await db.schema.createIndex('terminals_ip_key').unique().on('terminals').column('ip').execute();

  // Since when a VM has had no connected terminal (null while one is connected).
  await db.schema.alterTable('vms').addColumn('idle_since', 'text').execute();
  await db.schema.createIndex('vms_state_idx').on('vms').column('state').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('vms_state_idx').execute();
  await db.schema.alterTable('vms').dropColumn('idle_since').execute();
  await db.schema.dropIndex('terminals_ip_key').execute();
  await db.schema.alterTable('terminals').dropColumn('last_ip').execute();
  await db.schema.alterTable('labs').dropColumn('outside_slots').execute();
  await db.schema.dropTable('lab_subnets').execute();
  await db.schema.dropTable('lab_slots').execute();
}
