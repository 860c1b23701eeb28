// Profiles' extra data disks: a JSON list of disks ({ "sizeMiB": N }), empty by default.
// A column rather than a table: they are part of the VM definition, read and written with it.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('profiles')
    .addColumn('data_disks', 'text', (col) => col.notNull().defaultTo('[]'))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('profiles').dropColumn('data_disks').execute();
}
