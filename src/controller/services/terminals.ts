// Terminals: the lab's thin clients, known by MAC. A terminal without a lab is pending
// enrolment (it asked for its configuration before an admin enrolled it).
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { LabvirtError } from '../../domain/errors.js';
import { normalizeAddress } from '../../domain/subnets.js';
import type { Database, Terminal } from '../../db/schema.js';
import { audit, type Actor } from './audit.js';
import { isUniqueViolation } from '../../db/errors.js';
import { findLab } from './labs.js';
import { syncTerminalAddress } from './lab-addresses.js';
import { onlyOne } from './only-one.js';
import { terminalVmMac } from '../../domain/terminal-mac.js';

export type TerminalState = 'pending' | 'enrolled' | 'disabled';

export interface TerminalView {
  readonly id: string;
  readonly mac: string;
  readonly name: string;
  readonly lab: string | null;
  readonly state: TerminalState;
  /** The address it is registered by (it may ask without a MAC from there). */
  readonly ip: string | null;
  /** The address it last asked from. */
  readonly lastIp: string | null;
  /** The address its VM is given by DHCP, from its lab's address pool. */
  readonly address: string | null;
  /** The MAC of its VM: the same every session. */
  readonly vmMac: string;
  readonly lastSeenAt: string | null;
  readonly createdAt: string;
}

export function normalizeMac(mac: string): string {
  return mac.toLowerCase().replaceAll('-', ':');
}

export async function findTerminal(db: Kysely<Database>, ref: string): Promise<Terminal> {
  const terminal = await db
    .selectFrom('terminals')
    .selectAll()
    .where((eb) => eb.or([eb('id', '=', ref), eb('mac', '=', normalizeMac(ref))]))
    .executeTakeFirst();
  if (terminal === undefined) throw new LabvirtError('TERMINAL_NOT_FOUND', { terminal: ref });
  return terminal;
}

function stateOf(terminal: Terminal): TerminalState {
  if (terminal.enabled === 0) return 'disabled';
  return terminal.lab_id === null ? 'pending' : 'enrolled';
}

async function view(db: Kysely<Database>, terminals: Terminal[]): Promise<TerminalView[]> {
  const labs = new Map(
    (await db.selectFrom('labs').select(['id', 'name']).execute()).map((lab) => [lab.id, lab.name]),
  );
  const ids = terminals.map((terminal) => terminal.id);
  const addresses = new Map(
    ids.length === 0
      ? []
      : (
          await db
            .selectFrom('terminal_addresses')
            .select(['terminal_id', 'ip'])
            .where('terminal_id', 'in', ids)
            .execute()
        ).map((row) => [row.terminal_id, row.ip]),
  );
  return terminals.map((terminal) => ({
    id: terminal.id,
    mac: terminal.mac,
    name: terminal.name,
    lab: terminal.lab_id === null ? null : (labs.get(terminal.lab_id) ?? null),
    state: stateOf(terminal),
    ip: terminal.ip,
    lastIp: terminal.last_ip,
    address: addresses.get(terminal.id) ?? null,
    vmMac: terminalVmMac(terminal.id),
    lastSeenAt: terminal.last_seen_at,
    createdAt: terminal.created_at,
  }));
}

export async function listTerminals(
  db: Kysely<Database>,
  filter: { lab?: string; state?: TerminalState },
): Promise<TerminalView[]> {
  let query = db.selectFrom('terminals').selectAll().orderBy('name').orderBy('mac');
  if (filter.lab !== undefined)
    query = query.where('lab_id', '=', (await findLab(db, filter.lab, 'query.lab')).id);
  const all = await view(db, await query.execute());
  return filter.state === undefined
    ? all
    : all.filter((terminal) => terminal.state === filter.state);
}

export async function showTerminal(db: Kysely<Database>, ref: string): Promise<TerminalView> {
  return onlyOne(await view(db, [await findTerminal(db, ref)]));
}

export async function addTerminal(
  db: Kysely<Database>,
  actor: Actor,
  input: { mac: string; lab: string; name?: string; ip?: string | null },
  now: Date,
): Promise<TerminalView> {
  const mac = normalizeMac(input.mac);
  const ip = input.ip === undefined || input.ip === null ? null : normalizeAddress(input.ip);
  const lab = await findLab(db, input.lab, 'lab');
  const id = randomUUID();
  try {
    await db.transaction().execute(async (tx) => {
      if (ip !== null) await assertIpFree(tx, ip, id);
      await tx
        .insertInto('terminals')
        .values({
          id,
          mac,
          name: input.name ?? mac,
          lab_id: lab.id,
          ip,
          last_seen_at: null,
          created_at: now.toISOString(),
          updated_at: now.toISOString(),
        })
        .execute();
      await syncTerminalAddress(tx, id, lab.id);
      await audit(
        tx,
        actor,
        {
          action: 'terminal.add',
          targetType: 'terminal',
          targetId: id,
          details: { mac, lab: lab.name, ...(ip !== null ? { ip } : {}) },
        },
        now,
      );
    });
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    // The MAC, or (added at the same moment by someone else) the registered address.
    if (ip !== null) await assertIpFree(db, ip, id);
    throw new LabvirtError('TERMINAL_EXISTS', { mac }, { field: 'mac' });
  }
  return showTerminal(db, id);
}

