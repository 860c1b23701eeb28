// The audit log: every change records who, what, when and from where. Written in the
// same transaction as the change, so there is no change without its record.
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { Principal } from '../auth/rules.js';

export interface Actor {
  readonly principal: Principal | undefined;
  /** Where the request came from (the client address, or 'cli' for direct database use). */
  readonly source: string | null;
}

export interface AuditEntry {
  readonly action: string;
  readonly targetType?: string;
  readonly targetId?: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

export async function audit(
  db: Kysely<Database>,
  actor: Actor,
  entry: AuditEntry,
  now = new Date(),
): Promise<void> {
  await db
    .insertInto('audit_events')
    .values({
      at: now.toISOString(),
      actor_user_id: actor.principal?.userId ?? null,
      actor_name: actor.principal?.username ?? 'system',
      source_ip: actor.source,
      action: entry.action,
      target_type: entry.targetType ?? null,
      target_id: entry.targetId ?? null,
      details: JSON.stringify(entry.details ?? {}),
    })
    .execute();
}
