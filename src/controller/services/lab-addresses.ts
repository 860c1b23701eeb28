// The addresses of a lab's terminals' VMs: the lab's pool (an IPv4 range, apart from every
// other lab's) and one address of it per terminal of the lab, given in the transaction that
// sets the pool or brings the terminal into the lab, taken back when it leaves. The MAC
// they go with is the terminal's stable VM MAC (src/domain/terminal-mac.ts).
import { PostgresAdapter, sql, type Kysely, type Transaction } from 'kysely';
import {
  lowestFree,
  parsePool,
  poolContains,
  poolsOverlap,
  type AddressPool,
} from '../../domain/address-pool.js';
import { LabvirtError } from '../../domain/errors.js';
import type { Database, Lab } from '../../db/schema.js';
import { audit, type Actor } from './audit.js';
import { findLab, lockLab, showLab, type LabView } from './labs.js';

/** PostgreSQL: one pool change at a time across labs, so two cannot overlap unseen. */
const POOLS_LOCK = 0x6c76_706c; // 'lvpl'

async function allAddresses(tx: Kysely<Database>): Promise<string[]> {
  return (await tx.selectFrom('terminal_addresses').select('ip').execute()).map((row) => row.ip);
}

async function terminalCount(tx: Kysely<Database>, labId: string): Promise<number> {
  const { count } = await tx
    .selectFrom('terminals')
    .select((eb) => eb.fn.countAll<number | string>().as('count'))
    .where('lab_id', '=', labId)
    .executeTakeFirstOrThrow();
  return Number(count);
}

/** `field`: the input at fault (the new pool; or the lab a terminal is brought into). */
function exhausted(lab: Lab, pool: AddressPool, terminals: number, field: string): LabvirtError {
  return new LabvirtError(
    'POOL_EXHAUSTED',
    { pool: pool.text, lab: lab.name, size: pool.size, terminals },
    { field },
  );
}

/**
 * Gives the terminal an address of its lab's pool, keeping the one it has when that is in
 * the pool; takes it back when the terminal has no lab or the lab no pool. Runs in the
 * transaction that put the terminal row in its lab (it counts it); POOL_EXHAUSTED when the
 * pool is full, so that transaction, and the change, is undone.
 */
export async function syncTerminalAddress(
  tx: Transaction<Database>,
  terminalId: string,
  labId: string | null,
): Promise<void> {
  const lab = labId === null ? undefined : await lockLab(tx, labId);
  const current = await tx
    .selectFrom('terminal_addresses')
    .select('ip')
    .where('terminal_id', '=', terminalId)
    .executeTakeFirst();
  const pool = lab?.address_pool == null ? undefined : parsePool(lab.address_pool);
  if (current !== undefined && pool !== undefined && poolContains(pool, current.ip)) return;
  if (current !== undefined)
    await tx.deleteFrom('terminal_addresses').where('terminal_id', '=', terminalId).execute();
  if (lab === undefined || pool === undefined) return;
  const [ip] = lowestFree(pool, await allAddresses(tx), 1) ?? [];
  if (ip === undefined) throw exhausted(lab, pool, await terminalCount(tx, lab.id), 'lab');
  await tx.insertInto('terminal_addresses').values({ terminal_id: terminalId, ip }).execute();
}

/**
 * Sets (or with null, removes) the lab's pool and gives every terminal of the lab an
 * address of it, keeping those it has inside the new pool, all in one transaction:
 * POOL_OVERLAP or POOL_EXHAUSTED change nothing.
 */
export async function setAddressPool(
  db: Kysely<Database>,
  actor: Actor,
  ref: string,
  input: { readonly pool: string | null },
  now: Date,
): Promise<LabView> {
  const found = await findLab(db, ref);
  const pool = input.pool === null ? null : parsePool(input.pool, 'pool');
  let given = 0;
  await db.transaction().execute(async (tx) => {
    if (tx.getExecutor().adapter instanceof PostgresAdapter)
      await sql`select pg_advisory_xact_lock(${POOLS_LOCK})`.execute(tx);
    const lab = await lockLab(tx, found.id);
    if (pool !== null) await assertNoOverlap(tx, lab, pool);
    const terminals = await tx
      .selectFrom('terminals')
      .select('id')
      .where('lab_id', '=', lab.id)
      .orderBy('name')
      .orderBy('mac')
      .execute();
    const ids = terminals.map((terminal) => terminal.id);
    const current = new Map(
      ids.length === 0
        ? []
        : (
            await tx
              .selectFrom('terminal_addresses')
              .select(['terminal_id', 'ip'])
              .where('terminal_id', 'in', ids)
              .execute()
          ).map((row) => [row.terminal_id, row.ip]),
    );
    const outside = [...current].filter(([, ip]) => pool === null || !poolContains(pool, ip));
    if (outside.length > 0)
      await tx
        .deleteFrom('terminal_addresses')
        .where(
          'terminal_id',
          'in',
          outside.map(([id]) => id),
        )
        .execute();
    if (pool !== null) {
      const needing = ids.filter((id) => {
        const ip = current.get(id);
        return ip === undefined || !poolContains(pool, ip);
      });
      const free = lowestFree(pool, await allAddresses(tx), needing.length);
      if (free === undefined) throw exhausted(lab, pool, ids.length, 'pool');
      if (needing.length > 0)
        await tx
          .insertInto('terminal_addresses')
          .values(needing.map((id, index) => ({ terminal_id: id, ip: free[index] ?? '' })))
          .execute();
      given = needing.length;
    }
    await tx
      .updateTable('labs')
      .set({ address_pool: pool?.text ?? null, updated_at: now.toISOString() })
      .where('id', '=', lab.id)
      .execute();
    await audit(
      tx,
      actor,
      {
        action: 'lab.address-pool',
        targetType: 'lab',
        targetId: lab.id,
        details: { pool: pool?.text ?? null, given, taken: outside.length },
      },
      now,
    );
  });
  return showLab(db, found.id);
}

async function assertNoOverlap(tx: Kysely<Database>, lab: Lab, pool: AddressPool): Promise<void> {
  const others = await tx
    .selectFrom('labs')
    .select(['name', 'address_pool'])
    .where('id', '!=', lab.id)
    .where('address_pool', 'is not', null)
    .orderBy('name')
    .execute();
  for (const other of others) {
    if (other.address_pool === null) continue;
    if (poolsOverlap(parsePool(other.address_pool), pool))
      throw new LabvirtError(
        'POOL_OVERLAP',
        { pool: pool.text, other: other.address_pool, lab: other.name },
        { field: 'pool' },
      );
  }
}