export interface TerminalChanges {
  readonly lab?: string | null;
  readonly name?: string;
  readonly enabled?: boolean;
  /** The registered address; null removes it. */
  readonly ip?: string | null;
}

/** TERMINAL_IP_TAKEN when another terminal is registered by this (normalised) address. */
async function assertIpFree(db: Kysely<Database>, ip: string, terminalId: string): Promise<void> {
  const other = await db
    .selectFrom('terminals')
    .select(['id', 'mac'])
    .where('ip', '=', ip)
    .where('id', '!=', terminalId)
    .executeTakeFirst();
  if (other !== undefined)
    throw new LabvirtError('TERMINAL_IP_TAKEN', { ip, terminal: other.mac }, { field: 'ip' });
}

export async function updateTerminal(
  db: Kysely<Database>,
  actor: Actor,
  ref: string,
  changes: TerminalChanges,
  now: Date,
): Promise<TerminalView> {
  const terminal = await findTerminal(db, ref);
  const labId =
    changes.lab === undefined
      ? undefined
      : changes.lab === null
        ? null
        : (await findLab(db, changes.lab, 'lab')).id;
  const ip =
    changes.ip === undefined || changes.ip === null ? changes.ip : normalizeAddress(changes.ip);
  await db
    .transaction()
    .execute(async (tx) => {
      if (typeof ip === 'string') await assertIpFree(tx, ip, terminal.id);
      await tx
        .updateTable('terminals')
        .set({
          ...(labId !== undefined ? { lab_id: labId } : {}),
          ...(ip !== undefined ? { ip } : {}),
          ...(changes.name !== undefined ? { name: changes.name } : {}),
          ...(changes.enabled !== undefined ? { enabled: changes.enabled ? 1 : 0 } : {}),
          updated_at: now.toISOString(),
        })
        .where('id', '=', terminal.id)
        .execute();
      // Into a lab with a pool: an address of it (POOL_EXHAUSTED undoes the move).
      if (labId !== undefined) await syncTerminalAddress(tx, terminal.id, labId);
      await audit(
        tx,
        actor,
        {
          action: 'terminal.update',
          targetType: 'terminal',
          targetId: terminal.id,
          details: { ...changes, ...(ip !== undefined ? { ip } : {}) },
        },
        now,
      );
    })
    .catch(async (error: unknown) => {
      // Another terminal took the address at the same moment (the unique index saw it).
      if (isUniqueViolation(error) && typeof ip === 'string')
        await assertIpFree(db, ip, terminal.id);
      throw error;
    });
  return showTerminal(db, terminal.id);
}

/**
 * Enrols a pending terminal (one without a lab) into a lab, optionally naming it;
 * TERMINAL_ENROLLED when it already has a lab (moving it is a change of lab, not this).
 */
export async function enrolTerminal(
  db: Kysely<Database>,
  actor: Actor,
  ref: string,
  input: { readonly lab: string; readonly name?: string },
  now: Date,
): Promise<TerminalView> {
  const terminal = await findTerminal(db, ref);
  const lab = await findLab(db, input.lab, 'lab');
  await db.transaction().execute(async (tx) => {
    // Only while still pending: a concurrent enrolment or move wins, this one is refused.
    const updated = await tx
      .updateTable('terminals')
      .set({
        lab_id: lab.id,
        ...(input.name !== undefined ? { name: input.name } : {}),
        updated_at: now.toISOString(),
      })
      .where('id', '=', terminal.id)
      .where('lab_id', 'is', null)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 0) {
      const current = await tx
        .selectFrom('terminals')
        .leftJoin('labs', 'labs.id', 'terminals.lab_id')
        .select('labs.name')
        .where('terminals.id', '=', terminal.id)
        .executeTakeFirst();
      if (current === undefined) throw new LabvirtError('TERMINAL_NOT_FOUND', { terminal: ref });
      throw new LabvirtError('TERMINAL_ENROLLED', {
        terminal: terminal.mac,
        lab: current.name ?? '-',
      });
    }
    await syncTerminalAddress(tx, terminal.id, lab.id);
    await audit(
      tx,
      actor,
      {
        action: 'terminal.enrol',
        targetType: 'terminal',
        targetId: terminal.id,
        details: { mac: terminal.mac, lab: lab.name, ...(input.name ? { name: input.name } : {}) },
      },
      now,
    );
  });
  return showTerminal(db, terminal.id);
}

export async function removeTerminal(
  db: Kysely<Database>,
  actor: Actor,
  ref: string,
  now: Date,
): Promise<void> {
  const terminal = await findTerminal(db, ref);
  await db.transaction().execute(async (tx) => {
    await tx.deleteFrom('terminals').where('id', '=', terminal.id).execute();
    await audit(
      tx,
      actor,
      {
        action: 'terminal.remove',
        targetType: 'terminal',
        targetId: terminal.id,
        details: { mac: terminal.mac },
      },
      now,
    );
  });
}

/** The lab a terminal belongs to, for lab-scoped authorization (undefined when pending/unknown). */
export async function labOfTerminal(
  db: Kysely<Database>,
  ref: string,
): Promise<string | undefined> {
  // Only "no such terminal" means "no lab"; a database failure must not pass for it.
  const terminal = await findTerminal(db, ref).catch((error: unknown) => {
    if (error instanceof LabvirtError && error.code === 'TERMINAL_NOT_FOUND') return undefined;
    throw error;
  });
  return terminal?.lab_id ?? undefined;
}
