// The first schema. Portable column types only (see ../schema.ts); the one dialect
// difference is the auto-increment id of audit_events.
import { PostgresAdapter, sql, type ColumnDefinitionBuilder, type Kysely } from 'kysely';

const flag = (column: string) => (col: ColumnDefinitionBuilder) =>
  col.check(sql`${sql.ref(column)} in (0, 1)`);

const required = (col: ColumnDefinitionBuilder) => col.notNull();

export async function up(db: Kysely<unknown>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;

  await db.schema
    .createTable('hosts')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('name', 'text', (col) => col.notNull().unique())
    .addColumn('address', 'text', required)
    .addColumn('is_local', 'integer', (col) => flag('is_local')(col.notNull()))
    .addColumn('state', 'text', required)
    .addColumn('state_reason', 'text')
    .addColumn('cpus', 'integer')
    .addColumn('memory_mib', 'integer')
    .addColumn('monitoring_url', 'text')
    .addColumn('last_seen_at', 'text')
    .addColumn('created_at', 'text', required)
    .addColumn('updated_at', 'text', required)
    .execute();

  await db.schema
    .createTable('profiles')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('name', 'text', (col) => col.notNull().unique())
    .addColumn('description', 'text', (col) => col.notNull().defaultTo(''))
    .addColumn('memory_mib', 'integer', required)
    .addColumn('cpus', 'integer', required)
    .addColumn('nic_model', 'text', required)
    .addColumn('disk_bus', 'text', required)
    .addColumn('display', 'text', required)
    .addColumn('guest_port', 'integer')
    .addColumn('cdrom', 'text')
    .addColumn('admin_policy', 'text', required)
    .addColumn('published_version_id', 'text')
    .addColumn('created_at', 'text', required)
    .addColumn('updated_at', 'text', required)
    .execute();

  await db.schema
    .createTable('versions')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('profile_id', 'text', (col) =>
      col.notNull().references('profiles.id').onDelete('cascade'),
    )
    .addColumn('number', 'integer', required)
    .addColumn('parent_version_id', 'text')
    .addColumn('file', 'text', required)
    .addColumn('format', 'text', required)
    .addColumn('size_bytes', 'bigint', required)
    .addColumn('sha256', 'text', required)
    .addColumn('note', 'text', (col) => col.notNull().defaultTo(''))
    .addColumn('created_by', 'text')
    .addColumn('created_at', 'text', required)
    .addUniqueConstraint('versions_profile_number_key', ['profile_id', 'number'])
    .execute();

  await db.schema
    .createTable('labs')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('name', 'text', (col) => col.notNull().unique())
    .addColumn('description', 'text', (col) => col.notNull().defaultTo(''))
    .addColumn('timezone', 'text', (col) => col.notNull().defaultTo('UTC'))
    .addColumn('default_profile_id', 'text', (col) =>
      col.references('profiles.id').onDelete('set null'),
    )
    .addColumn('idle_minutes', 'integer')
    .addColumn('created_at', 'text', required)
    .addColumn('updated_at', 'text', required)
    .execute();

  await db.schema
    .createTable('lab_profiles')
    .addColumn('lab_id', 'text', (col) => col.notNull().references('labs.id').onDelete('cascade'))
    .addColumn('profile_id', 'text', (col) =>
      col.notNull().references('profiles.id').onDelete('cascade'),
    )
    .addPrimaryKeyConstraint('lab_profiles_pkey', ['lab_id', 'profile_id'])
    .execute();

  await db.schema
    .createTable('profile_hosts')
    .addColumn('profile_id', 'text', (col) =>
      col.notNull().references('profiles.id').onDelete('cascade'),
    )
    .addColumn('host_id', 'text', (col) => col.notNull().references('hosts.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('profile_hosts_pkey', ['profile_id', 'host_id'])
    .execute();

  await db.schema
    .createTable('terminals')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('mac', 'text', (col) => col.notNull().unique())
    .addColumn('name', 'text', required)
    .addColumn('lab_id', 'text', (col) => col.references('labs.id').onDelete('set null'))
    .addColumn('enabled', 'integer', (col) => flag('enabled')(col.notNull().defaultTo(1)))
    .addColumn('ip', 'text')
    .addColumn('last_seen_at', 'text')
    .addColumn('created_at', 'text', required)
    .addColumn('updated_at', 'text', required)
    .execute();

  await db.schema
    .createTable('vms')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('name', 'text', (col) => col.notNull().unique())
    .addColumn('kind', 'text', required)
    .addColumn('profile_id', 'text', (col) => col.references('profiles.id').onDelete('set null'))
    .addColumn('version_id', 'text')
    // Unique (several NULLs allowed on both dialects): a terminal is served by at most one VM.
    .addColumn('terminal_id', 'text', (col) =>
      col.unique().references('terminals.id').onDelete('set null'),
    )
    .addColumn('host_id', 'text', (col) => col.references('hosts.id').onDelete('set null'))
    .addColumn('state', 'text', required)
    // Unique: two VMs with one MAC on a bridge would break networking and DHCP.
    .addColumn('mac', 'text', (col) => col.notNull().unique())
    .addColumn('created_at', 'text', required)
    .addColumn('updated_at', 'text', required)
    .execute();

  await db.schema
    .createTable('admin_sessions')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('profile_id', 'text', (col) =>
      col.notNull().unique().references('profiles.id').onDelete('cascade'),
    )
    .addColumn('base_version_id', 'text', required)
    .addColumn('draft_file', 'text', required)
    .addColumn('vm_id', 'text')
    .addColumn('policy', 'text', required)
    .addColumn('opened_by', 'text')
    .addColumn('opened_at', 'text', required)
    .execute();

  await db.schema
    .createTable('users')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('username', 'text', (col) => col.notNull().unique())
    .addColumn('role', 'text', required)
    .addColumn('password_hash', 'text', required)
    .addColumn('language', 'text')
    .addColumn('disabled', 'integer', (col) => flag('disabled')(col.notNull().defaultTo(0)))
    .addColumn('created_at', 'text', required)
    .addColumn('updated_at', 'text', required)
    .execute();

  await db.schema
    .createTable('user_labs')
    .addColumn('user_id', 'text', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('lab_id', 'text', (col) => col.notNull().references('labs.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('user_labs_pkey', ['user_id', 'lab_id'])
    .execute();

  await db.schema
    .createTable('api_tokens')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('user_id', 'text', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'text', required)
    .addColumn('token_hash', 'text', (col) => col.notNull().unique())
    .addColumn('created_at', 'text', required)
    .addColumn('last_used_at', 'text')
    .addColumn('expires_at', 'text')
    .execute();

  await db.schema
    .createTable('web_sessions')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('user_id', 'text', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('token_hash', 'text', (col) => col.notNull().unique())
    .addColumn('csrf_token', 'text', required)
    .addColumn('ip', 'text')
    .addColumn('created_at', 'text', required)
    .addColumn('last_seen_at', 'text', required)
    .addColumn('expires_at', 'text', required)
    .execute();

  await db.schema
    .createTable('audit_events')
    // PostgreSQL serial is int4, so pg returns a number (bigserial would come back as text).
    .addColumn('id', postgres ? 'serial' : 'integer', (col) =>
      postgres ? col.primaryKey() : col.primaryKey().autoIncrement(),
    )
    .addColumn('at', 'text', required)
    .addColumn('actor_user_id', 'text')
    .addColumn('actor_name', 'text', required)
    .addColumn('source_ip', 'text')
    .addColumn('action', 'text', required)
    .addColumn('target_type', 'text')
    .addColumn('target_id', 'text')
    .addColumn('details', 'text', (col) => col.notNull().defaultTo('{}'))
    .execute();

  const indexes: Array<[name: string, table: string, column: string]> = [
    ['terminals_lab_id_idx', 'terminals', 'lab_id'],
    ['versions_profile_id_idx', 'versions', 'profile_id'],
    ['audit_events_at_idx', 'audit_events', 'at'],
    ['api_tokens_user_id_idx', 'api_tokens', 'user_id'],
    ['web_sessions_user_id_idx', 'web_sessions', 'user_id'],
    ['vms_profile_id_idx', 'vms', 'profile_id'],
    ['vms_host_id_idx', 'vms', 'host_id'],
  ];
  for (const [name, table, column] of indexes) {
    await db.schema.createIndex(name).on(table).column(column).execute();
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  // Children before parents (indexes go with their tables).
  for (const table of [
    'audit_events',
    'web_sessions',
    'api_tokens',
    'user_labs',
    'users',
    'admin_sessions',
    'vms',
    'terminals',
    'profile_hosts',
    'lab_profiles',
    'labs',
    'versions',
    'profiles',
    'hosts',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
