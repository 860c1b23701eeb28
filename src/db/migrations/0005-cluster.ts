// A cluster of hosts (issue 8): hosts enrol with a one-time join token and then have
// credentials of their own; they can be drained (maintenance) and share out their vCPUs
// by an overcommit ratio; the controller records which image versions each host holds
// (placement prefers those); a lab places its VMs spread over hosts or packed onto few.
import { PostgresAdapter, sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  const float = postgres ? sql`double precision` : sql`real`;
  // One column per statement: SQLite's ALTER TABLE adds one at a time.
  const text = [
    // The agent's TLS certificate (PEM), pinned: the controllers trust it and nothing else.
    'agent_certificate',
    // sha256 of the secret the agent calls the controller with (image downloads).
    'agent_secret_hash',
    // The secret the controllers call the agent with (the agent keeps only its hash).
    'controller_secret',
    // sha256 of the one-time join token of a pending host, and when it expires.
    'join_token_hash',
    'join_expires_at',
  ];
  for (const column of text) {
    await db.schema.alterTable('hosts').addColumn(column, 'text').execute();
  }
  await db.schema
    .alterTable('hosts')
    .addColumn('maintenance', 'integer', (col) => col.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable('hosts')
    .addColumn('cpu_ratio', float, (col) => col.notNull().defaultTo(4))
    .execute();
  await db.schema
    .alterTable('hosts')
    .addColumn('shared_store', 'integer', (col) => col.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createIndex('hosts_join_token_hash_key')
    .unique()
    .on('hosts')
    .column('join_token_hash')
    .execute();
  await db.schema
    .createIndex('hosts_agent_secret_hash_key')
    .unique()
    .on('hosts')
    .column('agent_secret_hash')
    .execute();

  await db.schema
    .createTable('host_images')
    .addColumn('host_id', 'text', (col) => col.notNull().references('hosts.id').onDelete('cascade'))
    .addColumn('version_id', 'text', (col) =>
      col.notNull().references('versions.id').onDelete('cascade'),
    )
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('host_images_pkey', ['host_id', 'version_id'])
    .execute();

  await db.schema
    .alterTable('labs')
    .addColumn('placement', 'text', (col) => col.notNull().defaultTo('spread'))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('labs').dropColumn('placement').execute();
  await db.schema.dropTable('host_images').execute();
  await db.schema.dropIndex('hosts_agent_secret_hash_key').execute();
  await db.schema.dropIndex('hosts_join_token_hash_key').execute();
  for (const column of [
    'shared_store',
    'cpu_ratio',
    'maintenance',
    'join_expires_at',
    'join_token_hash',
    'controller_secret',
    'agent_secret_hash',
    'agent_certificate',
  ]) {
    await db.schema.alterTable('hosts').dropColumn(column).execute();
  }
}
